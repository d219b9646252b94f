"""The rule that interleaves sources at their mixture proportions (no Beam here); the
proportions themselves are the paper's Table 1 (`sources.table1`) or a user's weights file.

The order of sequences follows Megatron-LM's `BlendedDataset`: the next sample comes from the
source that is furthest behind its target count (NVIDIA/Megatron-LM,
megatron/core/datasets/helpers.cpp `build_blending_indices`: error = weight * max(i, 1) - count,
largest error wins, ties to the lower index). We count the target after the pick, weight * (i + 1):
it keeps every prefix closer to the target (measured in tests/tokens/test_tokens.py). We add one
level above it, so that every shard on its own carries the proportions: each shard's per-source
counts are floor(w * size) plus one extra sequence for the sources furthest behind over the whole
stream (`shard_quotas`).
"""

from __future__ import annotations

import math

import numpy as np

from sources.table1 import TABLE1, display_name


def shard_quotas(weights: list[float], shard_sizes: list[int]) -> np.ndarray:
    """Sequences per (shard, source): floor(w * size) plus one for the R sources furthest behind
    their target over the whole stream so far (R = what the floors leave unfilled).

    Every shard is within one sequence of its own target, and the running totals stay within
    about one sequence of the stream's target."""
    w = np.asarray(weights, dtype=np.float64)
    quotas = np.zeros((len(shard_sizes), len(w)), dtype=np.int64)
    behind = np.zeros(len(w))  # target - realised, carried across shards
    for k, size in enumerate(shard_sizes):
        exact = w * size
        base = np.floor(exact).astype(np.int64)
        extra = int(size - base.sum())
        deficit = behind + exact - base
        # stable sort on -deficit: ties go to the lower source index, as in Megatron
        chosen = np.argsort(-deficit, kind="stable")[:extra]
        base[chosen] += 1
        quotas[k] = base
        behind += exact - base
    return quotas


def blend_order(counts: list[int] | np.ndarray) -> np.ndarray:
    """The source index of each sample, Megatron's rule, for a block holding `counts[s]` samples
    of source s: sample i comes from the source with the largest weight * (i + 1) - done."""
    counts = np.asarray(counts, dtype=np.int64)
    size = int(counts.sum())
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    w = counts / size
    done = np.zeros(len(counts), dtype=np.int64)
    order = np.empty(size, dtype=np.int64)
    for i in range(size):
        error = w * (i + 1) - done
        error[done >= counts] = -np.inf  # a source whose quota is filled is never picked
        s = int(np.argmax(error))  # first maximum: ties to the lower index
        order[i] = s
        done[s] += 1
    return order


def default_total_sequences(sequences: dict[str, int], weights: dict[str, float]) -> tuple[int, str]:
    """The stream length at which the anchor source is seen its paper epochs: CommonCrawl at
    1.10 epochs (Table 1), or, without CommonCrawl, the heaviest source present at its own."""
    anchor = "commoncrawl" if "commoncrawl" in weights else max(weights, key=lambda n: (weights[n], n))
    epochs = TABLE1[anchor].epochs if anchor in TABLE1 else 1.0
    return max(1, math.ceil(epochs * sequences[anchor] / weights[anchor])), anchor


def table(rows: list[dict]) -> str:
    """Rows like the paper's Table 1 (source, sampling proportion, epochs, disk size, tokens)."""
    head = (f"{'Dataset':<14} {'Sampling prop.':>14} {'(asked)':>8} {'(paper)':>8} {'Epochs':>7} {'(paper)':>8} "
            f"{'Disk size':>10} {'(paper)':>8} {'Tokens':>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        paper = TABLE1.get(r["source"])
        lines.append(
            f"{display_name(r['source']):<14} {100 * r['proportion_realised']:>13.2f}% "
            f"{100 * r['proportion_asked']:>7.2f}% "
            f"{(f'{100 * paper.proportion:.1f}%' if paper else '-'):>8} {r['epochs']:>7.2f} "
            f"{(f'{paper.epochs:.2f}' if paper else '-'):>8} {_size(r['disk_bytes']):>10} "
            f"{(paper.disk_size if paper else '-'):>8} {r['tokens_drawn']:>14,}")
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
