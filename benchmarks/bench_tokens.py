"""Token shards: tokens per CPU-second (per core) of the whole job (encode, bucket, plan, cut,
place, write shards) beside the encoder alone on the same documents (the floor: the job can be no
faster than encoding), at 1x and 4x the input in one run. The job runs on the DirectRunner with
one worker process; its CPU time is the launcher's plus the worker's. Beam's start-up (two
pipelines) costs the same at both sizes, so the marginal rate, (4x - 1x tokens) / (4x - 1x CPU
seconds), is the job's rate without it. The worker's peak RSS (VmHWM, reported by the DoFns) is
given at both sizes: the DoFns hold one bucket or one shard, never the corpus, but the DirectRunner
sends a worker each stage's whole input as one bundle (a distributed runner's bundles are bounded),
so part of it grows with the input here."""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import tempfile
import time

from benchmarks.common import Row
from tests.fixtures.tokens import build_corpus, write_clean
from tokenizer import corpus, train
from tokenizer.encode import Encoder
from tokens import run as tokens

SOURCES = ("commoncrawl", "wikipedia", "books", "github")
BEAM = ["--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=1"]
SEQ_LEN = 256


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the DirectRunner's worker)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def scaled(base: str, data: str, factor: int) -> list[str]:
    """`base`'s corpus with every source `factor` times (numbered copies: other ids, other text),
    one clean shard per copy, as a corpus job writes shards of a bounded size; returns the texts
    in the job's input."""
    texts = []
    for source in SOURCES:
        docs = [d["text"] for p in corpus.shard_files(base, source) for d in corpus.iter_docs(p)]
        for i in range(factor):
            copies = [f"{i}: {t}" for t in docs]
            write_clean(data, source, copies, i, factor)
            texts += copies
    shutil.copytree(os.path.join(base, "tokenizer"), os.path.join(data, "tokenizer"))
    return texts


def measure(base: str, factor: int, cfg: tokens.TokensConfig) -> dict:
    with tempfile.TemporaryDirectory() as data:
        texts = scaled(base, data, factor)
        enc = Encoder(os.path.join(data, "tokenizer", "tokenizer.model"))
        start = time.process_time()
        encoded = sum(len(ids) for ids in enc.encode_batch(texts, num_threads=1))
        floor = time.process_time() - start
        cpu, wall = cpu_seconds(), time.perf_counter()
        mix = tokens.run(data, cfg, BEAM)
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    return {"tokens": encoded, "floor": floor, "cpu": cpu, "wall": wall, "rss": mix["worker_peak_rss_mb"],
            "written": mix["total_tokens"], "shards": len(mix["shards"])}


def run(quick: bool = True) -> list[Row]:
    with tempfile.TemporaryDirectory() as base:
        build_corpus(base)
        copies = 8 if quick else 32  # a larger CommonCrawl: the fixture's articles, numbered copies
        docs = [d["text"] for p in corpus.shard_files(base, "commoncrawl") for d in corpus.iter_docs(p)]
        write_clean(base, "commoncrawl", [f"{i}: {t}" for i in range(copies) for t in docs])
        train.run(base, train.TokenizerConfig(vocab_size=2000, sample_chars=400_000, num_threads=1))
        # buckets and shards of a fixed size: a worker's memory must not grow with the input
        cfg = tokens.TokensConfig(seq_len=SEQ_LEN, shard_tokens=(SEQ_LEN + 1) * 200, total_tokens=0)
        one = measure(base, 1, dataclasses.replace(cfg, buckets=2))
        four = measure(base, 4, dataclasses.replace(cfg, buckets=8))
    floor = (one["tokens"] + four["tokens"]) / (one["floor"] + four["floor"])
    marginal = (four["tokens"] - one["tokens"]) / max(four["cpu"] - one["cpu"], 1e-9)
    sizes = (f"1x: {one['tokens']:,} tokens in {one['cpu']:.1f} CPU-s ({one['wall']:.1f} s wall), "
             f"{one['shards']} shards; 4x: {four['tokens']:,} tokens in {four['cpu']:.1f} CPU-s "
             f"({four['wall']:.1f} s wall), {four['shards']} shards")
    rss = f"worker peak RSS {one['rss']:.0f} MB at 1x, {four['rss']:.0f} MB at 4x"
    return [
        Row("token shards (marginal, 4x-1x)", "tokens/s per core", marginal, "encoder alone", floor,
            notes=f"Beam start-up left out; {sizes}; {rss}"),
        Row("token shards (whole job, 4x)", "tokens/s per core", four["tokens"] / four["cpu"], "encoder alone",
            floor, notes="DirectRunner, one worker process; two pipelines' start-up included"),
        Row("token shards: worker peak RSS", "MB, 4x input vs 1x", four["rss"], "1x input", one["rss"],
            higher_is_better=False, notes="the job's DoFns hold one clean shard's batch, one bucket or one "
            "train shard (sizes kept equal); the DirectRunner hands the worker each stage's grouped input as one "
            "bundle, which grows with the input"),
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row.stage}: {row.ours:,.1f} {row.metric} vs {row.peer_name} {row.peer:,.1f} "
              f"({row.ratio:.2f}x) -- {row.notes}")
