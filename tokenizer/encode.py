"""The batch encoder the token job uses: each document becomes `<s> ... </s>`, so that documents
concatenated into one stream keep their boundaries (the trainer sees `</s><s>` between them).

    enc = Encoder("data/tokenizer/tokenizer.model")
    stream = enc.encode_concat(["first document", "second"])  # uint16: 1 ... 2 1 ... 2
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import sentencepiece as spm

from tokenizer import BOS_ID, EOS_ID

# Token shards are flat uint16 (README, "Tokenizer and token shards"): ids must stay below 2**16.
MAX_VOCAB = 1 << 16


class Encoder:
    def __init__(self, model_path: str | None = None, model_proto: bytes | None = None):
        if model_proto is None:
            if not model_path:
                raise ValueError("Encoder needs a model path or the model's bytes")
            with open(model_path, "rb") as f:
                model_proto = f.read()
        self.sha256 = hashlib.sha256(model_proto).hexdigest()
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.vocab_size = self.sp.vocab_size()
        if self.vocab_size > MAX_VOCAB:
            raise ValueError(f"vocabulary of {self.vocab_size} pieces does not fit uint16 token shards")
        if (self.sp.bos_id(), self.sp.eos_id()) != (BOS_ID, EOS_ID):
            raise ValueError(f"model has bos/eos ids {self.sp.bos_id()}/{self.sp.eos_id()}, "
                             f"expected LLaMA's {BOS_ID}/{EOS_ID}")

    def encode_batch(self, texts: list[str], num_threads: int = 1) -> list[np.ndarray]:
        """One uint16 array per document: BOS, the pieces, EOS."""
        ids = self.sp.encode(list(texts), add_bos=True, add_eos=True, num_threads=num_threads)
        return [np.asarray(x, dtype=np.uint16) for x in ids]

    def encode_concat(self, texts: list[str], num_threads: int = 1) -> np.ndarray:
        """The documents' tokens as one uint16 stream (`<s> doc </s><s> doc </s>...`)."""
        ids = self.sp.encode(list(texts), add_bos=True, add_eos=True, num_threads=num_threads)
        total = sum(len(x) for x in ids)
        return np.fromiter(itertools.chain.from_iterable(ids), dtype=np.uint16, count=total)

    def decode(self, ids) -> str:
        """Text of ids, special pieces dropped."""
        return self.sp.decode([int(i) for i in ids if int(i) not in (BOS_ID, EOS_ID)])
