"""Where every token goes, as pure functions of small numbers (no Beam, no files here).

After the encode step a source is a run of buckets (`.work/<source>/bucket-BBBBB.bin`, whole
documents in seeded order); its token stream is the buckets in bucket order. From per-bucket
document and token counts alone (and the lengths of the first documents, for the validation
split) every bucket knows its place in the source's stream:

- tokens [0, keep_val) are `val/<source>.bin` (the first documents, trimmed to whole sequences);
- from `held` on, the training stream is cut into sequences of SEQ_LEN+1 tokens, sequence j
  being tokens [held + j*seq, held + (j+1)*seq);
- epoch e of the source visits its n sequences in a seeded permutation: sequence j lands at
  position `epoch_order(seed, name, e, n, j)` of that epoch, so at position e*n + that of the
  source's endless stream;
- stream position p falls in the shard k whose per-source quota range [bounds[k], bounds[k+1])
  holds it (tokens.mixture.shard_quotas), as the shard's r-th sequence of that source, r = p -
  bounds[k]; inside the shard, Megatron's blend order (tokens.mixture.blend_order) says where.

So no step needs a whole source, let alone the corpus: a bucket is cut where it lies, and a
sequence that straddles two buckets is joined from its pieces.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from pipeline.files import stable_hash64

TOKEN = np.dtype("<u2")  # token shards are flat little-endian uint16 (README)
LENGTH = np.dtype("<u4")

# Up to this many sequences a source's epoch order is a materialised numpy permutation (32 MB);
# above, a Feistel network computes it per sequence, so no worker holds a whole source's order.
MATERIALISED = 1 << 22


@dataclasses.dataclass
class SourcePlan:
    """One source's part of the plan: its buckets, validation split and place in the stream."""

    name: str
    index: int  # the source's column in the quotas
    buckets: list[int]  # bucket ids, ascending
    offsets: list[int]  # token offset of each bucket in the source's stream (+ the total at the end)
    documents: int
    val_documents: int
    held: int  # tokens of the held-out documents
    seq: int  # SEQ_LEN + 1
    sequences: int = 0  # whole training sequences (n)
    bounds: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    @property
    def tokens(self) -> int:
        return self.offsets[-1]

    @property
    def train_tokens(self) -> int:
        return self.tokens - self.held

    @property
    def keep_val(self) -> int:
        return self.held - self.held % self.seq

    @property
    def drawn(self) -> int:
        return int(self.bounds[-1])

    @property
    def epochs(self) -> int:
        return -(-self.drawn // self.sequences) if self.sequences else 0


def held_out(head_lengths: np.ndarray, documents: int, total: int, val_tokens: int, fraction: float) -> tuple[int, int]:
    """(documents, tokens) held out: the first documents until `val_tokens`, at most `fraction`
    of the source, and at least one document left for training. `head_lengths`: the lengths
    of the source's first documents, at least as many as reach the target (or all)."""
    target = min(val_tokens, int(fraction * total))
    if target <= 0:
        return 0, 0
    ends = np.cumsum(np.asarray(head_lengths, dtype=np.int64))
    docs = min(int(np.searchsorted(ends, target, side="left")) + 1, documents - 1, len(ends))
    return docs, int(ends[docs - 1]) if docs else 0


def pieces(t0: int, t1: int, seq: int) -> tuple[range, list[tuple[int, int, int]]]:
    """Training tokens [t0, t1) of a bucket: the sequences it holds whole, and (sequence,
    start, end) for those it holds only a part of (joined with the neighbours' parts)."""
    if t1 <= t0:
        return range(0), []
    whole = range(-(-t0 // seq), t1 // seq)
    parts = []
    for j in sorted({t0 // seq, (t1 - 1) // seq}):
        lo, hi = max(t0, j * seq), min(t1, (j + 1) * seq)
        if hi - lo < seq:
            parts.append((j, lo, hi))
    return whole, parts


def placements(plan: SourcePlan, seed: int, j: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For sequences `j` of a source in epoch `epoch`: which of them are drawn (a mask), and
    for those the shard and rank among the shard's sequences of this source."""
    n = plan.sequences
    p = epoch * n + epoch_order(seed, plan.name, epoch, n, j)
    drawn = p < plan.drawn
    p = p[drawn]
    shard = np.searchsorted(plan.bounds, p, side="right") - 1
    return drawn, shard, p - plan.bounds[shard]


def _mix(x: np.ndarray, key: int) -> np.ndarray:
    """splitmix64's finaliser on uint64 (a round function with good avalanche)."""
    x = (x ^ np.uint64(key)) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _feistel(x: np.ndarray, half: int, keys: list[int]) -> np.ndarray:
    mask = np.uint64((1 << half) - 1)
    left, right = x >> np.uint64(half), x & mask
    for key in keys:
        left, right = right, left ^ (_mix(right, key) & mask)
    return (left << np.uint64(half)) | right


@functools.lru_cache(maxsize=4)
def _permutation(seed: int, name: str, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, stable_hash64(name) & 0xFFFFFFFF, epoch]).permutation(n)


def epoch_order(seed: int, name: str, epoch: int, n: int, positions: np.ndarray) -> np.ndarray:
    """A seeded permutation of range(n), a new one each epoch, at `positions`."""
    if n <= MATERIALISED:
        return _permutation(seed, name, epoch, n)[np.asarray(positions, dtype=np.int64)]
    half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)  # domain 4**half >= n
    base = stable_hash64(f"{seed}/{name}/{epoch}")
    keys = [stable_hash64(f"{base}/{r}") for r in range(6)]
    with np.errstate(over="ignore"):
        y = _feistel(np.asarray(positions, dtype=np.uint64), half, keys)
        outside = y >= np.uint64(n)
        while outside.any():  # cycle walking: domain < 4n, a few steps at most on average
            y[outside] = _feistel(y[outside], half, keys)
            outside = y >= np.uint64(n)
    return y.astype(np.int64)
