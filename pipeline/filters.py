"""Filters are plain classes, testable without Beam; `ApplyFilter` is the one adapter.

A filter's `filter(doc)` returns `True` to keep the document (it may have edited `doc.text`
or `doc.meta` in place) or `(False, "reason")` to drop it. The adapter counts every reason
with Beam `Metrics`, routes dropped documents to a `rejected` output and turns an exception
on one document into a counted `ErrorRecord` on the `errors` output, so one bad record never
stops a job.
"""

from __future__ import annotations

import copy
import itertools
import logging
import re
from typing import Iterable, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline.document import Document, ErrorRecord, Rejected

FilterResult = Union[bool, tuple[bool, str]]
# One step of a source's chain: a CamelCase label (the step's name in the Beam graph) and either a
# `Filter` or a `beam.PTransform` from documents to {"kept", and any of "rejected", "errors",
# "extra"} (a dedup, a join: work a per-document filter cannot do). "extra" holds dicts that
# stats.json gains.
Step = tuple[str, "Filter | beam.PTransform"]

REJECTED = "rejected"
ERRORS = "errors"

log = logging.getLogger("pipeline.filters")


class RecordError(ValueError):
    """Raised by a filter for a document that is bad input, not a bug in the filter (an entity
    bomb, a runaway macro): the adapter dead-letters it as an error of its own `kind`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Filter:
    """Base class: subclasses set `name` and implement `filter`."""

    name: str = "filter"

    def setup(self) -> None:
        """Load models or lists once per worker (called before the first document)."""

    def filter(self, doc: Document) -> FilterResult:
        raise NotImplementedError(f"{type(self).__name__} must implement filter()")

    def __call__(self, doc: Document) -> tuple[bool, str]:
        """Normalises the result to `(keep, reason)`."""
        result = self.filter(doc)
        if isinstance(result, tuple):
            keep, reason = result
            return bool(keep), (reason if not keep else "")
        if result:
            return True, ""
        return False, self.name


class MinChars(Filter):
    """Drops a document with fewer than `min_chars` characters, surrounding whitespace aside."""

    def __init__(self, min_chars: int, name: str = "too_short"):
        self.min_chars = min_chars
        self.name = name

    def filter(self, doc: Document):
        return len(doc.text.strip()) >= self.min_chars


_NON_SPACE = re.compile(r"\S+")


class MinWords(Filter):
    """Drops a document with fewer than `min_words` whitespace-separated words (counted only up to
    the minimum: a long book is never split into a list)."""

    def __init__(self, min_words: int, name: str = "too_short"):
        self.min_words = min_words
        self.name = name

    def filter(self, doc: Document):
        words = itertools.islice(_NON_SPACE.finditer(doc.text), self.min_words)
        return sum(1 for _ in words) >= self.min_words


def run_filters(filters: Iterable[Filter | Step], docs: Iterable[Document]) -> tuple[list[Document], list[Rejected]]:
    """The same chain without Beam: the plain-loop floor in benchmarks, and handy in tests. Takes
    filters or a source's `steps()` (whose steps must then all be filters)."""
    filters = [f[1] if isinstance(f, tuple) else f for f in filters]
    for f in filters:
        if not isinstance(f, Filter):
            raise TypeError(f"{type(f).__name__} is a Beam transform, not a Filter: it needs a pipeline")
    for f in filters:
        f.setup()
    kept: list[Document] = []
    rejected: list[Rejected] = []
    for doc in docs:
        for f in filters:
            keep, reason = f(doc)
            if not keep:
                rejected.append(Rejected(doc, reason))
                break
        else:
            kept.append(doc)
    return kept, rejected


_SCALARS = frozenset({str, int, float, bool, type(None)})


def copy_meta(meta: dict) -> dict:
    """A deep copy of a document's meta: a plain dict copy when every value is a scalar (the common
    case, and the same result), `copy.deepcopy` otherwise (a filter may edit a nested value)."""
    if all(type(value) in _SCALARS for value in meta.values()):
        return dict(meta)
    return copy.deepcopy(meta)


class FilterDoFn(beam.DoFn):
    """Runs one `Filter`; main output = kept docs, tagged outputs = rejected docs and errors."""

    def __init__(self, filt: Filter):
        self.filt = filt
        self._counters: dict[str, object] = {}

    def setup(self):
        self.filt.setup()

    def start_bundle(self):
        self._bundle: dict[str, int] = {}

    def finish_bundle(self):
        if self._bundle:  # progress, one line per stage and bundle
            log.info("%s: %s", self.filt.name, ", ".join(f"{k} {n}" for k, n in sorted(self._bundle.items())))

    def _count(self, name: str) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(self.filt.name, name)
        counter.inc()
        bundle = getattr(self, "_bundle", None)
        if bundle is not None:
            bundle[name] = bundle.get(name, 0) + 1

    def process(self, doc: Document):
        # Beam elements are immutable: a runner may hand the same object to another step (the
        # ledger's count of characters in), so an editing filter works on its own copy.
        doc = Document(doc.id, doc.text, doc.source, copy_meta(doc.meta))
        try:
            keep, reason = self.filt(doc)
        except Exception as exc:  # one bad document must not stop the job
            kind = exc.kind if isinstance(exc, RecordError) else f"{self.filt.name}_exception"
            self._count(f"error_{kind}")
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(doc.source, doc.id, kind, exc, doc.text))
            return
        if keep:
            self._count("kept")
            yield doc
        else:
            self._count(f"dropped_{reason}")
            yield pvalue.TaggedOutput(REJECTED, Rejected(doc, reason))


class Ledger:
    """Collects the rejected and error side outputs of a source's steps for the writers and stats."""

    def __init__(self) -> None:
        self.rejected: list[beam.PCollection] = []
        self.errors: list[beam.PCollection] = []
        self.extra: list[beam.PCollection] = []

    def add(self, rejected: beam.PCollection | None = None, errors: beam.PCollection | None = None,
            extra: beam.PCollection | None = None) -> None:
        if rejected is not None:
            self.rejected.append(rejected)
        if errors is not None:
            self.errors.append(errors)
        if extra is not None:
            self.extra.append(extra)

    def apply(self, docs: beam.PCollection, steps: Iterable[Step]) -> beam.PCollection:
        """Runs a source's chain in order, each step under its label; returns the kept docs."""
        for label, step in steps:
            if isinstance(step, Filter):
                docs = self.filter(docs, step, label)
                continue
            out = docs | label >> step
            self.add(out.get("rejected"), out.get("errors"), out.get("extra"))
            docs = out["kept"]
        return docs

    def filter(self, docs: beam.PCollection, filt: Filter, label: str | None = None) -> beam.PCollection:
        """Applies `filt` as a labelled step, keeping its side outputs; returns the kept docs."""
        label = label or "".join(part.capitalize() for part in filt.name.split("_"))
        out = docs | label >> beam.ParDo(FilterDoFn(filt)).with_outputs(REJECTED, ERRORS, main="kept")
        self.add(out[REJECTED], out[ERRORS])
        return out["kept"]


class ApplyFilter(beam.PTransform):
    """`docs | ApplyFilter(f)` -> {"kept", "rejected", "errors"} for use outside a `Ledger`."""

    def __init__(self, filt: Filter):
        super().__init__()
        self.filt = filt

    def expand(self, docs):
        out = docs | beam.ParDo(FilterDoFn(self.filt)).with_outputs(REJECTED, ERRORS, main="kept")
        return {"kept": out["kept"], "rejected": out[REJECTED], "errors": out[ERRORS]}
