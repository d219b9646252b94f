"""`--loss-chunks` on CPU: a training step's peak memory with the loss in chunks beside whole logits.

At a shape where the logits dominate (vocabulary 32,000, 4 x 512 tokens, a small model), each
variant runs in its own fresh process (no allocator state shared): build, one warm-up step
(AdamW's moments exist from then on), then the measured step. Its memory is
the process's peak resident set during that step above the resident set before it (Linux
VmHWM, reset through /proc/self/clear_refs), with glibc told to hand freed blocks back to the
system so the resident set follows what is live. The step times beside it are measured apart,
both variants in one process with the default allocator, alternating step by step, on one
thread. A GPU's figures come from benchmarks/bench_gpu.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import torch

from benchmarks.common import Row
from training.config import ModelArgs
from tokens.stages import peak_rss_mb
from training.model import Transformer

ARGS = ModelArgs(dim=256, n_layers=2, n_heads=4, vocab_size=32000, max_seq_len=512)
BATCH, SEQ, CHUNKS = 4, 512, 8
# Blocks over 64 KiB are mmap'ed and unmapped when freed, so the resident set is what is live.
_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def _stepper(chunks: int):
    """A model with `--loss-chunks chunks` and a function running one training step on it."""
    model = Transformer(ARGS)
    model.init_weights(0)
    model.loss_chunks = chunks
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    tokens = torch.randint(0, ARGS.vocab_size, (BATCH, SEQ + 1), generator=torch.Generator().manual_seed(0))

    def step() -> float:  # CPU seconds of this process: not inflated by other jobs on the machine
        start = time.process_time()
        model(tokens[:, :-1], tokens[:, 1:]).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.process_time() - start

    return step


def step_peak_mb(chunks: int) -> float:
    """In this process: one step's peak resident set above the resident set before it (MB)."""
    torch.set_num_threads(1)
    step = _stepper(chunks)
    step()  # warm-up: optimiser state, allocator, kernels
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")  # resets VmHWM to the current resident set
    base = peak_rss_mb()
    step()
    return peak_rss_mb() - base


def _in_fresh_process(chunks: int) -> float:
    code = f"from benchmarks.bench_loss import step_peak_mb; print(step_peak_mb({chunks}))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=os.environ | _MALLOC_ENV, check=True,
                         capture_output=True, text=True, timeout=600)
    return float(out.stdout.strip().splitlines()[-1])


def _best_times(rounds: int) -> dict[int, float]:
    """Best step time of each variant, alternating step by step in this process (one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        steppers = {chunks: _stepper(chunks) for chunks in (0, CHUNKS)}
        best = {chunks: float("inf") for chunks in steppers}
        for i in range(rounds + 1):  # round 0 warms up
            for chunks, step in steppers.items():
                elapsed = step()
                best[chunks] = min(best[chunks], elapsed) if i else best[chunks]
        return best
    finally:
        torch.set_num_threads(threads)


def run(quick: bool) -> list[Row]:
    if not os.path.exists("/proc/self/clear_refs"):
        print("bench_loss: needs Linux /proc (VmHWM, clear_refs); skipped")
        return []
    rounds = 3 if quick else 8
    whole_mb, chunked_mb = _in_fresh_process(0), _in_fresh_process(CHUNKS)
    times = _best_times(rounds)
    logits_mb = BATCH * SEQ * ARGS.vocab_size * 4 / 2**20
    shape = (f"dim {ARGS.dim}, {ARGS.n_layers} layers, vocab {ARGS.vocab_size}, batch {BATCH}x{SEQ}, fp32, "
             f"1 thread; one float32 copy of the logits is {logits_mb:.0f} MB")
    return [Row("train step (CPU), --loss-chunks 8: peak memory", "MB above the pre-step resident set",
                chunked_mb, "whole logits (F.cross_entropy)", whole_mb, False,
                shape + "; each variant in a fresh process, peak = VmHWM during one step"),
            Row("train step (CPU), --loss-chunks 8: step time", "CPU seconds", times[CHUNKS],
                "whole logits (F.cross_entropy)", times[0], False,
                shape + f"; best of {rounds} alternated steps in one process (forward+backward+AdamW)")]


if __name__ == "__main__":
    for row in run(quick=True):
        print(row, f"ratio {row.ratio:.2f}")
