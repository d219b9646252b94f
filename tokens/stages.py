"""The Beam steps of the token job (tokens.run). Every file goes through Beam's FileSystems, so
DATA may be a local folder or an object-store URL, and a worker never needs the launcher's disk.

Encode: clean shards -> documents encoded -> grouped into seeded per-source buckets -> one
bucket file each (`.work/<source>/bucket-BBBBB.bin` + `.len`), and a small summary (documents
and tokens per bucket) for the launcher's plan.
Shard: each bucket is cut where it lies (tokens.layout) -> validation pieces grouped per source,
training sequences (whole, or joined from two buckets' pieces) grouped per output shard -> each
shard and each val/<source>.bin written by one worker, atomically.
"""

from __future__ import annotations

import collections
import hashlib
import json

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline import stats
from pipeline.files import read_bytes, stable_hash64, write_atomic_bytes
from tokenizer import corpus
from tokens import mixture
from tokens.layout import LENGTH, TOKEN, SourcePlan, pieces, placements

BATCH_DOCS = 256  # documents per SentencePiece call
PROBLEMS = "problems"  # side output: per shard, lines skipped and shards cut short
VAL, PARTS = "val", "parts"  # side outputs of the cut: validation pieces, pieces of sequences


def bucket_path(work: str, source: str, bucket: int, ext: str) -> str:
    return FileSystems.join(work, source, f"bucket-{bucket:05d}.{ext}")


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM; this one's by default), 0 where /proc is not there
    or the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _Measured(beam.DoFn):
    """A DoFn that reports its worker's peak memory (a Beam distribution, MB)."""

    def start_bundle(self):
        self.rss = beam.metrics.Metrics.distribution("tokens", "worker_peak_rss_mb")

    def finish_bundle(self):
        self.rss.update(int(peak_rss_mb()))


class EncodeFileFn(_Measured):
    """(source, shard path) -> ((source, bucket), (order key, id, uint16 token bytes)) per doc.
    A document's order key is a seeded hash of its id, so order does not depend on shards."""

    def __init__(self, model: bytes, seed: int, buckets: dict[str, int]):
        self.model, self.seed, self.buckets = model, seed, buckets

    def setup(self):
        from tokenizer.encode import Encoder
        self.encoder = Encoder(model_proto=self.model)

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
            yield (source, key * self.buckets[source] >> 64), (key, doc["id"], ids.astype(TOKEN).tobytes())


class WriteBucketFn(_Measured):
    """((source, bucket), docs) -> work/<source>/bucket-BBBBB.bin (+ .len, uint32 document
    lengths), documents in key order; yields (source, bucket, documents, tokens)."""

    def __init__(self, work: str):
        self.work = work

    def process(self, element):
        (source, bucket), docs = element
        docs = sorted(docs)  # by (order key, id): the seeded order, ties impossible in practice
        lengths = np.array([len(d[2]) // TOKEN.itemsize for d in docs], dtype=LENGTH)
        write_atomic_bytes(bucket_path(self.work, source, bucket, "len"), lengths.tobytes())
        write_atomic_bytes(bucket_path(self.work, source, bucket, "bin"), b"".join(d[2] for d in docs))
        yield source, int(bucket), len(docs), int(lengths.sum(dtype=np.int64))


def _write_summary(summary: list, work: str) -> None:
    buckets = sorted(s[1:] for s in summary if s[0] == "bucket")
    problems = {s[1]: s[2] for s in summary if s[0] == "problems"}
    write_atomic_bytes(FileSystems.join(work, "encoded.json"),
                       json.dumps({"buckets": buckets, "problems": problems}).encode())


class EncodeSources(beam.PTransform):
    """(source, clean shard path) pairs -> per-source bucket files under `work` and
    work/encoded.json (`buckets`: how many per source; a bucket is sorted in one worker's memory)."""

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
        problems = (encoded[PROBLEMS]
                    | "AddProblems" >> beam.CombinePerKey(stats.SumCounts())
                    | "TagProblems" >> beam.Map(lambda kv: ("problems", kv[0], kv[1])))
        written = (encoded["docs"]
                   | "GroupBuckets" >> beam.GroupByKey()
                   | "WriteBuckets" >> beam.ParDo(WriteBucketFn(self.work))
                   | "TagBuckets" >> beam.Map(lambda row: ("bucket", *row)))
        return ((written, problems) | "Summary" >> beam.Flatten()
                | "OneList" >> beam.combiners.ToList()
                | "WriteSummary" >> beam.Map(_write_summary, self.work))


class CutBucketFn(_Measured):
    """(source index, bucket position) -> its validation piece (VAL: (source, (offset, bytes))),
    pieces of sequences it shares with a neighbour (PARTS: ((source, j), (start, bytes))), and
    its whole sequences placed (main: (shard, (source, ranks, rows bytes)), one per shard)."""

    def __init__(self, plans: list[SourcePlan], seed: int, work: str):
        self.plans, self.seed, self.work = plans, seed, work

    def process(self, element):
        s, b = element
        plan = self.plans[s]
        a = plan.offsets[b]
        tokens = np.frombuffer(read_bytes(bucket_path(self.work, plan.name, plan.buckets[b], "bin")), dtype=TOKEN)
        e = a + len(tokens)
        if a < plan.keep_val:
            yield beam.pvalue.TaggedOutput(VAL, (s, (a, tokens[: min(e, plan.keep_val) - a].tobytes())))
        limit = plan.sequences * plan.seq  # the tail after the last whole sequence is not drawn
        t0, t1 = max(a, plan.held) - plan.held, min(e - plan.held, limit)
        whole, parts = pieces(t0, t1, plan.seq)
        for j, lo, hi in parts:
            at = lo + plan.held - a
            yield beam.pvalue.TaggedOutput(PARTS, ((s, j), (lo - j * plan.seq, tokens[at:at + hi - lo].tobytes())))
        if len(whole):
            at = whole.start * plan.seq + plan.held - a
            rows = tokens[at:at + len(whole) * plan.seq].reshape(len(whole), plan.seq)
            yield from place(plan, self.seed, np.arange(whole.start, whole.stop, dtype=np.int64), rows)


def place(plan: SourcePlan, seed: int, j: np.ndarray, rows: np.ndarray):
    """(shard, (source, ranks, rows bytes)) for sequences j (rows: their tokens), every epoch."""
    for epoch in range(plan.epochs):
        drawn, shard, rank = placements(plan, seed, j, epoch)
        if not len(shard):
            continue
        order = np.argsort(shard, kind="stable")
        shard, rank, chosen = shard[order], rank[order], rows[drawn][order]
        cuts = np.flatnonzero(np.diff(shard)) + 1
        for lo, hi in zip([0, *cuts], [*cuts, len(shard)]):
            yield int(shard[lo]), (plan.index, rank[lo:hi], chosen[lo:hi].tobytes())


class JoinSequenceFn(_Measured):
    """((source, j), pieces) -> the sequence joined, placed as CutBucketFn places whole ones."""

    def __init__(self, plans: list[SourcePlan], seed: int):
        self.plans, self.seed = plans, seed

    def process(self, element):
        (s, j), parts = element
        plan = self.plans[s]
        row = np.frombuffer(b"".join(data for _, data in sorted(parts)), dtype=TOKEN)
        if len(row) != plan.seq:
            raise RuntimeError(f"{plan.name}: sequence {j} joined from pieces has {len(row)} tokens, not {plan.seq}")
        yield from place(plan, self.seed, np.array([j], dtype=np.int64), row.reshape(1, plan.seq))


class WriteShardFn(_Measured):
    """(k, placed rows) -> out/train-k.bin in Megatron's blend order; yields its record."""

    def __init__(self, quotas: np.ndarray, seq: int, out: str):
        self.quotas, self.seq, self.out = quotas, seq, out

    def process(self, element):
        k, chunks = element
        counts = self.quotas[k]
        order = mixture.blend_order(counts)
        slots = [np.flatnonzero(order == s) for s in range(len(counts))]
        rows = np.zeros((len(order), self.seq), dtype=TOKEN)
        filled = 0
        for s, ranks, data in chunks:
            rows[slots[s][ranks]] = np.frombuffer(data, dtype=TOKEN).reshape(len(ranks), self.seq)
            filled += len(ranks)
        if filled != len(order):
            raise RuntimeError(f"shard {k}: {filled} sequences placed, {len(order)} planned")
        data = rows.tobytes()
        name = f"train-{k:05d}.bin"
        write_atomic_bytes(FileSystems.join(self.out, name), data)
        yield "shard", k, {"file": name, "sequences": len(order), "tokens": len(order) * self.seq,
                           "sha256": hashlib.sha256(data).hexdigest()}


class WriteValFn(_Measured):
    """(source index, pieces) -> out/val/<source>.bin (the pieces in stream order)."""

    def __init__(self, plans: list[SourcePlan], out: str):
        self.plans, self.out = plans, out

    def process(self, element):
        s, parts = element
        name = self.plans[s].name
        data = b"".join(piece for _, piece in sorted(parts))
        if not data:  # nothing held out whole (an object store refuses an empty upload)
            return
        write_atomic_bytes(FileSystems.join(self.out, "val", f"{name}.bin"), data)
        yield "val", name, {"file": f"val/{name}.bin", "documents": self.plans[s].val_documents,
                            "tokens": len(data) // TOKEN.itemsize, "sha256": hashlib.sha256(data).hexdigest()}
