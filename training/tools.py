"""`--dry-run` (sizes, FLOPs, steps, memory per GPU) and `--sample` (text from a checkpoint)."""

from __future__ import annotations

import os

import torch

from training import checkpoint
from training.config import FLAVORS, ModelArgs, TrainConfig, model_args
from training.model import Transformer, count_parameters


def memory_per_gpu(args: ModelArgs, gpus: int, seq_len: int, micro: int = 1) -> dict[str, float]:
    """Bytes per GPU under FSDP (full sharding, bf16 compute, full activation checkpointing).

    Sharded: fp32 weights + fp32 gradients + two AdamW moments = 16 bytes a parameter / GPUs.
    Gathered: one block's bf16 weights, twice (the block computing and the one prefetched).
    Activations: each block's bf16 input kept (L*B*T*D*2) plus one block recomputed in the
    backward, ~34*B*T*D bytes with a flash attention kernel (Korthikanti et al. 2022, eq. 1
    without the 5*a*s term that flash attention removes)."""
    n = count_parameters(args)
    block = 4 * args.dim**2 + 3 * args.dim * args.ffn_hidden
    tokens = micro * seq_len
    parts = {"sharded states": 16 * n / gpus, "gathered blocks": 2 * 2 * block,
             "activations": args.n_layers * tokens * args.dim * 2 + 34 * tokens * args.dim}
    return parts | {"total": sum(parts.values())}


def dry_run(cfg: TrainConfig) -> None:
    flavor = FLAVORS[cfg.model]
    seq_len = cfg.seq_len or flavor.model.max_seq_len
    args = model_args(cfg, cfg.vocab_size or flavor.model.vocab_size, seq_len)
    n = count_parameters(args)  # built on the meta device: nothing allocated
    batch_tokens = cfg.batch_tokens or flavor.batch_tokens
    steps = cfg.steps or int(flavor.train_tokens // batch_tokens)
    flops = args.flops_per_token(seq_len)
    print(f"model {cfg.model}: dim {args.dim}, layers {args.n_layers}, heads {args.n_heads}, "
          f"ffn {args.ffn_hidden}, vocab {args.vocab_size}, context {seq_len}")
    print(f"parameters: {n:,} ({n / 1e9:.2f}B)")
    print(f"FLOPs per token (training): {flops:.3e}")
    print(f"batch: {batch_tokens:,} tokens ({batch_tokens // seq_len} sequences); lr {cfg.lr or flavor.lr:g}")
    print(f"steps: {steps:,} for {steps * batch_tokens:.3g} tokens; total {flops * steps * batch_tokens:.3e} FLOPs")
    mem = memory_per_gpu(args, cfg.gpus, seq_len)
    detail = ", ".join(f"{k} {v / 2**30:.1f} GiB" for k, v in mem.items() if k != "total")
    print(f"memory per GPU on {cfg.gpus} GPUs (FSDP, bf16, full activation checkpointing, 1 sequence "
          f"per GPU): {mem['total'] / 2**30:.1f} GiB ({detail})")
    size = 12 * n  # fp32 weights and both AdamW moments; every rank writes its shard in parallel
    print(f"checkpoint: {size / 1e9:,.1f} GB on disk (fp32 weights + 2 AdamW moments), {size / cfg.gpus / 1e9:,.2f} GB "
          f"a GPU; about {size / cfg.gpus / (cfg.disk_gbps * 1e9):,.0f} s to save at {cfg.disk_gbps:g} GB/s per "
          f"process (--disk-gbps), if the storage takes {cfg.gpus} writers at that rate")


@torch.no_grad()
def generate(model: Transformer, ids: list[int], new_tokens: int, temperature: float, seed: int = 0) -> list[int]:
    """Samples `new_tokens` after `ids` (the window slides past the model's context)."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.tensor([ids], dtype=torch.long)
    for _ in range(new_tokens):
        logits = model(tokens[:, -model.args.max_seq_len:])[0, -1].float()  # (V,)
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            nxt = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=gen))
        tokens = torch.cat([tokens, torch.tensor([[nxt]])], dim=1)
    return tokens[0].tolist()


def sample(cfg: TrainConfig) -> str:
    import sentencepiece as spm

    run_dir = os.path.join(cfg.runs_dir, cfg.run_name)
    path = checkpoint.latest(os.path.join(run_dir, "checkpoints"))
    if path is None:
        raise SystemExit(f"no checkpoint in {run_dir}/checkpoints/: train first")
    tok_path = os.path.join(cfg.data, "tokenizer", "tokenizer.model")
    if not os.path.exists(tok_path):
        raise SystemExit(f"no tokenizer at {tok_path}: run `make tokenizer` first")
    model = Transformer(ModelArgs(**checkpoint.read_meta(path)["model_args"]))
    model.load_state_dict(checkpoint.load_tensors(path, checkpoint.model_names(path)))
    model.eval()
    sp = spm.SentencePieceProcessor(model_file=tok_path)
    ids = [sp.bos_id()] + sp.encode(cfg.sample)
    out = generate(model, ids, cfg.sample_tokens, cfg.temperature, cfg.seed)
    return sp.decode(out[1:])

