"""Dedup building blocks, all as Beam shuffles (memory does not grow with corpus size).

`ExactDedup`: documents with the same key (content hash, URL) -> one survives (lowest id),
the rest are rejected with a reason.

`RemoveRepeatedSpans`: the CCNet line dedup / C4 three-sentence-span dedup shape. Each
document names its spans (hash, position); occurrences are grouped by hash (one shuffle; the
group is streamed, never held), the repeats are joined back to their documents by id, and the
document drops those spans. With `keep_first` the first occurrence (lowest
document id, then position) survives, as in C4; without it every copy goes, as in CCNet.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

import apache_beam as beam
from apache_beam import pvalue

from pipeline.document import Document, Rejected
from pipeline.filters import REJECTED

# TFDS `c4_utils.normalize_url`, applied before `dedupe_urls`: the scheme and a leading "www.",
# a query starting with utm_/ref/feed, and trailing slashes are not part of a page's identity
# (a crawl holds http and https, www and bare, tracking-tagged copies of the same page). The key
# of C4's URL dedup, and of the join of crawl pages with the URLs Wikipedia cites (`make classifier`).
_URL_SCHEME = re.compile(r"https?://(www\.)?")
_URL_TRACKING_QUERY = re.compile(r"\?(utm_|ref|feed).*")


def normalize_url(url: str) -> str:
    return _URL_TRACKING_QUERY.sub("", _URL_SCHEME.sub("", url)).rstrip("/")


class _KeepLowestId(beam.DoFn):
    def __init__(self, reason: str):
        self.reason = reason

    def process(self, element):
        _, docs = element
        winner = None
        for doc in docs:  # first pass: find the survivor without holding the group in a list
            if winner is None or doc.id < winner.id:
                winner = doc
        kept = False
        for doc in docs:
            if not kept and doc.id == winner.id:  # exactly one copy survives, even with equal ids
                kept = True
                continue
            doc.meta.setdefault("duplicate_of", winner.id)
            yield pvalue.TaggedOutput(REJECTED, Rejected(doc, self.reason))
        yield winner


class ExactDedup(beam.PTransform):
    """docs -> {"kept", "rejected"}; `key(doc)` is the identity to dedup on."""

    def __init__(self, key: Callable[[Document], str | int], reason: str = "duplicate"):
        super().__init__()
        self.key = key
        self.reason = reason

    def expand(self, docs):
        key = self.key
        out = (
            docs
            | "KeyByContent" >> beam.Map(lambda d: (key(d), d))
            | "GroupDuplicates" >> beam.GroupByKey()
            | "KeepLowestId" >> beam.ParDo(_KeepLowestId(self.reason)).with_outputs(REJECTED, main="kept")
        )
        return {"kept": out["kept"], "rejected": out[REJECTED]}


class _RepeatedOccurrences(beam.DoFn):
    """One span hash's occurrences -> the (doc id, position) pairs to remove.

    Two passes over the grouped iterable (which Dataflow pages lazily, so a line repeated in
    millions of pages never sits in memory): count and find the first, then emit the repeats.
    """

    def __init__(self, keep_first: bool):
        self.keep_first = keep_first

    def process(self, element):
        _, occurrences = element
        count, first = 0, None
        for occurrence in occurrences:
            count += 1
            if first is None or occurrence < first:
                first = occurrence
        if count < 2:
            return
        for occurrence in occurrences:
            if self.keep_first and occurrence == first:
                continue
            yield occurrence


class _ApplyRemovals(beam.DoFn):
    def __init__(self, remove: Callable[[Document, set], Document | None], empty_reason: str):
        self.remove = remove
        self.empty_reason = empty_reason

    def process(self, element):
        _, grouped = element
        for doc in grouped["doc"]:
            positions = set(grouped["remove"])
            if not positions:
                yield doc
                continue
            edited = self.remove(doc, positions)
            if edited is None or not edited.text.strip():
                yield pvalue.TaggedOutput(REJECTED, Rejected(doc, self.empty_reason))
            else:
                yield edited


class RemoveRepeatedSpans(beam.PTransform):
    """docs -> {"kept", "rejected"}.

    `spans(doc)` yields `(hash, position)` for each span; `remove(doc, positions)` returns the
    document without those spans (or None to drop it); documents left empty are rejected
    with `empty_reason`.
    """

    def __init__(self, spans: Callable[[Document], Iterable[tuple[int, int]]],
                 remove: Callable[[Document, set], Document | None],
                 keep_first: bool, empty_reason: str = "empty_after_dedup"):
        super().__init__()
        self.spans = spans
        self.remove = remove
        self.keep_first = keep_first
        self.empty_reason = empty_reason

    def expand(self, docs):
        spans = self.spans
        removals = (
            docs
            | "Spans" >> beam.FlatMap(lambda d: ((h, (d.id, pos)) for h, pos in spans(d)))
            | "GroupSpans" >> beam.GroupByKey()
            | "RepeatedOccurrences" >> beam.ParDo(_RepeatedOccurrences(self.keep_first))
        )
        out = (
            {"doc": docs | "KeyById" >> beam.Map(lambda d: (d.id, d)), "remove": removals}
            | "JoinToDocs" >> beam.CoGroupByKey()
            | "RemoveSpans" >> beam.ParDo(_ApplyRemovals(self.remove, self.empty_reason)).with_outputs(
                REJECTED, main="kept")
        )
        return {"kept": out["kept"], "rejected": out[REJECTED]}
