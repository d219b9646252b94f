"""Token shards: tokens per second through the whole job (encode, bucket, plan, interleave,
write shards; Beam in-memory runner, one core) beside the encoder alone on the same documents
(the floor: the job can be no faster than encoding)."""

from __future__ import annotations

import os
import tempfile
import time

from benchmarks.common import Row
from tests.fixtures.tokens import build_corpus, write_clean
from tokenizer import corpus, train
from tokenizer.encode import Encoder
from tokens import run as tokens

BEAM = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]


def run(quick: bool = True) -> list[Row]:
    with tempfile.TemporaryDirectory() as data:
        build_corpus(data)
        copies = 16 if quick else 64  # a larger CommonCrawl: the fixture's articles, numbered copies
        docs = [d["text"] for p in corpus.shard_files(data, "commoncrawl") for d in corpus.iter_docs(p)]
        write_clean(data, "commoncrawl", [f"{i}: {t}" for i in range(copies) for t in docs])
        train.run(data, train.TokenizerConfig(vocab_size=2000, sample_chars=400_000, num_threads=1))
        enc = Encoder(os.path.join(data, "tokenizer", "tokenizer.model"))
        texts = [d["text"] for s in ("commoncrawl", "wikipedia", "books", "github")
                 for p in corpus.shard_files(data, s) for d in corpus.iter_docs(p)]
        start = time.perf_counter()
        encoded = len(enc.encode_concat(texts))
        floor = time.perf_counter() - start
        cfg = tokens.TokensConfig(seq_len=256, shard_tokens=257 * 200, buckets=4)
        start = time.perf_counter()
        mix = tokens.run(data, cfg, BEAM)
        job = time.perf_counter() - start
    return [Row("token shards", "tokens encoded/s per core", encoded / job, "encoder alone", encoded / floor,
                notes=f"{encoded:,} tokens encoded, {mix['total_tokens']:,} written in {len(mix['shards'])} "
                      f"shards (seq_len 256); Beam in-memory runner incl. two pipelines' start-up")]
