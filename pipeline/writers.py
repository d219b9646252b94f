"""Sharded gzip JSON-lines writers: deterministic (same input, byte-identical shards) and atomic.

Each record goes to shard `stable_hash64(id) % N`; a shard is grouped, sorted by id, gzipped
with a zero timestamp and written to a hidden `.tmp-*` file. Shards that end up empty are still
written, so `<name>-SSSSS-of-NNNNN` is always a complete set. Only once every shard of the new
set is written does one step remove the earlier run's shards (of any N) and rename the new ones
into place: a job killed while writing leaves the earlier set whole and no new shard visible,
never the two sets mixed (a reader globbing `<name>-*-of-*` would read both).
"""

from __future__ import annotations

import gzip
import io
import re
import uuid
from typing import Callable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.files import stable_hash64

# Target uncompressed bytes per shard when `num_shards` is 0 (auto): big enough that a corpus
# is not thousands of tiny files, small enough that one shard sorts in a worker's memory.
TARGET_SHARD_BYTES = 256 * 1024 * 1024

# Shards are written under this hidden prefix and renamed when the whole set is written
# (the same prefix as pipeline.files.atomic_write, so expand_inputs never reads one).
STAGING = ".tmp-"


def shard_name(prefix: str, index: int, total: int, suffix: str = ".jsonl.gz") -> str:
    return f"{prefix}-{index:05d}-of-{total:05d}{suffix}"


def gzip_lines(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    # mtime=0 and no file name in the header: identical input gives identical bytes.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="", compresslevel=6) as gz:
        for line in lines:
            gz.write(line.encode("utf-8", "surrogatepass"))
            gz.write(b"\n")
    return buffer.getvalue()


class _WriteShard(beam.DoFn):
    """Writes one shard to a hidden staging file; yields (staging path, final path)."""

    def __init__(self, directory: str, prefix: str, suffix: str = ".jsonl.gz"):
        self.directory = directory
        self.prefix = prefix
        self.suffix = suffix

    def process(self, element, total: int):
        index, groups = element
        records = sorted(r for group in groups for r in group)  # (key, line) pairs: sort by key
        name = shard_name(self.prefix, index, total, self.suffix)
        staging = FileSystems.join(self.directory, f"{STAGING}{name}-{uuid.uuid4().hex[:8]}")
        if not FileSystems.exists(self.directory):
            FileSystems.mkdirs(self.directory)
        handle = FileSystems.create(staging)
        try:
            handle.write(gzip_lines([line for _, line in records]))
        finally:
            handle.close()
        yield staging, FileSystems.join(self.directory, name)


class _Commit(beam.DoFn):
    """Once the whole new set is staged: removes the earlier run's shards (any N) and the
    staging files of killed runs, then renames the new set into place. Safe to retry."""

    def __init__(self, directory: str, prefix: str, suffix: str = ".jsonl.gz"):
        self.directory = directory
        self.prefix = prefix
        self.suffix = suffix

    def _existing(self, pattern: str, name_re: str) -> list[str]:
        try:
            found = FileSystems.match([FileSystems.join(self.directory, pattern)])[0].metadata_list
        except Exception:  # Beam raises when nothing matches
            return []
        regex = re.compile(name_re)
        here = FileSystems.split(FileSystems.join(self.directory, "x"))[0]  # not its sub-folders
        return sorted(m.path for m in found
                      if FileSystems.split(m.path)[0] == here and regex.fullmatch(FileSystems.split(m.path)[1]))

    def process(self, written: list[tuple[str, str]]):
        written = sorted(written, key=lambda pair: pair[1])
        staged = {staging for staging, _ in written}
        pending = [(staging, final) for staging, final in written if FileSystems.exists(staging)]
        moving = {final for _, final in pending}
        finals = {final for _, final in written}
        shard_re = re.escape(self.prefix) + r"-\d{5}-of-\d{5}" + re.escape(self.suffix)
        old = [path for path in self._existing(f"{self.prefix}-*", shard_re)
               if path not in finals or path in moving]
        orphans = [path for path in self._existing(f"{STAGING}{self.prefix}-*", re.escape(STAGING) + shard_re + r"-[0-9a-f]{8}")
                   if path not in staged]
        if old or orphans:
            FileSystems.delete(old + orphans)
        for staging, final in pending:
            FileSystems.rename([staging], [final])
        yield len(written)


class WriteShards(beam.PTransform):
    """Writes a PCollection of records as `<directory>/<prefix>-SSSSS-of-NNNNN.jsonl.gz`.

    `key` gives each record's sort key (its id); `to_line` its JSON line. `num_shards=0` picks
    N from the total size. `suffix` names other gzip line files (`.txt.gz`: one value a line).
    Returns a PCollection with the number of shards written.
    """

    def __init__(self, directory: str, prefix: str, key: Callable, to_line: Callable, num_shards: int = 0,
                 suffix: str = ".jsonl.gz"):
        super().__init__()
        self.suffix = suffix
        self.directory = directory
        self.prefix = prefix
        self.key = key
        self.to_line = to_line
        self.num_shards = num_shards

    def expand(self, records):
        key, to_line, fixed = self.key, self.to_line, self.num_shards
        lines = records | "ToLine" >> beam.Map(lambda r: (key(r), to_line(r)))
        if fixed > 0:
            total = lines.pipeline | "NumShards" >> beam.Create([fixed])
        else:
            total = (
                lines
                | "Bytes" >> beam.Map(lambda kv: len(kv[1]) + 1)
                | "SumBytes" >> beam.CombineGlobally(sum)
                | "AutoShards" >> beam.Map(lambda n: max(1, -(-n // TARGET_SHARD_BYTES)))
            )
        total_side = beam.pvalue.AsSingleton(total)
        keyed = lines | "AssignShard" >> beam.Map(lambda kv, n: (stable_hash64(kv[0]) % n, kv), total_side)
        # Every shard index appears, so empty shards are written too.
        indices = total | "ShardIndices" >> beam.FlatMap(lambda n: [(i, None) for i in range(n)])
        grouped = (
            {"records": keyed, "index": indices}
            | "GroupShards" >> beam.CoGroupByKey()
            | "Records" >> beam.MapTuple(lambda i, g: (i, [g["records"]]))
        )
        writer = _WriteShard(self.directory, self.prefix, self.suffix)
        written = grouped | "WriteShard" >> beam.ParDo(writer, total_side)
        return (
            written
            | "AllWritten" >> beam.combiners.ToList()
            | "Commit" >> beam.ParDo(_Commit(self.directory, self.prefix, self.suffix))
        )

