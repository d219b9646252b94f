"""C4: the Colossal Clean Crawled Corpus recipe (T5 paper, Raffel et al. 2020, section 2.2),
15% of the LLaMA mixture.

Input, by file name, else by content (a file whose first bytes, gunzipped, are `WARC/`):
- Common Crawl WET/WARC files (`*.warc.wet.gz`, `*.warc.gz`, `*.wet`, `*.warc`): the full recipe
  from raw crawl, read by `pipeline.warc.read_warc` (WAT files give no pages);
- the released C4 JSON format (`c4-train.00000-of-01024.json.gz`, one `{"text", "timestamp",
  "url"}` object a line, gzip or plain): revalidated and reformatted.
Anything else (a `wet.paths.gz` list passed by mistake) is one `unreadable_file` error.

Steps (labels as in the Beam graph), after TFDS `tensorflow_datasets/text/c4.py`:
`PageLength` (TFDS `is_valid_length`) -> `DedupUrl` (TFDS `normalize_url` + `dedupe_urls`, one page per URL) ->
`CleanPage` (`sources.c4.rules.CleanPage`: the line and page rules) -> `BadWords` (LDNOOBW) ->
`LanguageId` (fastText lid.176, see below) -> `DedupSpans` (the paper: "we discarded all but one
of any three-sentence span occurring more than once in the data set").

Language ID: C4 kept pages langdetect gives English with probability >= 0.99. We use the same
fastText lid.176 model as the CommonCrawl source; fastText's probabilities are calibrated
differently: on the sample's clean English news pages lid.176 scores 0.93-1.0 and four in five
score under 0.99, so 0.99 would discard most good text. The default 0.65 is FineWeb's English threshold (datatrove `LanguageFilter`,
`language_threshold=0.65`), stricter than CCNet's 0.5 (`split_by_lang.py`), in keeping with C4
being the stricter recipe. `--language-threshold` changes it.

Language ID runs before the span dedup (TFDS runs it after): it is cheap and makes the shuffle
smaller; the only effect is that a non-English page cannot "own" an English span.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import os
import zlib
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from pipeline import stats
from pipeline.dedup import ExactDedup, RemoveRepeatedSpans, normalize_url
from pipeline.document import Document, ErrorRecord, stable_id
from pipeline.files import LongLine, capped_lines, read_blank_lines, stable_hash64
from pipeline.filters import Step
from pipeline.langid import LanguageId
from pipeline.warc import PATHS_LISTING_HINT, read_warc
from sources.base import Source, SourceConfig
from sources.c4 import rules as c4_rules

NAME = "c4"
# A released C4 page is at most 190,000 characters (TFDS `is_valid_length`); a JSON line far
# beyond that is a broken record, skipped by streaming through it.
MAX_LINE_BYTES = 8 * 1024 * 1024
WARC_SUFFIXES = (".warc.wet.gz", ".wet.gz", ".warc.gz", ".wet", ".warc")
SPAN_SENTENCES = 3  # the paper's "three-sentence span"
# FineWeb's fastText English threshold (see the module docstring); CCNet uses 0.5.
LANGUAGE_THRESHOLD = 0.65


@dataclasses.dataclass
class C4Config(SourceConfig):
    min_words_per_line: int = dataclasses.field(default=c4_rules.MIN_WORDS_PER_LINE, metadata={
        "help": "drop lines with fewer words (T5 paper: 3; TFDS code: 5)"})
    min_sentences: int = dataclasses.field(default=c4_rules.MIN_SENTENCES, metadata={
        "help": "drop pages with fewer sentences after cleaning (T5 paper: 5; TFDS code: 3)"})
    max_word_length: int = dataclasses.field(default=c4_rules.MAX_WORD_LENGTH, metadata={
        "help": "drop lines with a longer word (TFDS)"})
    max_page_chars: int = dataclasses.field(default=c4_rules.MAX_PAGE_CHARS, metadata={
        "help": "drop longer pages before cleaning (TFDS is_valid_length)"})
    bad_words: bool = dataclasses.field(default=True, metadata={
        "help": "drop pages with a word of the LDNOOBW English list (C4; off = C4's en.noblocklist)"})
    language_threshold: float = dataclasses.field(default=LANGUAGE_THRESHOLD, metadata={
        "help": "fastText lid.176 English probability to keep a page (C4 used langdetect >= 0.99)"})
    lid_model: str = dataclasses.field(default="", metadata={
        "help": "fastText lid.176 model (default: data/models/lid.176.ftz, else the setup asset)"})
    dedup_spans: bool = dataclasses.field(default=True, metadata={
        "help": "remove repeated three-sentence spans, keeping the first occurrence (C4)"})


def is_warc(path: str) -> bool:
    return path.lower().endswith(WARC_SUFFIXES)


def sniff(path: str) -> str:
    """What a file holds, by its first bytes (gunzipped when gzip): "warc" (`WARC/` first, as
    WET, WARC and WAT files under any name), "json" (a C4 line starts with `{`; also empty and
    unreadable files, which the JSON reader reports), else "other" (e.g. a `wet.paths.gz` list)."""
    try:
        raw, lines = _open_text_lines(path)
        with raw:
            head = lines.read(256).lstrip()
    except Exception:  # a truncated or corrupt file: the JSON reader counts it
        return "json"
    if head.startswith(b"WARC/"):
        return "warc"
    if not head or head.startswith(b"{"):
        return "json"
    return "other"


def _open_text_lines(path: str):
    """Binary line reader over a C4 JSON file, gunzipping when the name or magic says so."""
    handle = FileSystems.open(path, compression_type="uncompressed")
    head = handle.read(2)
    handle.seek(0)
    if head == b"\x1f\x8b":
        return handle, gzip.GzipFile(fileobj=handle)
    return handle, handle


def _first_line(path: str) -> bytes:
    try:
        raw, lines = _open_text_lines(path)
        with raw:
            return lines.readline(1024)
    except Exception:
        return b""


def parse_c4_line(line: bytes, where: str, file_name: str, number: int) -> Document | ErrorRecord:
    """One released-C4 line -> Document, or the ErrorRecord saying what is wrong with it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ErrorRecord.of(NAME, where, "invalid_utf8", exc, line)
    try:
        record = json.loads(text)
    except ValueError as exc:
        return ErrorRecord.of(NAME, where, "malformed_json", exc, line)
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return ErrorRecord.of(NAME, where, "invalid_record", "expected an object with a string 'text'", line)
    url, timestamp = record.get("url", ""), record.get("timestamp", "")
    meta = {"url": url if isinstance(url, str) else str(url),
            "timestamp": timestamp if isinstance(timestamp, str) else str(timestamp)}
    return Document(id=stable_id(NAME, file_name, str(number)), text=record["text"], source=NAME, meta=meta)


def read_c4_json(path: str) -> Iterator[Document | ErrorRecord]:
    """Streams a released-C4 `.json(.gz)` file; bad lines and a truncated gzip are errors."""
    file_name = os.path.basename(path)
    try:
        raw, lines = _open_text_lines(path)
    except Exception as exc:
        yield ErrorRecord.of(NAME, path, "unreadable_file", exc)
        return
    number = 0
    with raw:
        try:
            for line in capped_lines(lines, MAX_LINE_BYTES):
                number += 1
                where = f"{path}:{number}"
                if isinstance(line, LongLine):
                    yield ErrorRecord.of(NAME, where, "record_too_large", f"line over {MAX_LINE_BYTES} bytes",
                                         line.head)
                elif line.strip():
                    yield parse_c4_line(line, where, file_name, number)
                else:
                    number += read_blank_lines(lines, MAX_LINE_BYTES).count(b"\n")  # a run at once
        except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt gzip
            # raised while reading line `number + 1` (or reading past it, when it is over the cap)
            yield ErrorRecord.of(NAME, f"{path}:{number + 1}", "truncated_gzip", exc)


def from_warc(record: Document | ErrorRecord) -> Document | ErrorRecord:
    """A `read_warc` document in C4's shape: meta `url`, `timestamp` (the WARC-Date)."""
    if isinstance(record, ErrorRecord):
        return record
    record.meta = {"url": record.meta.get("url", ""), "timestamp": record.meta.get("date", "")}
    return record


# --- three-sentence spans -------------------------------------------------------------------
def _sentence_slices(text: str) -> list[tuple[int, int, int]]:
    """(line index, start, end) of every sentence of a cleaned page, in order."""
    out = []
    for index, line in enumerate(text.split("\n")):
        start = 0
        for end in c4_rules.sentence_ends(line) + [len(line)]:
            if line[start:end].strip():
                out.append((index, start, end))
            start = end
    return out


def _normalise(sentence: str) -> str:
    return " ".join(sentence.lower().split())


def page_spans(doc: Document) -> Iterator[tuple[int, int]]:
    """(hash, position) of every window of three consecutive sentences of the page."""
    lines = doc.text.split("\n")
    sentences = [_normalise(lines[i][s:e]) for i, s, e in _sentence_slices(doc.text)]
    for position in range(len(sentences) - SPAN_SENTENCES + 1):
        yield stable_hash64("\n".join(sentences[position:position + SPAN_SENTENCES])), position


def remove_spans(doc: Document, positions: set, min_sentences: int) -> Document | None:
    """The page without the sentences of the given spans; None if fewer than `min_sentences`
    remain (TFDS re-checks the sentence count after its dedup too)."""
    slices = _sentence_slices(doc.text)
    drop = {p + k for p in positions for k in range(SPAN_SENTENCES)}
    lines = doc.text.split("\n")
    kept_lines: dict[int, list[str]] = {}
    kept = 0
    for number, (index, start, end) in enumerate(slices):
        if number in drop:
            continue
        kept_lines.setdefault(index, []).append(lines[index][start:end])
        kept += 1
    if kept < min_sentences:
        return None
    doc.text = "\n".join("".join(parts).strip() for _, parts in sorted(kept_lines.items()))
    return doc


class _PopLineCountsFn(beam.DoFn):
    def process(self, doc: Document):
        counts = doc.meta.pop(c4_rules.LINES_KEY, None)
        if counts:
            yield pvalue.TaggedOutput("lines", counts)
        yield doc


class PopLineCounts(beam.PTransform):
    """docs -> {"kept", "extra"}: moves `CleanPage`'s per-page line counts out of `meta` and sums
    them for stats.json (`lines_removed_from_kept_pages`: lines each rule removed from kept pages)."""

    def expand(self, docs):
        popped = docs | "Pop" >> beam.ParDo(_PopLineCountsFn()).with_outputs("lines", main="docs")
        extra = (popped["lines"] | "SumLineCounts" >> beam.CombineGlobally(stats.SumCounts())
                 | "LinesRemoved" >> beam.Map(lambda counts: {"lines_removed_from_kept_pages": counts}))
        return {"kept": popped["docs"], "extra": extra}


def _url_key(doc: Document) -> str:
    url = doc.meta.get("url")
    return normalize_url(url) if url else f"no-url:{doc.id}"


class C4Source(Source):
    name = NAME
    Config = C4Config
    description = "C4 (T5 paper 2.2): page-cleaning heuristics, bad words, language ID, span dedup"

    def read(self, path: str) -> Iterator[Document | ErrorRecord]:
        kind = "warc" if is_warc(path) else sniff(path)
        if kind == "warc":
            for record in read_warc(path, NAME):
                yield from_warc(record)
        elif kind == "json":
            yield from read_c4_json(path)
        else:  # one error for the file, not one "malformed_json" per line of it
            first = _first_line(path)
            hint = PATHS_LISTING_HINT if first.startswith(b"crawl-data/") else ""
            yield ErrorRecord.of(NAME, path, "unreadable_file",
                                 f"neither a WARC/WET file nor C4 JSON lines{hint}", first)

    def steps(self) -> list[Step]:
        cfg = self.config
        steps: list[Step] = [
            ("PageLength", c4_rules.MaxPageLength(cfg.max_page_chars)),
            ("DedupUrl", ExactDedup(_url_key, reason="duplicate_url")),
            ("CleanPage", c4_rules.CleanPage(cfg.min_words_per_line, cfg.min_sentences, cfg.max_word_length,
                                             record=True)),
            ("PopLineCounts", PopLineCounts()),
        ]
        if cfg.bad_words:
            steps.append(("BadWords", c4_rules.BadWords()))
        steps.append(("LanguageId", LanguageId(("en",), cfg.language_threshold, cfg.lid_model)))
        if cfg.dedup_spans:
            steps.append(("DedupSpans", RemoveRepeatedSpans(
                page_spans, functools.partial(remove_spans, min_sentences=cfg.min_sentences),
                keep_first=True, empty_reason="too_few_sentences_after_dedup")))
        return steps

SOURCE = C4Source
