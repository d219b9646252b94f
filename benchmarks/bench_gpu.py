"""GPU: the 7B training step, ours beside transformers' LlamaForCausalLM: tokens/s, MFU, peak memory.

`python -m benchmarks.bench_gpu [--budget-s 480] [--results benchmarks/RESULTS.md]` on one GPU
(issue 22). Every case runs the trainer's own step (`training.train.train_step`: bf16 autocast,
float32 master weights, gradient clipping, fused AdamW from `training.optim`) on a model built by
`training.runtime.build_model`, at the 7B shape (width 4096, 32 heads, vocabulary 32,000,
sequence 2048, random tokens): 8 layers at micro-batch 4 and the full 32 at micro-batch 1 (and
2), with the flag combinations to compare (--compile, --activation-checkpoint, --loss-chunks).
transformers' LlamaForCausalLM (sdpa attention, the same optimiser, loss and autocast through
the same step function) runs beside it at each shape.

A step at the paper's 4M-token batch is thousands of micro-batches and one optimiser step, so
each case times one step of 1 micro-batch and one of K, and splits them into a micro-batch's
time m and the optimiser's o (t1 = m + o, tK = K m + o); tokens/s is at the real batch, with
the optimiser's share amortised over its micro-batches, and the per-micro-batch figure beside it.
MFU = (6 N_non-embedding + 12 L d T) x tokens/s / peak (PaLM's appendix B; the issue's formula;
`ModelArgs.flops_per_token`), the peak from the GPU's data sheet (`training.runtime`).

Cases run in order of importance until --budget-s is spent (the rest are listed as skipped;
`--list` numbers them, `--cases 4,9` runs those). The run ends with a table, issue 22's two
conditions (the full 7B at >= 52% MFU, >= 1.3x transformers at 8 layers) met or missed, the
one-GPU command that measured best, and the rows in RESULTS.md's format (`--results FILE` also
writes them into FILE's GPU section, which `make bench` without a GPU keeps). On a machine
without CUDA it says so and exits; `--cpu-smoke` runs every case at a tiny shape on the CPU
(under CPU bf16 autocast, compile off) to test the script itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import re
import sys
import time
import traceback

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import GPU_SECTION, Row
from training import runtime
from training.config import FLAVORS, ModelArgs, TrainConfig
from training.optim import build_optimizer
from training.train import train_step

SEQ = 2048  # Table 2's context
BATCH_TOKENS = FLAVORS["7b"].batch_tokens  # the paper's 4M tokens per optimiser step
SMOKE = {"args": ModelArgs(dim=64, n_layers=4, n_heads=4, vocab_size=512, multiple_of=32, max_seq_len=64),
         "seq": 32, "layers": {32: 4, 8: 2}, "peak": 989e12}  # peak: the H100/H200 figure, nominal


@dataclasses.dataclass(frozen=True)
class Case:
    impl: str  # "ours" or "theirs" (transformers)
    layers: int  # 8 or 32 (the 7B depth)
    micro: int
    compile: bool = False
    ac: str = "none"
    loss_chunks: int = 0

    @property
    def name(self) -> str:
        if self.impl == "theirs":
            return "transformers LlamaForCausalLM eager" + (" (compiled blocks)" if self.compile else "")
        flags = ["--compile"] if self.compile else ["eager"]
        flags += [f"--activation-checkpoint {self.ac}"] if self.ac != "none" else []
        flags += [f"--loss-chunks {self.loss_chunks}"] if self.loss_chunks else []
        return "ours " + " ".join(flags)

    @property
    def shape(self) -> str:
        return f"{'7B' if self.layers == 32 else f'7B width, {self.layers} layers'}, micro-batch {self.micro}"


# Most important first (the cases a budget cuts are the last): the two comparisons with
# the likeliest best flags, then what each flag changes on its own.
CASES = [Case("theirs", 8, 4), Case("ours", 8, 4, compile=True, loss_chunks=4),
         Case("ours", 32, 1, compile=True, loss_chunks=1),
         Case("ours", 32, 2, compile=True, ac="selective-casts", loss_chunks=2),
         Case("ours", 32, 2, compile=True, ac="selective", loss_chunks=2),
         Case("ours", 32, 1, compile=True, ac="selective-casts", loss_chunks=1),
         Case("ours", 8, 4, compile=True), Case("ours", 32, 1, compile=True), Case("ours", 8, 4),
         Case("ours", 32, 1, compile=True, ac="selective", loss_chunks=1),
         Case("ours", 32, 2, compile=True, loss_chunks=2),  # likely out of memory on 141 GB
         Case("ours", 8, 4, compile=True, ac="selective", loss_chunks=4), Case("ours", 8, 4, loss_chunks=4),
         Case("theirs", 32, 1), Case("theirs", 8, 4, compile=True)]
# Seconds a case may take (build, compile or a cached compile, steps): none starts without them
# left in the budget, so that the run ends within --budget-s.
_COST = {"eager": 40, "compiled": 90}


@dataclasses.dataclass
class Result:
    case: Case
    tokens_per_s: float = 0.0  # at the 4M batch, the optimiser amortised
    micro_tokens_per_s: float = 0.0  # forward + backward of one micro-batch
    optimizer_s: float = 0.0
    mfu: float = 0.0
    peak_gib: float = math.nan  # torch.cuda.max_memory_allocated (n/a on the CPU)
    seconds: float = 0.0
    error: str = ""  # "OOM", "skipped (time budget)", ...


class _RandomTokens:
    """The trainer's stream interface (`batch(first, n)`) over one fixed random batch."""

    def __init__(self, vocab: int, seq: int, micro: int, device: torch.device):
        gen = torch.Generator(device=device).manual_seed(0)
        self.tokens = torch.randint(0, vocab, (micro, seq + 1), generator=gen, device=device)

    def batch(self, first: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tokens[:n, :-1], self.tokens[:n, 1:]


class _TheirsWithLoss(nn.Module):
    """transformers' model behind our `model(tokens, targets) -> mean loss` (float32 loss, as ours)."""

    def __init__(self, args: ModelArgs, device: torch.device, compile_blocks: bool):
        super().__init__()
        from transformers import LlamaForCausalLM

        from training.export import hf_config

        config = hf_config(args)
        config._attn_implementation = "sdpa"
        config.use_cache = False
        with torch.device(device):
            self.hf = LlamaForCausalLM(config)
        if compile_blocks:
            for layer in self.hf.model.layers:
                layer.compile()

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.hf(input_ids=tokens, use_cache=False).logits  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())


def _config(case: Case, device: torch.device) -> TrainConfig:
    return TrainConfig(model="7b", n_layers=case.layers, micro_batch=case.micro, compile=case.compile,
                       activation_checkpoint=case.ac, loss_chunks=case.loss_chunks, device=device.type)


def _shape(case: Case, smoke: bool) -> tuple[ModelArgs, int]:
    if smoke:
        return dataclasses.replace(SMOKE["args"], n_layers=SMOKE["layers"][case.layers]), SMOKE["seq"]
    return dataclasses.replace(FLAVORS["7b"].model, n_layers=case.layers), SEQ


def _timed_steps(model, cfg: TrainConfig, args: ModelArgs, seq: int, env: runtime.Dist, k: int,
                 autocast) -> tuple[float, float]:
    """(seconds of one micro-batch's forward + backward, seconds of the rest of an optimiser
    step), from steps of 1 and k micro-batches after two warm-up steps (compilation, AdamW state)."""
    optimizer = build_optimizer(model, 3e-4, cfg.weight_decay, (cfg.beta1, cfg.beta2))
    stream = _RandomTokens(args.vocab_size, seq, cfg.micro_batch, env.device)

    def step(accum: int) -> float:
        b = runtime.Batching(cfg.micro_batch * accum, cfg.micro_batch, accum)
        start = time.perf_counter()
        loss, _ = train_step(model, optimizer, stream, 0, b, env, cfg, autocast)  # float(): synchronises
        if not math.isfinite(loss):
            raise RuntimeError(f"loss {loss}")
        return time.perf_counter() - start

    step(2), step(1)
    one = min(step(1), step(1))
    micro = max(1e-9, (step(k) - one) / (k - 1))
    return micro, max(0.0, one - micro)


def run_case(case: Case, device: torch.device, smoke: bool, peak_flops: float) -> Result:
    args, seq = _shape(case, smoke)
    cfg, env = _config(case, device), runtime.Dist(device=device)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16)  # noqa: E731 (as the trainer's)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    if case.impl == "ours":
        model = runtime.build_model(cfg, args, env)
    else:
        model = _TheirsWithLoss(args, device, cfg.compile)
    model.train()
    micro_s, opt_s = _timed_steps(model, cfg, args, seq, env, 3 if smoke else 8, autocast)
    micro_tokens = case.micro * seq
    accum = max(1, BATCH_TOKENS // micro_tokens)  # micro-batches in one 4M-token step on one GPU
    tps = accum * micro_tokens / (accum * micro_s + opt_s)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else math.nan
    return Result(case, tps, micro_tokens / micro_s, opt_s, args.flops_per_token(seq) * tps / peak_flops,
                  peak, time.perf_counter() - start)


def _free(device: torch.device) -> None:
    torch._dynamo.reset()  # compiled code and guards may hold the last case's model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_all(cases: list[Case], device: torch.device, smoke: bool, peak_flops: float, budget_s: float) -> list[Result]:
    # Each case starts from a reset torch.compile, as a trainer's process does (a graph compiled
    # before comes from inductor's on-disk cache).
    started, results = time.perf_counter(), []
    for case in cases:
        cost = _COST["compiled" if case.compile and not smoke else "eager"]
        if not smoke and time.perf_counter() - started + cost > budget_s:
            results.append(Result(case, error="skipped (time budget)"))
            continue
        torch._dynamo.utils.counters.clear()
        try:
            results.append(run_case(case, device, smoke, peak_flops))
        except torch.OutOfMemoryError:
            results.append(Result(case, error="OOM"))
        except Exception as exc:  # one case's failure (a compiler error, say) is reported, the rest run
            traceback.print_exc()
            results.append(Result(case, error=f"failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"))
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        _free(device)
        r = results[-1]
        print(f"[bench_gpu] {case.shape} | {case.name}: " + (r.error or f"{r.tokens_per_s:,.0f} tok/s, MFU "
              f"{100 * r.mfu:.1f}%, peak {_gib(r.peak_gib)} GiB, {r.seconds:.0f}s, {graphs} compiled graphs"),
              flush=True)
    return results


def _gib(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.1f}"


def _peer(results: list[Result], layers: int) -> Result | None:
    return next((r for r in results if r.case.impl == "theirs" and not r.case.compile and r.case.layers == layers
                 and not r.error), None)


def rows(results: list[Result], where: str) -> list[Row]:
    """Each measured case of ours beside transformers eager at the same depth, as RESULTS.md rows."""
    out = []
    for r in results:
        if r.case.impl != "ours" or r.error:
            continue
        peer = _peer(results, r.case.layers)
        vs = (f"MFU {100 * r.mfu:.1f}% vs {100 * peer.mfu:.1f}%, peak {_gib(r.peak_gib)} vs {_gib(peer.peak_gib)} GiB"
              f" (theirs at micro-batch {peer.case.micro})" if peer else "transformers not measured at this depth")
        out.append(Row(f"7B train step (GPU), {r.case.shape}: {r.case.name}", "tokens/s at the 4M batch",
                       r.tokens_per_s, "transformers LlamaForCausalLM eager (sdpa)", peer.tokens_per_s if peer
                       else float("nan"), True, f"{vs}; optimiser step {r.optimizer_s:.2f}s; {where}"))
    return out


def table(results: list[Result]) -> str:
    lines = ["| shape | run | tokens/s (4M batch) | tokens/s per micro-batch | MFU | peak GiB | optimiser s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.case.shape} | {r.case.name} | {r.error} | | | | |")
        else:
            lines.append(f"| {r.case.shape} | {r.case.name} | {r.tokens_per_s:,.0f} | {r.micro_tokens_per_s:,.0f} | "
                         f"{100 * r.mfu:.1f}% | {_gib(r.peak_gib)} | {r.optimizer_s:.3f} |")
    return "\n".join(lines)


def _flags(case: Case) -> str:
    flags = f"--micro-batch {case.micro}" + (" --compile" if case.compile else "")
    flags += f" --activation-checkpoint {case.ac}"
    return flags + (f" --loss-chunks {case.loss_chunks}" if case.loss_chunks else "")


def verdict(results: list[Result]) -> list[str]:
    """Issue 22's two conditions, and the commands the measurements recommend."""
    ours = [r for r in results if r.case.impl == "ours" and not r.error]
    full = max((r for r in ours if r.case.layers == 32), key=lambda r: r.tokens_per_s, default=None)
    eight = max((r for r in ours if r.case.layers == 8), key=lambda r: r.tokens_per_s, default=None)
    peer = _peer(results, 8)
    lines = []
    if full:
        lines.append(f"full 7B, best: {100 * full.mfu:.1f}% MFU ({full.case.name}, micro-batch {full.case.micro}): "
                     f"{'meets' if full.mfu >= 0.52 else 'misses'} the 52% goal")
        lines.append(f"recommended, 1 GPU: python -m training.train --model 7b {_flags(full.case)}")
    if eight and peer:
        ratio = eight.tokens_per_s / peer.tokens_per_s
        lines.append(f"8 layers, best: {ratio:.2f}x transformers eager ({eight.case.name}): "
                     f"{'meets' if ratio >= 1.3 else 'misses'} the 1.3x goal")
    if eight:
        lines.append(f"suggested, 8 GPUs (FSDP2; not measured here, the 8-layer case's flags): torchrun "
                     f"--nproc-per-node 8 -m training.train --model 7b {_flags(eight.case)}")
    return lines


def write_section(path: str, text: str) -> None:
    """Puts `text` between GPU_SECTION's markers in `path` (replacing what was there, else appended)."""
    with open(path, encoding="utf-8") as f:
        old = f.read()
    block = f"{GPU_SECTION[0]}\n{text}\n{GPU_SECTION[1]}"
    pattern = re.compile(re.escape(GPU_SECTION[0]) + ".*?" + re.escape(GPU_SECTION[1]), re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


def _where(device: torch.device, smoke: bool) -> str:
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU smoke run (tiny shape, not the 7B)"
    return f"{gpu}, torch {torch.__version__}" + (f", CUDA {torch.version.cuda}" if torch.version.cuda else "")


def measure(only_8_layers: bool, smoke: bool, budget_s: float, peak: float,
            picked: list[int] | None = None) -> tuple[list[Result], str]:
    device = torch.device("cpu") if smoke else torch.device("cuda", 0)
    if not peak:
        peak = SMOKE["peak"] if smoke else runtime.peak_flops(TrainConfig(), device)
    if not peak:
        raise SystemExit(f"error: no peak FLOP/s known for {torch.cuda.get_device_name(device)}: give --peak-flops")
    cases = [CASES[i] for i in picked] if picked else CASES
    cases = [c for c in cases if c.layers == 8] if only_8_layers else cases
    if smoke:  # compiling takes minutes on a CPU: the eager cases, each once
        cases = list(dict.fromkeys(dataclasses.replace(c, compile=False) for c in cases))
        torch.set_num_threads(1)
    return run_all(cases, device, smoke, peak, budget_s), _where(device, smoke)


def report(results: list[Result], where: str) -> str:
    from benchmarks.run import table as results_table

    found = rows(results, where)
    return "\n".join([f"## GPU training step (`python -m benchmarks.bench_gpu`): {where}", "", table(results), "",
                      *(f"- {line}" for line in verdict(results)), "",
                      results_table([("gpu", r) for r in found]) if found else ""])


def run(quick: bool) -> list[Row]:
    """`make bench`: the 8-layer cases (quick) or all of them, on a GPU; nothing on a CPU."""
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU on this machine; skipped (python -m benchmarks.bench_gpu --cpu-smoke "
              "tests the script at a tiny shape)")
        return []
    results, where = measure(quick, smoke=False, budget_s=480, peak=0.0)
    return rows(results, where)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=480,
                        help="start no case that could end after this many seconds (default 480)")
    parser.add_argument("--only-8-layers", action="store_true", help="the 8-layer cases only")
    parser.add_argument("--cases", default="", help="comma-separated case numbers to run, in that order "
                                                    "(default: all; --list shows them)")
    parser.add_argument("--list", action="store_true", help="print the numbered cases and exit")
    parser.add_argument("--peak-flops", type=float, default=0.0, help="peak FLOP/s for MFU (0: the GPU's data sheet)")
    parser.add_argument("--results", default="", help="also write the section into this file (benchmarks/RESULTS.md)")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="every case at a tiny shape on the CPU (tests the script)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(f"{i}: {c.shape} | {c.name}" for i, c in enumerate(CASES)))
        return 0
    try:
        picked = [int(i) for i in args.cases.split(",") if i.strip()]
        if any(not 0 <= i < len(CASES) for i in picked):
            raise ValueError(picked)
    except ValueError:
        print(f"error: --cases takes case numbers 0-{len(CASES) - 1} (see --list), not {args.cases!r}", file=sys.stderr)
        return 2
    if not args.cpu_smoke and not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU on this machine; skipped (--cpu-smoke tests the script on the CPU)")
        return 0
    results, where = measure(args.only_8_layers, args.cpu_smoke, args.budget_s, args.peak_flops, picked)
    text = report(results, where)
    print(text)
    if args.results:
        write_section(args.results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
