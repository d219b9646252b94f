"""Streaming reader of MediaWiki XML export dumps (`*-pages-articles*.xml[.bz2|.gz]`, multistream
too: Python's bz2 reads concatenated streams).

The XML is parsed by expat, fed in chunks from the decompressor, so a dump is never held in
memory. A dump carries no DTD; any `<!DOCTYPE>` or `<!ENTITY>` is refused before anything is
expanded (a billion-laughs file is one counted error, not an OOM). Truncated archives and
malformed XML cost the rest of that file, counted; the pages before stay.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import os
import re
from typing import Iterator
from xml.parsers import expat

from pipeline.filters import RecordError

CHUNK = 1 << 20
# MediaWiki's $wgMaxArticleSize is 2,048 KiB of wikitext; twice that is surely not an article.
MAX_TEXT_CHARS = 4 * 1024 * 1024
MAX_DEPTH = 32  # the export schema nests 5 deep; anything far deeper is hostile
FIELDS = {("page", "title"), ("page", "ns"), ("page", "id"), ("revision", "id"),
          ("revision", "timestamp"), ("revision", "text"), ("revision", "model"), ("siteinfo", "dbname"),
          ("siteinfo", "base"), ("namespaces", "namespace")}
DBNAME_FROM_FILE = re.compile(r"^([a-z][a-z0-9_]*?)wiki(?:-|$)")


class DumpError(RecordError):
    """A whole-file problem: `kind` is the stats key."""


@dataclasses.dataclass
class SiteInfo:
    dbname: str = ""
    base: str = ""
    xml_lang: str = ""
    namespaces: dict[int, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Page:
    title: str = ""
    ns: str = ""
    id: str = ""
    revision_id: str = ""
    timestamp: str = ""
    text: str = ""
    model: str = ""  # the revision's content model (export schema 0.4+): wikitext, css, json, Scribunto...
    redirect: bool = False
    too_large: bool = False


def language_of(dbname: str, path: str = "", xml_lang: str = "") -> str:
    """`enwiki` -> `en`, `zh_min_nanwiki` -> `zh-min-nan`; without a dbname, from the file name
    (`dewiki-20220701-...`) or xml:lang. Another project's dump (`enwiktionary`) -> ""."""
    names = [dbname] if dbname else [os.path.basename(path)]
    for name in names:
        match = DBNAME_FROM_FILE.match(name or "")
        if match:
            return match.group(1).replace("_", "-")
    return "" if dbname else xml_lang


class _Handler:
    """expat callbacks: collects finished pages into `self.pages`."""

    def __init__(self):
        self.site = SiteInfo()
        self.pages: list[Page] = []
        self.stack: list[str] = []
        self.page: Page | None = None
        self.buffer: list[str] | None = None
        self.size = 0
        self.ns_key = 0

    def start(self, name: str, attrs: dict) -> None:
        if not self.stack and name != "mediawiki":
            raise DumpError("not_a_dump", f"root element <{name}>, expected <mediawiki>")
        if len(self.stack) >= MAX_DEPTH:
            raise DumpError("malformed_xml", f"elements nested over {MAX_DEPTH} deep")
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(name)
        if name == "mediawiki":
            self.site.xml_lang = attrs.get("xml:lang", "")
        elif name == "page":
            self.page = Page()
        elif name == "redirect" and self.page is not None:
            self.page.redirect = True
        if (parent, name) in FIELDS:
            self.buffer, self.size = [], 0
            if name == "namespace":
                self.ns_key = int(attrs.get("key", "0")) if attrs.get("key", "").lstrip("-").isdigit() else 0

    def chars(self, data: str) -> None:
        if self.buffer is not None:
            self.size += len(data)
            if self.size <= MAX_TEXT_CHARS:
                self.buffer.append(data)
            elif self.page is not None:
                self.page.too_large = True

    def end(self, name: str) -> None:
        self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        if self.buffer is not None and (parent, name) in FIELDS:
            self._store(parent, name, "".join(self.buffer))
            self.buffer = None
        if name == "page" and self.page is not None:
            self.pages.append(self.page)
            self.page = None

    def _store(self, parent: str, name: str, value: str) -> None:
        page = self.page
        if parent == "siteinfo":
            setattr(self.site, name, value.strip())
        elif parent == "namespaces":
            self.site.namespaces[self.ns_key] = value.strip()
        elif page is not None and parent == "page":
            setattr(page, name, value.strip() if name != "title" else value)
        elif page is not None and name == "id":
            page.revision_id = value.strip()
        elif page is not None and name == "model":
            page.model = value.strip()
        elif page is not None:
            setattr(page, name, value)


def _refuse_dtd(*_args) -> None:
    raise DumpError("xml_dtd_rejected", "DTD / entity declarations are not part of the dump format")


def _new_parser(handler: _Handler):
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = CHUNK
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def open_stream(raw):
    """The decompressed stream of a raw file object, by magic bytes (bz2, gzip or plain)."""
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head[:3] == b"BZh":
        return bz2.BZ2File(raw)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)
    return raw


def iter_pages(stream, header: bytes = b"", close: bool = False) -> Iterator[tuple[SiteInfo, Page]]:
    """(siteinfo, page) for each page of a decompressed dump stream. Raises `DumpError` for a
    whole-file problem after yielding the pages read before it.

    For a byte range of a multistream dump, `header` is the dump's first stream (the
    `<mediawiki><siteinfo>` opening; pages in it belong to the first range and are skipped) and
    `close` ends the document after the range's pages."""
    handler = _Handler()
    parser = _new_parser(handler)
    if header:
        list(_parse(parser, handler, header, False))  # its pages belong to the first range
    read = getattr(stream, "read1", stream.read)  # read1: a truncated tail costs only itself
    while True:
        try:
            chunk = read(CHUNK)
        except EOFError as exc:  # bz2/gzip stream ended early
            raise DumpError("truncated_archive", str(exc) or "compressed stream ended early") from exc
        except OSError as exc:  # corrupt compressed data
            raise DumpError("bad_archive", str(exc)) from exc
        if not chunk and close and handler.stack == ["mediawiki"]:
            chunk = b"</mediawiki>"
        yield from _parse(parser, handler, chunk, not chunk)
        if not chunk:
            return


def _parse(parser, handler: _Handler, data: bytes, final: bool) -> Iterator[tuple[SiteInfo, Page]]:
    try:
        parser.Parse(data, final)
    except expat.ExpatError as exc:
        yield from _drain(handler)
        raise DumpError("malformed_xml", str(exc)) from exc
    except DumpError:
        yield from _drain(handler)
        raise
    yield from _drain(handler)


def _drain(handler: _Handler) -> Iterator[tuple[SiteInfo, Page]]:
    pages, handler.pages = handler.pages, []
    for page in pages:
        yield handler.site, page
