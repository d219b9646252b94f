"""C4 page-cleaning rules: pages/s and MB/s per core, ours (`sources.c4.rules.CleanPage`, a
regex sentence splitter) beside datatrove's `C4QualityFilter` (spaCy tokenizer + sentencizer),
on the same pages in the same run, with their keep/drop agreement.

Pages: `samples.c4.comparison_pages` (the sample's web pages, near-threshold news pages,
Gutenberg, wikitext, the iana.warc.gz HTML pages as text). One process = one core.
"""

from __future__ import annotations

import os
import time

from benchmarks.common import Row
from pipeline.assets import asset_path
from pipeline.document import Document
from samples.c4 import comparison_pages
from sources.c4.rules import BadWords, CleanPage


def _ours(texts: list[str]) -> list[bool]:
    f = CleanPage()
    return [f(Document(str(i), t, "c4"))[0] for i, t in enumerate(texts)]


def _ours_with_badwords(texts: list[str]) -> int:
    clean, bad = CleanPage(), BadWords()
    kept = 0
    for i, t in enumerate(texts):
        d = Document(str(i), t, "c4")
        kept += clean(d)[0] and bad(d)[0]
    return kept


def _datatrove(texts: list[str]) -> list[bool]:
    from datatrove.data import Document as DtDocument
    from datatrove.pipeline.filters import C4QualityFilter

    f = C4QualityFilter()
    out = []
    for i, t in enumerate(texts):
        r = f.filter(DtDocument(text=t, id=str(i)))
        out.append(r is True or (isinstance(r, tuple) and bool(r[0])))
    return out


def _timed(fn, texts, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(texts)
        best = min(best, time.perf_counter() - start)
    return best, result


def run(quick: bool = True) -> list[Row]:
    assets = os.path.dirname(asset_path("lee_background.cor"))
    texts = []
    for seed in range(1 if quick else 4):
        texts += comparison_pages(assets, seed)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    n = len(texts)
    ours_s, ours_kept = _timed(_ours, texts, repeat=3)
    full_s, _ = _timed(_ours_with_badwords, texts, repeat=3)
    try:
        _datatrove(texts[:20])  # warm-up: spaCy's pipeline is built on first use
        theirs_s, theirs_kept = _timed(_datatrove, texts, repeat=1)
    except ImportError:
        theirs_s, theirs_kept = float("nan"), None
    if theirs_kept is None:
        note = "datatrove not installed: pip install 'datatrove[processing]' spacy"
    else:
        agree = sum(a == b for a, b in zip(ours_kept, theirs_kept)) / n
        note = f"{n} pages, {mb:.1f} MB; keep/drop agreement {agree:.1%}"
    peer = "datatrove C4QualityFilter"
    return [
        Row("c4 clean_page rules", "MB/s per core", mb / ours_s, peer, mb / theirs_s, notes=note),
        Row("c4 clean_page rules", "pages/s per core", n / ours_s, peer, n / theirs_s, notes=note),
        Row("c4 rules + LDNOOBW bad words", "MB/s per core", mb / full_s, peer + " (no bad words)", mb / theirs_s,
            notes="ours also runs the bad-words check datatrove's filter leaves out"),
    ]


if __name__ == "__main__":
    for row in run(quick=True):
        print(f"{row.stage} | {row.metric}: ours {row.ours:,.1f} vs {row.peer_name} {row.peer:,.2f} "
              f"-> {row.ratio:.1f}x ({row.notes})")
