"""Token shards, read sequentially through memory maps, with a position that survives restarts.

`data/tokens/train-SSSSS.bin` holds flat little-endian uint16 ids written in sequences of
`seq_len + 1` tokens (README, "Tokenizer and token shards"). The reader treats the shards, in name order, as one stream of
windows of `seq_len + 1` tokens (inputs and the targets shifted by one); window `i` is a pure
function of `i`, so the whole data state of a run is one integer, saved in every checkpoint.
Reading a batch is a slice of a memory map: the page cache, not Python, does the work.
"""

from __future__ import annotations

import bisect
import glob
import json
import os

import numpy as np
import torch


def read_mix(tokens_dir: str) -> dict:
    path = os.path.join(tokens_dir, "mix.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class TokenStream:
    """Windows of `seq_len + 1` tokens over the concatenated shards; wraps around at the end."""

    def __init__(self, paths: list[str], seq_len: int, vocab_size: int | None = None):
        if not paths:
            raise FileNotFoundError("no token shards given (expected <data>/tokens/train-*.bin; "
                                    "run `make tokens` first)")
        self.seq_len, self.paths, self.vocab_size = seq_len, paths, vocab_size
        for path in paths:
            if os.path.getsize(path) % 2:
                raise ValueError(f"{path}: {os.path.getsize(path):,} bytes, not a whole number of uint16 tokens: "
                                 f"the file was cut short (a copy or `make tokens` interrupted); rerun `make tokens`")
        self.maps = [np.memmap(p, dtype="<u2", mode="r") for p in paths]
        counts = [len(m) // (seq_len + 1) for m in self.maps]
        self.starts = np.cumsum([0] + counts).tolist()  # first window index of each shard
        if self.starts[-1] == 0:
            raise ValueError(f"{os.path.dirname(paths[0])}: no shard holds one window of seq_len + 1 = "
                             f"{seq_len + 1} tokens (largest: {max(len(m) for m in self.maps):,}): nothing to "
                             f"train on; lower --seq-len or write longer shards")

    @classmethod
    def train(cls, tokens_dir: str, seq_len: int, vocab_size: int | None = None) -> "TokenStream":
        return cls(sorted(glob.glob(os.path.join(tokens_dir, "train-*.bin"))), seq_len, vocab_size)

    def __len__(self) -> int:
        return self.starts[-1]

    def window(self, index: int) -> np.ndarray:
        index %= len(self)  # past the end: another epoch over the same order
        shard = bisect.bisect_right(self.starts, index) - 1
        offset = (index - self.starts[shard]) * (self.seq_len + 1)
        return self.maps[shard][offset: offset + self.seq_len + 1]

    def batch(self, first: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows first .. first+count-1 as (inputs, targets), each (count, seq_len) int64."""
        rows = np.stack([self.window(first + i) for i in range(count)])
        if self.vocab_size is not None and count and int(rows.max()) >= self.vocab_size:
            self._bad_id(first, count)
        tokens = torch.from_numpy(rows.astype(np.int64))
        return tokens[:, :-1], tokens[:, 1:]

    def _bad_id(self, first: int, count: int) -> None:
        """Stops on an id the model's embedding has no row for (a crash deep inside it otherwise,
        a device-side assert on a GPU), naming the shard."""
        for i in range(first, first + count):
            window = self.window(i)
            if int(window.max()) >= self.vocab_size:
                index = i % len(self)
                path = self.paths[bisect.bisect_right(self.starts, index) - 1]
                raise ValueError(f"{path}: token id {int(window.max())} in window {index}, but the model's "
                                 f"vocabulary has {self.vocab_size} ids: the shards were written with another "
                                 f"tokenizer (rerun `make tokens`, or give the matching --vocab-size)")


def validation_streams(tokens_dir: str, seq_len: int, vocab_size: int | None = None) -> dict[str, TokenStream]:
    """One stream per `val/<source>.bin` (sources too small for one window are left out)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(tokens_dir, "val", "*.bin"))):
        if os.path.getsize(path) // 2 > seq_len:
            out[os.path.basename(path)[: -len(".bin")]] = TokenStream([path], seq_len, vocab_size)
    return out


def max_token_id(stream: TokenStream) -> int:
    """Largest id in the shards (sizes the vocabulary when neither mix.json nor a tokenizer says)."""
    return max(int(m.max()) for m in stream.maps if len(m))
