"""Wikipedia, on the real English dump from the assets (206 pages, 6.1 MB of XML), one core:

- dump reader (MB of XML/s): ours (expat, streamed, DTDs refused) beside bz2 decompression alone
  (the floor: no reader is faster) and the standard library's ElementTree.iterparse;
- wikitext -> text (pages/s): ours beside mwparserfromhell's own `strip_code()`;
- the whole job (pages/s): the Beam in-memory runner beside the same steps as a plain loop.
"""

from __future__ import annotations

import bz2
import os
import tempfile
import time
import xml.etree.ElementTree as ET

import mwparserfromhell

from benchmarks.common import Row, best_of
from pipeline.assets import asset_path
from pipeline.filters import run_filters
from sources.wikipedia import wikitext
from sources.wikipedia.source import SOURCE, WikipediaConfig, read_dump
from tests.fixtures.helpers import run_source

DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def _decompress_only(path: str) -> int:
    with bz2.open(path, "rb") as f:  # read1, as the reader does (read() re-buffers each MB)
        return sum(len(chunk) for chunk in iter(lambda: f.read1(1 << 20), b""))


def _iterparse(path: str) -> int:
    texts = 0
    with bz2.open(path, "rb") as f:
        for _, elem in ET.iterparse(f):
            if elem.tag.endswith("}text"):
                texts += len(elem.text or "")
            elif elem.tag.endswith("}page"):
                elem.clear()
    return texts


def _read(path: str) -> list:
    return list(read_dump(path))


def run(quick: bool = True) -> list[Row]:
    path = asset_path(DUMP)
    repeat = 3  # the reader rows take ~0.5 s a call: best of 3 even when quick (shared machine)
    xml_mb = _decompress_only(path) / 1e6
    floor = best_of(lambda: _decompress_only(path), repeat)
    peer = best_of(lambda: _iterparse(path), repeat)
    ours = best_of(lambda: _read(path), repeat)
    rows = [Row("wikipedia dump reader", "MB XML/s per core", xml_mb / ours, "bz2 decompression only", xml_mb / floor,
                notes=f"{xml_mb:.1f} MB XML, real enwiki dump"),
            Row("wikipedia dump reader", "MB XML/s per core", xml_mb / ours, "ElementTree.iterparse", xml_mb / peer,
                notes="stdlib parser, expands internal entities")]

    docs = [d for d in _read(path) if d.meta["ns"] == 0 and not d.meta["redirect"]]
    docs = docs[:40] if quick else docs
    mb = sum(len(d.text.encode()) for d in docs) / 1e6
    prefixes = wikitext.dropped_prefixes("en")
    repeat = 1 if quick else 3
    ours = best_of(lambda: [wikitext.to_text(d.text, prefixes) for d in docs], repeat)
    peer = best_of(lambda: [mwparserfromhell.parse(d.text).strip_code() for d in docs], repeat)
    rows.append(Row("wikipedia wikitext->text", "pages/s per core", len(docs) / ours,
                    "mwparserfromhell strip_code()", len(docs) / peer,
                    notes=f"{len(docs)} articles, {mb:.1f} MB wikitext; ours {mb / ours:.2f} MB/s"))

    pages = len(_read(path))
    chain = SOURCE(WikipediaConfig()).steps()
    loop = best_of(lambda: run_filters(chain, _read(path)), 1)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_source(SOURCE(), [path], os.path.join(tmp, "out"))
        job = time.perf_counter() - start
    rows.append(Row("wikipedia job", "pages/s per core", pages / job, "plain loop", pages / loop,
                    notes=f"{pages} pages ({xml_mb / job:.2f} MB XML/s); Beam in-memory runner incl. writing shards"))
    return rows
