"""Per-source token streams on disk, and the shard plan that draws sequences from them.

After the encode step each source is a run of bucket files `.work/<source>/bucket-BBBBB.bin`
(uint16 tokens of whole documents, in seeded order) with `.len` (uint32 document lengths). Here a
source becomes: a validation slice (its first documents, about `val_tokens`), and a training
stream cut into sequences of SEQ_LEN+1 tokens, visited epoch after epoch, each epoch in a fresh
seeded shuffle (the paper's epochs column: a small source is seen more than once).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os

import numpy as np

from pipeline.files import stable_hash64

TOKEN = np.dtype("<u2")  # token shards are flat little-endian uint16 (README)
LENGTH = np.dtype("<u4")


@dataclasses.dataclass
class SourceStream:
    name: str
    documents: int
    tokens: int  # all tokens, validation included
    val_documents: int
    val_tokens: int  # tokens of the held-out documents (val.bin keeps whole sequences of them)
    train_path: str  # the training stream, one flat file
    sequences: int  # whole SEQ_LEN+1 sequences in the training stream

    @property
    def train_tokens(self) -> int:
        return self.tokens - self.val_tokens


def bucket_files(work: str, name: str) -> list[str]:
    folder = os.path.join(work, name)
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".bin"))


def assemble(work: str, name: str, seq: int, val_tokens: int, val_max_fraction: float,
             val_path: str) -> SourceStream:
    """Splits a source's buckets into val (whole documents from the front, written to
    `val_path` as whole sequences) and the training stream `work/<name>.train.bin`."""
    buckets = bucket_files(work, name)
    lengths = [np.fromfile(b[:-4] + ".len", dtype=LENGTH) for b in buckets]
    doc_lens = np.concatenate(lengths) if lengths else np.zeros(0, dtype=LENGTH)
    total = int(doc_lens.sum(dtype=np.int64))
    if total == 0:
        raise ValueError(f"source {name!r} has no documents in its clean shards: nothing to tokenize "
                         f"(give it weight 0 in a --weights file, or rebuild it)")
    # Held out: the first documents until val_tokens, at most val_max_fraction of the source.
    target = min(val_tokens, int(val_max_fraction * total))
    ends = np.cumsum(doc_lens, dtype=np.int64)
    val_docs = int(np.searchsorted(ends, target, side="left")) + 1 if target > 0 else 0
    val_docs = min(val_docs, len(doc_lens) - 1)  # at least one document stays for training
    held = int(ends[val_docs - 1]) if val_docs else 0
    train_path = os.path.join(work, f"{name}.train.bin")
    _split_copy(buckets, held, seq, val_path, train_path)
    sequences = (total - held) // seq
    if sequences == 0:
        raise ValueError(f"source {name!r} has {total - held} training tokens, fewer than one sequence of "
                         f"{seq} (SEQ_LEN+1): lower --seq-len, or give it weight 0 in a --weights file")
    return SourceStream(name, len(doc_lens), total, val_docs, held, train_path, sequences)


def _split_copy(buckets: list[str], held: int, seq: int, val_path: str, train_path: str) -> None:
    """The first `held` tokens (trimmed to whole sequences) to val_path, the rest to train_path."""
    os.makedirs(os.path.dirname(val_path), exist_ok=True)
    keep_val = held - held % seq
    seen = 0
    with open(val_path + ".tmp", "wb") as val, open(train_path + ".tmp", "wb") as train:
        for bucket in buckets:
            tokens = np.fromfile(bucket, dtype=TOKEN)
            a, b = seen, seen + len(tokens)
            if a < keep_val:
                val.write(tokens[: min(b, keep_val) - a].tobytes())
            if b > held:
                train.write(tokens[max(held - a, 0):].tobytes())
            seen = b
    os.replace(val_path + ".tmp", val_path)
    os.replace(train_path + ".tmp", train_path)


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


# Up to this many sequences a source's epoch order is a materialised numpy permutation (32 MB);
# above, a Feistel network computes it per position, so no shard holds a whole source's order.
MATERIALISED = 1 << 22


@functools.lru_cache(maxsize=4)
def _permutation(seed: int, name: str, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, stable_hash64(name) & 0xFFFFFFFF, epoch]).permutation(n)


def epoch_order(seed: int, name: str, epoch: int, n: int, positions: np.ndarray) -> np.ndarray:
    """Where positions of epoch `epoch` land in a source's n sequences: a seeded permutation of
    range(n), a new one each epoch."""
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


class SequenceReader:
    """Sequence j of a source's endless stream: epoch j // n, in that epoch's shuffle."""

    def __init__(self, stream: SourceStream, seq: int, seed: int):
        self.stream, self.seq, self.seed = stream, seq, seed
        self.tokens = np.memmap(stream.train_path, dtype=TOKEN, mode="r")

    def indices(self, start: int, count: int) -> np.ndarray:
        n = self.stream.sequences
        j = np.arange(start, start + count, dtype=np.int64)
        epochs = j // n
        out = np.empty(count, dtype=np.int64)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            out[mask] = epoch_order(self.seed, self.stream.name, int(epoch), n, j[mask] % n)
        return out

    def read(self, start: int, count: int) -> np.ndarray:
        """(count, seq) tokens of sequences start .. start+count-1 of the stream."""
        rows = self.indices(start, count)
        return np.stack([self.tokens[r * self.seq:(r + 1) * self.seq] for r in rows]) if count else \
            np.zeros((0, self.seq), dtype=TOKEN)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
