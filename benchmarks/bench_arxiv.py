"""ArXiv: papers/s per core.

Row 1: the Beam job (DirectRunner in-memory, reading a bulk tar, all cleaning steps, language
ID, writing shards) beside a plain loop doing the same reading and cleaning without Beam.
Row 2: our LaTeX cleaning (macros with arguments, bibliography cut that keeps appendices)
beside a RedPajama-style cleaner written here from its description (argument-less macros by
regex, truncation at the bibliography), on the same flattened papers: the cost of doing more.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import time

from benchmarks.common import Row, best_of
from pipeline.assets import asset_path
from pipeline.document import Document
from samples.arxiv import _articles, _bulk, _good_papers
from sources.arxiv import tex
from sources.arxiv.source import ArxivConfig, ArxivSource, clean_paper, read_papers
from tests.fixtures.helpers import run_source


def _make(directory: str, papers: int) -> str:
    rng = random.Random(0)
    articles = _articles(os.path.dirname(asset_path("lid.176.ftz")))
    payloads = _good_papers(rng, articles, papers)
    path = os.path.join(directory, "arXiv_src_2301_001.tar")
    _bulk(path, {f"2301/2301.{k + 1:05d}.gz": data for k, data in enumerate(payloads)})
    return path


def plain_loop(path: str) -> int:
    steps = ArxivSource(ArxivConfig()).steps()
    for _, filt in steps:
        filt.setup()
    return sum(1 for doc in read_papers(path) if isinstance(doc, Document) and clean_paper(doc, steps)[0] == "kept")


_RP_MACRO = re.compile(r"\\(?:newcommand|def)\s*\{?\\([A-Za-z]+)\}?\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_RP_SECTION = re.compile(r"\\(?:chapter|part|section|subsection|subsubsection|paragraph|subparagraph)\b")
_RP_BIB = re.compile(r"(\\appendix|\\begin\{references\}|\\begin\{thebibliography\}|\\bibliography\{)")


def redpajama_style(text: str) -> str:
    """Argument-less macros only, everything from the bibliography (or appendix) on removed."""
    macros = dict(_RP_MACRO.findall(text))
    text = _RP_MACRO.sub("", text)
    for name, body in macros.items():
        text = re.sub(r"\\" + name + r"(?![A-Za-z])", lambda _: body, text)
    m = _RP_SECTION.search(text)
    text = text[m.start():] if m else ""
    return _RP_BIB.split(text, maxsplit=1)[0]


def ours(text: str) -> str:
    expanded, _ = tex.expand_macros(text)
    body = tex.cut_before_first_section(expanded) or ""
    return tex.tidy(tex.remove_bibliography(body))


def run(quick: bool = True) -> list[Row]:
    n = 600 if quick else 3000
    with tempfile.TemporaryDirectory() as tmp:
        path = _make(tmp, n)
        t0 = time.perf_counter()
        kept = plain_loop(path)
        floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats = run_source(ArxivSource(ArxivConfig()), [path], os.path.join(tmp, "out"))
        job = time.perf_counter() - t0
        texts = [d.text for d in read_papers(path) if isinstance(d, Document)]
    assert stats["documents_out"] == kept == n
    t_ours = best_of(lambda: [ours(t) for t in texts])
    t_rp = best_of(lambda: [redpajama_style(t) for t in texts])
    return [
        Row("arxiv job", "papers/s per core", n / job, "plain loop", n / floor,
            notes=f"{n} papers in a bulk tar; Beam in-memory runner, 1 core, incl. lid.176 and writing shards"),
        Row("arxiv LaTeX cleaning", "papers/s per core", len(texts) / t_ours, "RedPajama-style regexes",
            len(texts) / t_rp, notes="ours also expands macros with arguments and keeps appendices"),
    ]


if __name__ == "__main__":
    for row in run(quick=True):
        print(row, f"ratio {row.ratio:.2f}")
