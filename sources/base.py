"""What every source is: a config dataclass, a reader of its native files, and a composite
transform from file paths to clean documents.

A source subclasses `Source`, sets `name` and `Config`, implements `read(path)` (a generator of
`Document`s and `ErrorRecord`s, streaming its file) and `steps()` (its chain after reading: filters
and dedup as labelled steps, `pipeline.filters.Step`). The same `steps()` list builds the Beam
graph, and tests and the plain-loop benchmarks run it without Beam. What a source adds to
stats.json comes back from its steps ("extra") or from `read_stats`, never through attributes set
while the graph is built. The base class supplies reading with dead-lettering, and the accounting
that run.py turns into stats.json.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue

from pipeline.document import Document, ErrorRecord
from pipeline.filters import ERRORS, Ledger, Step

log = logging.getLogger("pipeline.read")
# A step may note strings for the job to write beside its documents: `doc.meta["lines:NAME"]`, a
# list of strings (Wikipedia's cited URLs). The composite takes them out of every document, kept
# or dropped, and outputs each distinct string once under "lines:NAME"; the launcher writes them
# to DATA/clean/SOURCE/NAME/NAME-SSSSS-of-NNNNN.txt.gz, one a line, and stats.json says
# NAME: {"found": strings noted (with repeats across documents), "distinct": strings written}.
LINES = "lines:"


@dataclasses.dataclass
class SourceConfig:
    """Flags every source shares. Subclass it with the source's own fields (each becomes a flag)."""


def is_special_file(path: str) -> bool:
    """A local FIFO, socket or device (after links): opening one blocks forever or never ends."""
    if "://" in path:
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing or a dangling link: the reader reports it
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


class ReadFn(beam.DoFn):
    """Calls `source.read(path)`; a reader that raises midway costs that file's remainder, counted.
    A FIFO, socket or device among the inputs is one `special_file` error, never opened (unless
    the source counts such files itself: `reads_special_files`)."""

    def __init__(self, source: "Source"):
        self.source = source

    def setup(self):
        self.source.setup()

    def process(self, path: str):
        if not self.source.reads_special_files and is_special_file(path):
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(self.source.name, path, "special_file",
                                                             "a FIFO, socket or device, not a file: not opened"))
            return
        docs = errors = 0
        try:
            for record in self.source.read(path):
                if isinstance(record, ErrorRecord):
                    errors += 1
                    yield pvalue.TaggedOutput(ERRORS, record)
                else:
                    docs += 1
                    yield record
        except Exception as exc:  # the reader's own guard missed it: still counted, never a crash
            errors += 1
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(self.source.name, path, "read_failed", exc))
        log.info("%s: read %s: %d documents, %d errors", self.source.name, path, docs, errors)


class _PopLinesFn(beam.DoFn):
    """Takes the `lines:NAME` lists out of a document's meta (of a `Rejected`'s document too):
    main output the record, tagged output LINES the (NAME, string) pairs."""

    def process(self, record):
        doc = getattr(record, "doc", record)
        for key in [k for k in doc.meta if k.startswith(LINES)]:
            for line in doc.meta.pop(key) or ():
                yield pvalue.TaggedOutput(LINES, (key[len(LINES):], line))
        yield record


def pop_lines(records: beam.PCollection, label: str) -> tuple[beam.PCollection, beam.PCollection]:
    """(the records without their `lines:` meta, the (NAME, string) pairs taken out)."""
    out = records | label >> beam.ParDo(_PopLinesFn()).with_outputs(LINES, main="records")
    return out["records"], out[LINES]


def _line_counts(pairs: beam.PCollection, distinct_pairs: beam.PCollection) -> beam.PCollection:
    """{NAME: {"found", "distinct"}} for stats.json."""
    found = pairs | "CountFound" >> beam.combiners.Count.PerKey()
    distinct = distinct_pairs | "Names" >> beam.Keys() | "CountDistinct" >> beam.combiners.Count.PerElement()
    return (
        {"found": found, "distinct": distinct}
        | "JoinCounts" >> beam.CoGroupByKey()
        | "LineStats" >> beam.MapTuple(lambda name, n: {name: {"found": sum(n["found"]),
                                                               "distinct": sum(n["distinct"])}})
    )


class Source(beam.PTransform):
    """files (PCollection[str]) -> {"in": docs read, "clean", "rejected", "errors"}."""

    name: str = ""
    Config: type = SourceConfig
    description: str = ""
    # Spread one file's documents over all workers after reading. Worth a shuffle for sources
    # whose input is a few huge files (a Books3 JSONL, a GitHub export); not for those read as
    # thousands of files whose first step is a shuffle anyway (CommonCrawl's line dedup).
    reshuffle_docs: bool = True
    # A source that reads FIFOs, sockets and devices safely itself (GitHub counts them as drops).
    reads_special_files: bool = False
    # The NAMEs of the `lines:NAME` its steps note (see LINES above), each written beside the shards.
    writes_lines: tuple[str, ...] = ()

    def __init__(self, config: SourceConfig | None = None):
        super().__init__(label=type(self).__name__)
        self.config = config if config is not None else self.Config()

    # --- what a source implements -------------------------------------------------------
    def setup(self) -> None:
        """Per-worker initialisation for the reader (models, lookups)."""

    def read(self, path: str) -> Iterator[Document | ErrorRecord]:
        raise NotImplementedError

    def steps(self) -> list[Step]:
        """The chain after reading, in order: (CamelCase label, Filter or PTransform), built from
        `self.config`. Checks that need no worker (a model file exists) raise here, before the
        job starts."""
        raise NotImplementedError

    def model_files(self) -> list[str]:
        """The model files its steps load (each may be an object-store URL), checked before the
        job starts; a filter names its own with a `model_files()` method."""
        return [path for _, step in self.steps() for path in getattr(step, "model_files", list)()]

    def read_stats(self, docs: beam.PCollection) -> beam.PCollection | None:
        """Optionally, dicts for stats.json computed from the documents as read (before cleaning)."""
        return None

    def extra_stats(self, stats: dict) -> dict:
        """What the source adds to stats.json once the job is done (the launcher calls it)."""
        return {}

    def expand_read(self, files: beam.PCollection):
        """Reads the files: returns (documents, errors). Sources whose natural unit is made by a
        join (a question thread from posts) override this to return those units."""
        read = (
            files
            | "ReshuffleFiles" >> beam.Reshuffle()
            | "ReadFiles" >> beam.ParDo(ReadFn(self)).with_outputs(ERRORS, main="docs")
        )
        docs = read["docs"]
        if self.reshuffle_docs:
            docs = docs | "ReshuffleDocs" >> beam.Reshuffle()
        return docs, read[ERRORS]

    # --- the composite --------------------------------------------------------------------
    def expand(self, files):
        docs, read_errors = self.expand_read(files)
        ledger = Ledger()
        clean = ledger.apply(docs, self.steps())
        rejected = ledger.rejected or [docs.pipeline | "NoRejected" >> beam.Create([])]
        errors = [read_errors, *ledger.errors]
        extra = [*ledger.extra, *filter(None, [self.read_stats(docs)])]
        outputs = {
            "in": docs,
            "read_errors": read_errors,
            "clean": clean,
            "rejected": tuple(rejected) | "AllRejected" >> beam.Flatten(),
            "errors": tuple(errors) | "AllErrors" >> beam.Flatten(),
        }
        if self.writes_lines:
            outputs["clean"], kept_lines = pop_lines(outputs["clean"], "PopLinesKept")
            outputs["rejected"], dropped_lines = pop_lines(outputs["rejected"], "PopLinesDropped")
            pairs = (kept_lines, dropped_lines) | "AllLines" >> beam.Flatten()
            distinct = pairs | "DistinctLines" >> beam.Distinct()
            extra.append(_line_counts(pairs, distinct))
            for name in self.writes_lines:
                label = name.title().replace("_", "")
                outputs[LINES + name] = (distinct | f"Only{label}" >> beam.Filter(lambda kv, n=name: kv[0] == n)
                                         | f"Values{label}" >> beam.Values())
        if extra:  # dicts merged into stats.json (see sources/run.py)
            outputs["extra"] = tuple(extra) | "AllExtra" >> beam.Flatten()
        return outputs
