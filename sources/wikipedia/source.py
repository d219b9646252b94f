"""Wikipedia: 20-language XML dumps to clean plain text (paper §2, "Wikipedia": "dumps ...
covering 20 languages, which use either the Latin or Cyrillic scripts ... remove hyperlinks,
comments and other formatting boilerplate").

Input: `*-pages-articles*.xml.bz2` dumps as distributed (multistream too; `.xml`, `.xml.gz`
work as well). Steps: stream every page of every dump (sources/wikipedia/dump.py) -> reshuffle
the pages so a big dump's pages are converted on every worker -> keep the 20 languages
(`--languages` widens it), namespace 0, no redirects, no disambiguation pages -> wikitext to
plain text (sources/wikipedia/wikitext.py), the URLs each article cites written beside the
clean shards (`cited_urls/`, sources/wikipedia/citations.py) -> drop pages with markup that could not be parsed
(unbalanced templates) and pages with no text left once the markup is gone (only an infobox, a
table, a list of links to files). No length minimum by default: the paper removes only
boilerplate, and a real stub ("X is a village in Y.") is an article (`--min-chars` sets one).
"""

from __future__ import annotations

import dataclasses
import os
import re
from urllib.parse import quote, urlsplit

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.document import Document, ErrorRecord
from pipeline.filters import ERRORS, Filter, MinChars, Step
from sources.base import LINES, Source, SourceConfig
from sources.wikipedia import citations, wikitext
from sources.wikipedia.dump import DumpError, Page, SiteInfo, iter_pages, language_of, open_stream
from sources.wikipedia.ranges import (at_stream_starts, index_path, index_starts, iter_range, page_aligned, plan,
                                      stream_starts)

NAME = "wikipedia"
NS_NAMES = "_ns_names"  # meta key carrying the dump's own File/Category/Media names to the converter
WORD = re.compile(r"\w")  # a letter or digit of any script: a page without one holds no text


@dataclasses.dataclass
class WikipediaConfig(SourceConfig):
    languages: tuple[str, ...] = dataclasses.field(
        default=wikitext.LANGUAGES, metadata={"help": "wiki languages kept (paper: these 20)"})
    # The paper gives no minimum (it removes "hyperlinks, comments and other formatting
    # boilerplate"), so none by default. Measured on the sample job: a 200 minimum removed 2 of
    # 108 articles, the de and ru stubs (26 and 16 characters of real prose), and none of the real
    # enwiki (98, shortest 499 characters) or bgwiki ones; a page left with no text at all is
    # dropped as `empty_after_markup` whatever the minimum.
    min_chars: int = dataclasses.field(
        default=0, metadata={"help": "drop articles shorter than this after cleaning (0: no minimum, as the paper)"})
    # A real multistream stream holds 100 pages (~0.3 MB of bz2); 64 MB is ~20,000 pages, ~300 MB
    # of XML, about half a minute of reading: a work unit big enough to amortise the planning.
    range_mb: float = dataclasses.field(
        default=64.0, metadata={"help": "read multistream dumps in byte ranges of about this many MB (0: whole files)"})


def page_url(site: SiteInfo, language: str, title: str) -> str:
    try:
        host = urlsplit(site.base).netloc
    except ValueError:  # a damaged <base> ("https://de.wikipedia.org/wiki/[[...": "Invalid IPv6 URL")
        host = ""
    host = host or f"{language}.wikipedia.org"
    return f"https://{host}/wiki/{quote(title.replace(' ', '_'), safe='/:()_,-.')}"


def page_document(site: SiteInfo, page: Page, path: str) -> Document | ErrorRecord:
    language = language_of(site.dbname, path, site.xml_lang)
    where = f"{path}#page={page.id or '?'}"
    if not page.id.isdigit() or not page.title.strip():
        return ErrorRecord.of(NAME, where, "page_missing_fields", "page without a numeric <id> or a <title>",
                              page.title + "\n" + page.text[:1000])
    if page.too_large:
        return ErrorRecord.of(NAME, where, "page_too_large", "page text over the dump reader's limit", page.title)
    names = [site.namespaces[k] for k in (-2, 6, 14) if site.namespaces.get(k)]
    meta = {
        "title": page.title,
        "url": page_url(site, language, page.title),
        "language": language,
        "page_id": int(page.id),
        "revision_id": int(page.revision_id) if page.revision_id.isdigit() else None,
        "timestamp": page.timestamp or None,
        "ns": int(page.ns) if page.ns.lstrip("-").isdigit() else None,
        "redirect": page.redirect or wikitext.is_redirect(page.text),
        NS_NAMES: names,
    }
    if page.model and page.model != "wikitext":  # a CSS/JS/JSON/Lua page: code or data, not prose
        meta["content_model"] = page.model
    return Document(id=f"{NAME}/{language}/{page.id}", text=page.text, source=NAME, meta=meta)


def read_dump(path: str, open_fn=None, start: int = 0, end: int = -1):
    """Every page of one dump file (or of the byte range [start, end) of a multistream dump) as
    a Document (raw wikitext); a whole-file failure is one ErrorRecord after the pages before it."""
    if "multistream-index" in os.path.basename(path):
        return  # the index of a multistream dump, not a dump (ranges are found by scanning)
    where = path if (start, end) == (0, -1) else f"{path}@{start}-{end}"
    with (open_fn or _open_raw)(path) as raw:
        try:
            pages = iter_pages(open_stream(raw)) if (start, end) == (0, -1) else iter_range(raw, start, end)
            for site, page in pages:
                yield page_document(site, page, where)
        except DumpError as exc:
            yield ErrorRecord.of(NAME, where, exc.kind, str(exc))


def plan_ranges(path: str, range_mb: float, open_fn=None) -> list[tuple[str, int, int]]:
    """(path, start, end) work units: byte ranges for a big multistream bz2 dump (stream offsets
    from its `-index` file when it sits beside it and its offsets are the dump's stream starts,
    else found by scanning), else the file."""
    range_bytes = int(range_mb * 1e6)
    opener = open_fn or _open_raw
    try:
        size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes if open_fn is None else -1
        if range_bytes <= 0 or 0 <= size <= range_bytes:
            return [(path, 0, -1)]
        ranges = _ranges_from_index(path, size, range_bytes, opener)
        if ranges is None:
            with opener(path) as raw:
                if raw.read(3) != b"BZh":
                    return [(path, 0, -1)]
                raw.seek(0)
                starts = stream_starts(raw)
                size = raw.tell()
            ranges = plan(starts, size, range_bytes)
        if len(ranges) > 1:
            with opener(path) as raw:
                if not page_aligned(raw):
                    return [(path, 0, -1)]
    except Exception:  # unreadable: the reader will say so, counted
        return [(path, 0, -1)]
    return [(path, start, end) for start, end in ranges]


def _ranges_from_index(path: str, size: int, range_bytes: int, opener) -> list[tuple[int, int]] | None:
    """The ranges the dump's `-index` file gives, or None without one or when one of the offsets
    they start at is not a stream start of the dump (an index of another dump, or corrupt: its
    ranges would cut streams and lose their pages)."""
    index = index_path(path)
    if not index or not FileSystems.exists(index):
        return None
    with opener(index) as handle:
        ranges = plan(index_starts(handle), size, range_bytes)
    if any(start >= size for start, _ in ranges):
        return None
    with opener(path) as raw:
        return ranges if at_stream_starts(raw, [start for start, _ in ranges]) else None


class ReadRangeFn(beam.DoFn):
    def process(self, work: tuple[str, int, int]):
        path, start, end = work
        try:
            for record in read_dump(path, start=start, end=end):
                yield pvalue.TaggedOutput(ERRORS, record) if isinstance(record, ErrorRecord) else record
        except Exception as exc:  # e.g. a file that vanished: counted, the job goes on
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(NAME, f"{path}@{start}-{end}", "read_failed", exc))


def _open_raw(path: str):
    """The file's bytes as stored (decompression is ours, so a truncated archive is detected)."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


# --- filters, in the order they run ---------------------------------------------------------
def _keep(doc: Document, keep: bool) -> bool:
    """A dropped page leaves without the converter's private meta key."""
    if not keep:
        doc.meta.pop(NS_NAMES, None)
    return keep


class SelectLanguage(Filter):
    name = "language_not_selected"

    def __init__(self, languages):
        self.languages = frozenset(languages)

    def filter(self, doc):
        return _keep(doc, doc.meta.get("language") in self.languages)


class ArticlesOnly(Filter):
    """Namespace 0 only (talk, user, project, template... pages are not articles), and only
    wikitext: a page's content model can be changed to css, javascript, json... in any
    namespace (MediaWiki's Special:ChangeContentModel), and such a page is code or data."""

    name = "not_article"

    def filter(self, doc):
        if not _keep(doc, doc.meta.get("ns") == 0):
            return False
        if "content_model" in doc.meta:
            return _keep(doc, False), "not_wikitext"
        return True


class SkipRedirects(Filter):
    name = "redirect"

    def filter(self, doc):
        return _keep(doc, not doc.meta.get("redirect"))


class SkipDisambiguation(Filter):
    name = "disambiguation"

    def filter(self, doc):
        return _keep(doc, not wikitext.is_disambiguation(doc.meta.get("title", ""), doc.text))


class WikitextToText(Filter):
    """Edits the text in place; drops the page when markup survives (unbalanced templates,
    unclosed comments or refs: mwparserfromhell leaves them as text), and the page that holds no
    letter or digit once the markup is removed (`empty_after_markup`: it was all boilerplate)."""

    name = "unbalanced_markup"

    def filter(self, doc):
        extra = doc.meta.pop(NS_NAMES, ())
        doc.text = wikitext.to_text(doc.text, wikitext.dropped_prefixes(doc.meta.get("language", ""), tuple(extra)))
        if wikitext.has_residue(doc.text):
            return False
        if not WORD.search(doc.text):
            return False, "empty_after_markup"
        return True


class CitedUrls(Filter):
    """Keeps every page; notes the URLs an article cites (`citations.py`, raw wikitext, so it runs
    before the conversion), normalised as C4's, for DATA/clean/wikipedia/cited_urls/ (the job
    writes each URL once there, for `make classifier`'s join with the crawl; stats.json counts
    them). A page dropped later for its markup still cites what it cites."""

    name = "cited_urls"

    def filter(self, doc):
        doc.meta[LINES + self.name] = citations.cited_urls(doc.text)
        return True


class WikipediaSource(Source):
    name = NAME
    Config = WikipediaConfig
    description = "Wikipedia XML dumps in 20 languages, wikitext to plain text"
    writes_lines = (CitedUrls.name,)

    def read(self, path):
        yield from read_dump(path)

    def expand_read(self, files):
        """Files -> byte ranges of big multistream dumps -> pages, reshuffled so every worker
        converts a share of a big dump's pages."""
        read = (
            files
            | "ReshuffleFiles" >> beam.Reshuffle()
            | "PlanRanges" >> beam.FlatMap(plan_ranges, self.config.range_mb)
            | "ReshuffleRanges" >> beam.Reshuffle()
            | "ReadRanges" >> beam.ParDo(ReadRangeFn()).with_outputs(ERRORS, main="docs")
        )
        return read["docs"] | "ReshuffleDocs" >> beam.Reshuffle(), read[ERRORS]

    def steps(self) -> list[Step]:
        config = self.config
        return [
            ("SelectLanguages", SelectLanguage(config.languages)),
            ("KeepArticles", ArticlesOnly()),
            ("SkipRedirects", SkipRedirects()),
            ("SkipDisambiguation", SkipDisambiguation()),
            ("CitedUrls", CitedUrls()),
            ("WikitextToText", WikitextToText()),
        ] + ([("MinChars", MinChars(config.min_chars))] if config.min_chars > 0 else [])


SOURCE = WikipediaSource
