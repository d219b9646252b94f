"""CCNet line-level dedup, on the shared `RemoveRepeatedSpans` shuffle.

CCNet (Wenzek et al. 2020, `cc_net/dedup.py`, `text_normalizer.normalize_for_dedup`) splits
each page into lines, normalises each line (strip, lowercase, every digit -> 0, unicode
punctuation and control characters removed), hashes it to 64 bits, and removes every line whose
hash occurs more than once within a group of shards (CCNet: groups of 50 of a dump's 1,600
shards, `hash_in_mem=50`), the first occurrence included. Pages left with no text are dropped.

Here the occurrences are grouped by a Beam shuffle keyed by the line hash ((group, hash) with
several groups; pipeline.dedup), so memory per worker does not grow with the corpus. A file's group is `hash(file name) % groups`: 1 group
dedups the whole input; CCNet's setting for a 1,600-shard dump is 32 groups of ~50.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam

from pipeline.dedup import RemoveRepeatedSpans
from pipeline.document import Document
from pipeline.files import stable_hash64
from sources.commoncrawl.normalize import normalize_for_dedup


def line_hash(line: str) -> int:
    """64-bit hash of a line's normalised form (CCNet keeps 64 bits of sha1; ours is blake2b)."""
    return stable_hash64(normalize_for_dedup(line))


def group_of(doc: Document, groups: int) -> int:
    """The dedup group of a document's file (all documents of a file share one group)."""
    if groups <= 1:
        return 0
    return stable_hash64(str(doc.meta.get("file", ""))) % groups


class LineSpans:
    """`spans(doc)` for RemoveRepeatedSpans: (key, line number) of non-blank lines; the key is the
    line hash, or (group, line hash) with several groups (one group: a plain int, which the
    shuffle encodes and decodes faster than a tuple)."""

    def __init__(self, groups: int = 1):
        self.groups = groups

    def __call__(self, doc: Document):
        group = group_of(doc, self.groups) if self.groups > 1 else None
        for number, line in enumerate(doc.text.split("\n")):
            normalized = normalize_for_dedup(line)
            if normalized:
                line_key = stable_hash64(normalized)
                yield (line_key if group is None else (group, line_key)), number


def remove_lines(doc: Document, positions: set) -> Document:
    """A copy of the document without the lines at `positions` (line numbers), saying how many went.

    The input is left as it was (Beam elements are immutable), so a page emptied by dedup is
    rejected with its original text."""
    lines = doc.text.split("\n")
    kept = [line for number, line in enumerate(lines) if number not in positions]
    meta = {**doc.meta, "dedup_lines_removed": len(lines) - len(kept)}
    return dataclasses.replace(doc, text="\n".join(kept).strip(), meta=meta)


def line_dedup(groups: int = 1, keep_first: bool = False) -> beam.PTransform:
    """docs -> {"kept", "rejected"}: CCNet line dedup (`keep_first=False` removes every copy, as CCNet)."""
    return RemoveRepeatedSpans(LineSpans(groups), remove_lines, keep_first=keep_first,
                               empty_reason="empty_after_dedup")


def dedup_lines_in_memory(docs: list[Document], keep_first: bool = False) -> tuple[list[Document], list[Document]]:
    """The same dedup as a plain loop over an in-memory list (the benchmark floor); (kept, emptied)."""
    counts: dict[int, int] = {}
    first: dict[int, tuple[str, int]] = {}
    spans = [list(LineSpans(1)(doc)) for doc in docs]  # each line normalised and hashed once
    for doc, doc_spans in zip(docs, spans):
        for h, pos in doc_spans:
            counts[h] = counts.get(h, 0) + 1
            if h not in first or (doc.id, pos) < first[h]:
                first[h] = (doc.id, pos)
    kept, emptied = [], []
    for doc, doc_spans in zip(docs, spans):
        remove = {pos for h, pos in doc_spans
                  if counts[h] > 1 and not (keep_first and first[h] == (doc.id, pos))}
        edited = remove_lines(doc, remove) if remove else doc
        if edited.text.strip():
            kept.append(edited)
        else:
            emptied.append(doc)
    return kept, emptied
