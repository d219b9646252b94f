"""The tokenizer's training sample: lines of clean text drawn from every source at the mixture's
sampling proportions, streamed, seeded, shuffled; plus a held-out slice per source for the
bytes-per-token report.

Seeded hashes fix which documents are held out (by id) and which lines are drawn (by id and
line number), so the sample does not depend on shard count; one pass over each source's shards,
stopping as soon as its character budget is met. Memory is bounded by the sample size.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import random
from typing import Iterator

from pipeline.files import stable_hash64
from tokenizer import corpus

log = logging.getLogger("tokenizer.sample")


@dataclasses.dataclass
class SourceSample:
    source: str
    weight: float  # renormalised over the sources with data
    budget_chars: int
    chars: int = 0  # drawn into the training sample
    lines: int = 0
    documents: int = 0
    heldout: list[str] = dataclasses.field(default_factory=list)  # held-out documents' text
    heldout_chars: int = 0
    problems: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # skipped lines


def unit(seed: int, doc_id: str) -> float:
    """A document's seeded position in [0, 1): decides held-out / sampled / skipped."""
    return stable_hash64(f"{seed}/{doc_id}") / 2.0**64


def cap_lines(text: str, max_bytes: int) -> Iterator[str]:
    """The document's non-empty lines, each cut (before a space where one is near, else at a
    UTF-8 character boundary) into pieces of at most `max_bytes`, SentencePiece's
    `max_sentence_length` (longer sentences are skipped by the trainer, losing e.g. minified code)."""
    for line in text.split("\n"):
        if not line.strip():
            continue
        data = line.encode("utf-8", "surrogatepass")
        if len(data) <= max_bytes:
            yield line
            continue
        start = 0
        while start < len(data):
            end = min(start + max_bytes, len(data))
            if end < len(data):
                cut = data.rfind(b" ", start + 1, end)
                if cut <= start + max_bytes // 2:
                    cut = end
                    while cut > start and (data[cut] & 0xC0) == 0x80:  # inside a UTF-8 sequence
                        cut -= 1
                end = cut
            piece = data[start:end].decode("utf-8", "replace")
            if piece.strip():
                yield piece
            start = end


def draw(data: str, weights: dict[str, float], sample_chars: int, max_sentence_bytes: int, seed: int,
         heldout_fraction: float, heldout_chars: int) -> tuple[list[str], list[SourceSample]]:
    """Draws the sample from `data/clean/<source>/`, for the sources in `weights` (already
    renormalised over those with data). Returns the shuffled lines and what each source gave."""
    lines: list[str] = []
    report = []
    for source, weight in weights.items():
        info = SourceSample(source, weight, int(round(weight * sample_chars)))
        _draw_source(data, info, lines, max_sentence_bytes, seed, heldout_fraction, heldout_chars)
        report.append(info)
        log.info("%s: %d chars from %d documents (budget %d), %d held-out chars",
                 source, info.chars, info.documents, info.budget_chars, info.heldout_chars)
    random.Random(seed).shuffle(lines)
    return lines, report


def _draw_source(data: str, info: SourceSample, lines: list[str], max_sentence_bytes: int, seed: int,
                 heldout_fraction: float, heldout_chars: int) -> None:
    files = corpus.shard_files(data, info.source)
    available = corpus.chars_out(data, info.source) or _count_chars(files)
    # Take each line (SentencePiece's unit, a "sentence") with probability rate, so the sample
    # spreads over the whole source, also one of a few big documents (x1.05 so that sampling
    # noise rarely leaves the budget unmet).
    rate = min(1.0, 1.05 * info.budget_chars / max(1, available * (1 - heldout_fraction)))
    fallback = None  # the lowest-hash document seen: held out if none falls under the fraction
    for doc in (d for path in files for d in corpus.iter_docs(path, info.problems)):
        u = unit(seed, doc["id"])
        if u < heldout_fraction:
            if info.heldout_chars < heldout_chars:
                _hold_out(info, doc["text"], heldout_chars)
            continue
        if info.chars >= info.budget_chars and info.heldout_chars >= heldout_chars:
            break
        first = len(lines)
        for number, line in enumerate(cap_lines(doc["text"], max_sentence_bytes)):
            if info.chars < info.budget_chars and (rate >= 1 or unit(seed, f"{doc['id']}/{number}") < rate):
                lines.append(line)
                info.lines += 1
                info.chars += len(line)
        info.documents += len(lines) > first
        if fallback is None or u < fallback[0]:
            fallback = (u, doc["text"], (first, len(lines)))
    if not info.heldout and fallback is not None and heldout_fraction > 0 and info.documents > 1:
        _, text, span = fallback
        if span[1] > span[0]:  # some of its lines were drawn: take them back out
            info.documents -= 1
            info.lines -= span[1] - span[0]
            info.chars -= sum(len(x) for x in lines[span[0]:span[1]])
            del lines[span[0]:span[1]]
        _hold_out(info, text, heldout_chars)


def _hold_out(info: SourceSample, text: str, heldout_chars: int) -> None:
    """Keeps the document for the bytes/token report, cut to what is left of the budget: one
    200 MB document (a dump, a minified bundle) would otherwise be encoded whole by both
    tokenizers for the report, minutes and several GB of Python ints."""
    text = text[: max(0, heldout_chars - info.heldout_chars)]
    info.heldout.append(text)
    info.heldout_chars += len(text)


def _count_chars(files: list[str]) -> int:
    """Characters in a source without a stats.json (one streaming pass)."""
    return sum(len(d["text"]) for path in files for d in corpus.iter_docs(path))
