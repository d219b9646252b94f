"""The Beam steps of the token job (tokens.run): encode clean shards into seeded per-source
buckets, and write one mixed train shard per element."""

from __future__ import annotations

import collections
import json
import os

import apache_beam as beam
import numpy as np

from pipeline import stats
from pipeline.files import stable_hash64
from tokenizer import corpus
from tokens import mixture
from tokens.streams import LENGTH, TOKEN, SequenceReader, SourceStream

BATCH_DOCS = 256  # documents per SentencePiece call
PROBLEMS = "problems"  # side output: per shard, lines skipped and shards cut short


def problems_path(work: str, source: str) -> str:
    return os.path.join(work, f"{source}.problems.json")


def _write_problems(element, work: str) -> None:
    source, counts = element
    with open(problems_path(work, source), "w") as f:
        json.dump(counts, f)


class EncodeFileFn(beam.DoFn):
    """(source, shard path) -> ((source, bucket), (order key, id, uint16 token bytes)) per doc.
    A document's order key is a seeded hash of its id, so order does not depend on shards."""

    def __init__(self, model: bytes, seed: int, buckets: dict[str, int]):
        self.model, self.seed, self.buckets = model, seed, buckets

    def setup(self):
        from tokenizer.encode import Encoder
        self.encoder = Encoder(model_proto=self.model)
        self.docs = beam.metrics.Metrics.counter("tokens", "documents")
        self.tokens = beam.metrics.Metrics.counter("tokens", "tokens")

    def process(self, element):
        source, path = element
        batch, problems = [], collections.Counter()
        for doc in corpus.iter_docs(path, problems):
            batch.append(doc)
            if len(batch) == BATCH_DOCS:
                yield from self._encode(source, batch)
                batch = []
        yield from self._encode(source, batch)
        yield beam.pvalue.TaggedOutput(PROBLEMS, (source, dict(problems)))

    def _encode(self, source, batch):
        if not batch:
            return
        for doc, ids in zip(batch, self.encoder.encode_batch([d["text"] for d in batch])):
            key = stable_hash64(f"{self.seed}/{doc['id']}")
            self.docs.inc()
            self.tokens.inc(len(ids))
            yield (source, key * self.buckets[source] >> 64), (key, doc["id"], ids.astype(TOKEN).tobytes())


class WriteBucketFn(beam.DoFn):
    """((source, bucket), docs) -> work/<source>/bucket-BBBBB.bin (+ .len), docs in key order."""

    def __init__(self, work: str):
        self.work = work

    def process(self, element):
        (source, bucket), docs = element
        docs = sorted(docs)  # by (order key, id): the seeded order, ties impossible in practice
        folder = os.path.join(self.work, source)
        os.makedirs(folder, exist_ok=True)
        base = os.path.join(folder, f"bucket-{bucket:05d}")
        lengths = np.array([len(d[2]) // TOKEN.itemsize for d in docs], dtype=LENGTH)
        with open(base + ".len.tmp", "wb") as f:
            f.write(lengths.tobytes())
        with open(base + ".bin.tmp", "wb") as f:
            for _, _, data in docs:
                f.write(data)
        os.replace(base + ".len.tmp", base + ".len")
        os.replace(base + ".bin.tmp", base + ".bin")
        yield source, int(lengths.sum(dtype=np.int64))


class EncodeSources(beam.PTransform):
    """(source, clean shard path) pairs -> per-source bucket files under `work` (`buckets`: how
    many per source; a bucket's documents are sorted in one worker's memory)."""

    def __init__(self, model: bytes, seed: int, buckets: dict[str, int], work: str):
        super().__init__()
        self.model, self.seed, self.buckets, self.work = model, seed, buckets, work

    def expand(self, shards):
        encoded = (
            shards
            | "ReshuffleShards" >> beam.Reshuffle()
            | "Encode" >> beam.ParDo(EncodeFileFn(self.model, self.seed, self.buckets)).with_outputs(
                PROBLEMS, main="docs")
        )
        _ = (encoded[PROBLEMS]
             | "AddProblems" >> beam.CombinePerKey(stats.SumCounts())
             | "WriteProblems" >> beam.Map(_write_problems, self.work))
        return (
            encoded["docs"]
            | "GroupBuckets" >> beam.GroupByKey()
            | "WriteBuckets" >> beam.ParDo(WriteBucketFn(self.work))
        )


class WriteShardFn(beam.DoFn):
    """(k, per-source counts, per-source start positions) -> DATA/tokens/train-k.bin: the
    sources' next sequences in Megatron's blended order (tokens.mixture.blend_order)."""

    def __init__(self, streams: list[SourceStream], seq: int, seed: int, out: str, shards: int):
        self.streams, self.seq, self.seed, self.out, self.shards = streams, seq, seed, out, shards

    def setup(self):
        self.readers = [SequenceReader(s, self.seq, self.seed) for s in self.streams]

    def process(self, spec):
        k, counts, starts = spec
        order = mixture.blend_order(counts)
        rows = np.empty((len(order), self.seq), dtype=TOKEN)
        for s, reader in enumerate(self.readers):
            rows[order == s] = reader.read(starts[s], counts[s])
        path = os.path.join(self.out, f"train-{k:05d}.bin")
        with open(path + ".tmp", "wb") as f:
            f.write(rows.tobytes())
        os.replace(path + ".tmp", path)
        yield k
