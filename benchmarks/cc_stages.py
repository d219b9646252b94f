"""bench_commoncrawl's per-stage rows: each step of the CommonCrawl job beside the library call it
cannot avoid, on the same pages in one process (CPU-seconds, best of 3 with ours and the floor
taking turns, so that load from other jobs on the machine falls on both alike; models loaded
first), and the bytes the line-dedup shuffle moves per byte of WET text.

- WET parsing: `pipeline.warc.read_warc` (framing, warcio parsing, block digest check, Document)
  vs warcio's ArchiveIterator reading each record's text;
- language ID: the `LanguageId` filter on every page vs lid.176 `predict` on the pages' flattened
  texts in one call (flattened beforehand, outside the timing);
- perplexity: the `PerplexityBuckets` filter on the English pages vs SentencePiece `encode` of
  their lines (one call a page) + KenLM `score` of each, no normalisation;
- line hashing: line dedup's spans (CCNet normalisation + 64-bit hash of every line) vs blake2b
  of every line's bytes;
- classifier: the `WikiReference` filter on the English pages vs `predict` on their texts in one call.
"""

from __future__ import annotations

import hashlib
import time
from typing import Callable

from benchmarks.common import Row, best_of


def cpu(fn: Callable[[], object]) -> float:
    """CPU-seconds of `fn`, best of 2."""
    return best_of(fn, repeat=2, clock=time.process_time)


def pair(ours: Callable[[], object], floor: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """CPU-seconds of `ours` and of `floor`, each the best of `repeat`, the two run in turns."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, fn in enumerate((ours, floor)):
            best[i] = min(best[i], cpu_once(fn))
    return best[0], best[1]


def cpu_once(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def read_floor(paths: list[str]) -> int:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "conversion":
                    n += len(record.content_stream().read().decode("utf-8"))
    return n


def shuffle_bytes(docs: list, text_bytes: int) -> tuple[float, float]:
    """(spans, documents) bytes into line dedup's two shuffles per byte of WET text, each element
    encoded as the runner encodes an untyped key and value (FastPrimitivesCoder)."""
    from apache_beam.coders import FastPrimitivesCoder

    from sources.commoncrawl.line_dedup import LineSpans

    coder = FastPrimitivesCoder()
    spans = [(key, (doc.id, pos)) for doc in docs for key, pos in LineSpans(1)(doc)]
    span_bytes = sum(len(coder.encode(k)) + len(coder.encode(v)) for k, v in spans)
    counts: dict = {}
    for key, _ in spans:
        counts[key] = counts.get(key, 0) + 1
    removal_bytes = sum(len(coder.encode(v[0])) + len(coder.encode(v)) for k, v in spans if counts[k] > 1)
    doc_bytes = sum(len(coder.encode(doc.id)) + len(coder.encode(doc)) for doc in docs)
    return span_bytes / text_bytes, (doc_bytes + removal_bytes) / text_bytes


def stage_rows(paths: list[str], lm_dir: str, model: str, n_lid_peer: int = 2000) -> list[Row]:
    from pipeline.document import Document
    from pipeline.langid import LanguageId
    from pipeline.warc import read_warc
    from sources.commoncrawl.classifier import WikiReference, classifier_text
    from sources.commoncrawl.line_dedup import LineSpans, dedup_lines_in_memory
    from sources.commoncrawl.perplexity import PerplexityBuckets

    docs = [r for p in paths for r in read_warc(p, "commoncrawl") if isinstance(r, Document)]
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    lid, ppl, wiki = LanguageId(("en",), 0.5), PerplexityBuckets(lm_dir), WikiReference(model)
    for step in (lid, ppl, wiki):
        step.setup()
    parse = pair(lambda: [r for p in paths for r in read_warc(p, "commoncrawl")], lambda: read_floor(paths))
    spans = LineSpans(1)
    lines = [line.encode("utf-8") for d in docs for line in d.text.split("\n")]
    hashing = pair(lambda: [list(spans(d)) for d in docs],
                   lambda: [hashlib.blake2b(b, digest_size=8).digest() for b in lines])
    flat = [" ".join(d.text.split()) for d in docs]
    language = pair(lambda: [lid(d) for d in docs], lambda: lid._model.predict(flat, k=1))
    english = [d for d in docs if d.meta.get("language") == "en" and d.meta["language_score"] >= 0.5]
    en_mb = sum(len(d.text.encode("utf-8")) for d in english) / 1e6
    sp, lm = ppl.model._sp, ppl.model._lm
    perplexity = pair(lambda: [ppl(d) for d in english],
                      lambda: [lm.score(" ".join(p)) for d in english for p in sp.encode(d.text.split("\n"),
                                                                                         out_type=str)])
    texts = [classifier_text(d.text) for d in english]
    classify = pair(lambda: [wiki(d) for d in english], lambda: wiki._model.predict(texts, k=2))
    spans_per_byte, docs_per_byte = shuffle_bytes(docs, int(mb * 1e6))
    deduped = sum(len(d.text.encode("utf-8")) for d in dedup_lines_in_memory(docs)[0]) / 1e6
    note = f"{len(docs):,} pages, {mb:.1f} MB of WET text; CPU-s, best of 3, ours and the floor in turns"
    en_note = f"the {len(english):,} English pages, {en_mb:.1f} MB"
    return [
        Row("commoncrawl stage: WET parsing", "MB WET text per CPU-s", mb / parse[0], "warcio ArchiveIterator",
            mb / parse[1], notes=note + "; ours frames each gzip member, checks the block digest"),
        Row("commoncrawl stage: language ID", "MB per CPU-s", mb / language[0], "lid.176 predict(list)",
            mb / language[1], notes="every page; ours: one predict a page (newlines made spaces: the words of the flattened text)"),
        Row("commoncrawl stage: perplexity", "MB per CPU-s", en_mb / perplexity[0],
            "SentencePiece encode + KenLM score", en_mb / perplexity[1],
            notes=en_note + "; ours normalises each line first (CCNet)"),
        Row("commoncrawl stage: line hashing", "MB per CPU-s", mb / hashing[0], "blake2b of every line",
            mb / hashing[1], notes="ours normalises each line first (CCNet normalize_for_dedup)"),
        Row("commoncrawl stage: classifier", "MB per CPU-s", en_mb / classify[0], "fastText predict(list)",
            en_mb / classify[1], notes=en_note + "; not part of the CCNet floor"),
        Row("commoncrawl line dedup shuffle", "bytes per byte of WET text", spans_per_byte + docs_per_byte,
            "line spans alone", spans_per_byte, higher_is_better=False,
            notes=f"spans (hash, (doc id, line)) {spans_per_byte:.2f}, documents + removals joined back "
                  f"{docs_per_byte:.2f}; FastPrimitivesCoder sizes; dedup removes {1 - deduped / mb:.1%} of "
                  f"the text (1x input)"),
        *lid_rows(docs[:n_lid_peer]),
    ]


def lid_rows(docs: list) -> list[Row]:
    """Our LanguageId vs datatrove's LanguageFilter (same lid.176 weights) over the same pages."""
    from pipeline.langid import LanguageId, lid_model_path

    ours = LanguageId(("en",), 0.5)
    ours.setup()
    try:
        from datatrove.data import Document as DTDocument
        from datatrove.pipeline.filters import LanguageFilter
        from fasttext.FastText import _FastText
    except ImportError as exc:
        ours_s = cpu(lambda: [ours(d) for d in docs])
        return [Row("commoncrawl language id", "docs/s", len(docs) / ours_s, "datatrove LanguageFilter", float("nan"),
                    notes=f"datatrove not importable: {exc}")]
    theirs = LanguageFilter(languages=["en"], language_threshold=0.5)
    theirs.model._model = _FastText(lid_model_path())  # the same local model (it would download lid.176.bin)
    dt_docs = [DTDocument(text=d.text, id=d.id, metadata={}) for d in docs]
    ours_s, theirs_s = pair(lambda: [ours(d) for d in docs], lambda: [theirs.filter(d) for d in dt_docs])
    agree = sum(ours(d)[0] == bool(theirs.filter(t)) for d, t in zip(docs, dt_docs)) / len(docs)
    return [Row("commoncrawl language id", "docs/s", len(docs) / ours_s, "datatrove LanguageFilter",
                len(docs) / theirs_s, notes=f"{len(docs)} pages, same lid.176 model, keep/drop agree {agree:.1%}")]
