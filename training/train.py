"""`python -m training.train --model tiny --run-name NAME --data data`: trains a LLaMA flavor.

Resumes by itself from the newest checkpoint in runs/<run>/checkpoints/. One log line a step
(loss, lr, gradient norm, tokens/s, MFU, progress and ETA), `runs/<run>/metrics.jsonl`,
TensorBoard events in `runs/<run>/tb/`, per-source validation loss every --eval-every steps,
and `runs/<run>/hf/` (transformers-loadable) at the end. Multi-GPU (or multi-process CPU) via
`torchrun --nproc-per-node N -m training.train ...`: FSDP2, the same global batch.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist

from pipeline import config as flags
from training import checkpoint, runtime
from training.config import FLAVORS, TrainConfig
from training.data import TokenStream, validation_streams
from training.model import CHECKPOINT_MODES
from training.optim import build_optimizer, learning_rate, set_lr, warmup_steps

# `--demo`: sized so that `make demo` trains `tiny` in about a minute on two CPU cores.
DEMO = {"steps": 120, "eval_every": 40, "ckpt_every": 40, "eval_batches": 2}


def parse(argv: list[str] | None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    flags.add_arguments(parser, TrainConfig)
    cfg = flags.from_args(TrainConfig, parser.parse_args(argv))
    if cfg.model not in FLAVORS:
        parser.error(f"--model must be one of {', '.join(FLAVORS)}, not {cfg.model!r}")
    if cfg.activation_checkpoint not in CHECKPOINT_MODES:
        parser.error(f"--activation-checkpoint must be one of {', '.join(CHECKPOINT_MODES)}, "
                     f"not {cfg.activation_checkpoint!r}")
    if cfg.loss_chunks < 0:
        parser.error(f"--loss-chunks must be 0 (off) or a positive chunk count, not {cfg.loss_chunks}")
    if cfg.demo:
        demo = dict(DEMO, steps=cfg.steps or DEMO["steps"])  # an explicit --steps still wins
        cfg = dataclasses.replace(cfg, **demo)
    if cfg.eval_tasks:
        from training.evaluation.during import check_config

        problem = check_config(cfg.eval_tasks, runtime.tokenizer_path(cfg))
        if problem:
            parser.error(problem)
    return cfg


class Log:
    """metrics.jsonl + TensorBoard + the console, on the main process only."""

    def __init__(self, run_dir: str, start_step: int, cfg: TrainConfig, main: bool):
        self.main, self.path, self.tb = main, os.path.join(run_dir, "metrics.jsonl"), None
        if not main:
            return
        os.makedirs(run_dir, exist_ok=True)
        _truncate_metrics(self.path, start_step)  # steps after the checkpoint are redone
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(os.path.join(run_dir, "tb"), purge_step=start_step + 1)

    def record(self, row: dict, line: str | None = None) -> None:
        if not self.main:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for key, value in row.items():
                if isinstance(value, dict):
                    for sub, v in value.items():
                        self.tb.add_scalar(f"{key}/{sub}", v, row["step"])
                elif key != "step":
                    self.tb.add_scalar(key, value, row["step"])
        if line:
            print(line, flush=True)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _truncate_metrics(path: str, step: int) -> None:
    if not os.path.exists(path):
        return
    kept = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (ValueError, KeyError):  # a line cut short by a kill: that step is redone anyway
                continue
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(kept)
    os.replace(tmp, path)


def _mean_across(values: torch.Tensor, env: runtime.Dist) -> torch.Tensor:
    if env.world > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= env.world
    return values


def train_step(model, optimizer, stream: TokenStream, position: int, b: runtime.Batching,
               env: runtime.Dist, cfg: TrainConfig, autocast) -> tuple[float, float]:
    """One optimiser step over windows position .. position + global_seqs - 1."""
    total = torch.zeros((), device=env.device)
    for i in range(b.accum):
        first = position + i * b.micro * env.world + env.rank * b.micro
        inputs, targets = (t.to(env.device, non_blocking=True) for t in stream.batch(first, b.micro))
        if env.world > 1:  # reduce-scatter the gradients on the last micro-batch only
            model.set_requires_gradient_sync(i == b.accum - 1)
        with autocast():
            loss = model(inputs, targets) / b.accum
        loss.backward()
        total += loss.detach()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
    if hasattr(norm, "full_tensor"):
        norm = norm.full_tensor()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(_mean_across(total, env)), float(norm)


@torch.no_grad()
def evaluate(model, streams: dict[str, TokenStream], b: runtime.Batching, env: runtime.Dist,
             cfg: TrainConfig, autocast) -> dict[str, float]:
    """Mean loss per validation source over its first --eval-batches x batch windows (the same
    windows every time, and at any process count: each pass covers micro x processes of them)."""
    model.eval()
    out, chunk = {}, b.micro * env.world
    for name, stream in streams.items():
        passes = max(1, min(cfg.eval_batches * b.global_seqs, len(stream)) // chunk)
        total = torch.zeros((), device=env.device)
        for i in range(passes):
            inputs, targets = (t.to(env.device) for t in stream.batch(i * chunk + env.rank * b.micro, b.micro))
            with autocast():
                total += model(inputs, targets).float()
        out[name] = float(_mean_across(total / passes, env))
    model.train()
    return out


def _fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _line(step: int, steps: int, loss: float, lr: float, norm: float, tps: float, mfu: float, eta: float) -> str:
    mfu_text = f"{100 * mfu:.1f}%" if mfu else "n/a"
    return (f"step {step}/{steps} ({100 * step / steps:.1f}%) | loss {loss:.4f} | lr {lr:.2e} | grad {norm:.3f} | "
            f"{tps:,.0f} tok/s | MFU {mfu_text} | eta {_fmt_time(eta)}")


def _resume(ckpt_dir: str, model, optimizer, env: runtime.Dist, args) -> tuple[int, int]:
    """(step, data position) of the newest checkpoint, loaded into model and optimiser; (0, 0) if none."""
    path = checkpoint.latest(ckpt_dir)
    if path is None:
        return 0, 0
    state = checkpoint.load(path, model, optimizer, dataclasses.asdict(args))
    if env.main:
        print(f"resumed from {path} (step {state['step']}, data position {state['data_position']})", flush=True)
    return state["step"], state["data_position"]


def _validate(model, val: dict, b: runtime.Batching, env: runtime.Dist, cfg: TrainConfig, autocast, log: Log,
              step: int) -> None:
    losses = evaluate(model, val, b, env, cfg, autocast)
    mean = sum(losses.values()) / len(losses)  # every source weighs the same
    log.record({"step": step, "val_loss": mean, "val_losses": losses},
               f"step {step} | val loss {mean:.4f} | " + " ".join(f"{k} {v:.3f}" for k, v in losses.items()))


def _evaluations(model, val: dict, b: runtime.Batching, env: runtime.Dist, cfg: TrainConfig, autocast, log: Log,
                 step: int, steps: int, tokens: int) -> None:
    """Validation loss every --eval-every steps; benchmark accuracies every --eval-tasks-every."""
    if val and cfg.eval_every and (step % cfg.eval_every == 0 or step == steps):
        _validate(model, val, b, env, cfg, autocast, log, step)
    every = cfg.eval_tasks_every or cfg.eval_every
    if cfg.eval_tasks and every and (step % every == 0 or step == steps):
        from training.evaluation.during import task_accuracies

        row, line = task_accuracies(model, cfg.eval_tasks, runtime.tokenizer_path(cfg), cfg.eval_limit,
                                    cfg.bf16, step, tokens)
        log.record(row, line)


def train(cfg: TrainConfig) -> list[dict]:
    """Trains (resuming if a checkpoint exists); returns this process's per-step records."""
    env = runtime.init_distributed(cfg)
    tokens_dir = os.path.join(cfg.data, "tokens")
    args, seq_len, stream = runtime.shapes(cfg, tokens_dir)
    if stream is None:
        raise SystemExit(f"no token shards in {tokens_dir}/ (train-*.bin): run `make tokens` first")
    b = runtime.batching(cfg, seq_len, env.world)
    flavor = FLAVORS[cfg.model]
    steps = cfg.steps or max(1, int(flavor.train_tokens // (b.global_seqs * seq_len)))
    peak, warmup = cfg.lr or flavor.lr, warmup_steps(cfg.warmup_steps, steps)
    model = runtime.build_model(cfg, args, env)
    optimizer = build_optimizer(model, peak, cfg.weight_decay, (cfg.beta1, cfg.beta2))
    run_dir = os.path.join(cfg.runs_dir, cfg.run_name)
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    step, position = _resume(ckpt_dir, model, optimizer, env, args)
    saver = checkpoint.Checkpointer(ckpt_dir, cfg.keep_checkpoints, cfg.async_checkpoint)
    log = Log(run_dir, step, cfg, env.main)
    if env.main:
        print(f"{cfg.model}: {args.num_params():,} parameters, vocab {args.vocab_size}, seq {seq_len}, "
              f"batch {b.global_seqs} x {seq_len} tokens ({b.micro} x {b.accum} accum x {env.world} proc), "
              f"{steps} steps, lr {peak:g}, warm-up {warmup}, device {env.device}", flush=True)
    try:
        val = validation_streams(tokens_dir, seq_len, args.vocab_size)
    except ValueError as exc:  # a split cut short
        raise SystemExit(str(exc)) from None
    use_amp = env.device.type == "cuda" and cfg.bf16 and env.world == 1
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    flops, peak_flops = args.flops_per_token(seq_len), runtime.peak_flops(cfg, env.device)
    records, started, start_step = [], time.perf_counter(), step
    model.train()
    while step < steps:
        t0 = time.perf_counter()
        lr = learning_rate(step, peak, warmup, steps, cfg.min_lr_ratio)
        set_lr(optimizer, lr)
        loss, norm = train_step(model, optimizer, stream, position, b, env, cfg, autocast)
        step, position = step + 1, position + b.global_seqs
        tps = b.global_seqs * seq_len / (time.perf_counter() - t0)
        mfu = flops * tps / (peak_flops * env.world) if peak_flops else 0.0
        eta = (time.perf_counter() - started) / (step - start_step) * (steps - step)
        row = {"step": step, "loss": loss, "lr": lr, "grad_norm": norm, "tokens_per_s": tps,
               "tokens": position * seq_len} | ({"mfu": mfu} if mfu else {})
        records.append(row)
        log.record(row, _line(step, steps, loss, lr, norm, tps, mfu, eta))
        _evaluations(model, val, b, env, cfg, autocast, log, step, steps, position * seq_len)
        if step % cfg.ckpt_every == 0 or step == steps:
            saver.save(step, model, optimizer, {"data_position": position, "config": dataclasses.asdict(cfg),
                                                "model_args": dataclasses.asdict(args)})
    saver.wait()
    log.close()
    if cfg.export and env.main:
        from training.export import export_run

        out = export_run(run_dir, runtime.tokenizer_path(cfg))
        print(f"exported {out} (transformers LlamaForCausalLM)", flush=True)
    return records


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    if cfg.dry_run:
        from training.tools import dry_run

        dry_run(cfg)
        return 0
    if cfg.sample:
        from training.tools import sample

        print(sample(cfg), flush=True)
        return 0
    try:
        train(cfg)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
