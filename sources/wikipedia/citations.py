"""The URLs a Wikipedia article cites, from its raw wikitext: what `make classifier` joins with
the crawl's pages to find "pages used as references in Wikipedia" (LLaMA section 2).

Cited means: every http(s) URL inside a `<ref>...</ref>` (a citation template's `url=`, a
bracketed link `[http://... label]`, a bare URL), and the `url=`-type parameters of citation
templates anywhere else (`{{cite book}}` in a bibliography, read by `{{sfn}}` short refs).
Archive copies are not the page cited: an `archive-url=` is skipped and a Wayback Machine link
names the page it archived. Comments and `<nowiki>` are not wikitext, so their URLs are not
cited. A `<ref>` left open (a malformed page) runs to the next `<ref`, `</ref>`, `<references`
or blank line, as far as the citation could reach. Each URL is normalised as C4 dedups URLs
(`pipeline.dedup.normalize_url`), so it meets a crawl page's WARC-Target-URI under one key.
"""

from __future__ import annotations

import html
import re

from pipeline.dedup import normalize_url

COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
NOWIKI = re.compile(r"<nowiki\s*>.*?(?:</nowiki\s*>|$)", re.S | re.I)
REF = re.compile(r"<ref(?:\s[^>]*?)?(?<!/)>(.*?)(?=</ref\s*>|<ref[\s>/]|<references|\n\s*\n|$)", re.S | re.I)
# MediaWiki's bare-URL rule (Parser::makeFreeExternalLink): a URL runs to whitespace or one of
# `[]<>"{}|`, and trailing `.,;:!?` (and `)` without a `(` in the URL) are not part of it.
URL = re.compile(r"https?://[^\s\[\]<>\"{}|]+", re.I)
TRAILING = ".,;:!?"
BRACES = re.compile(r"\{\{|\}\}")
# Citation templates by name: Help:Citation Style 1 (`cite web`, `cite news`, ... `citation`),
# de: Vorlage:Internetquelle / Literatur, ru: Шаблон:Статья / Книга / Публикация.
CITATION_TEMPLATE = re.compile(
    r"\{\{\s*(?:cite[ _][^|{}]*|citation|internetquelle|literatur|статья|книга|публикация)\s*\|", re.I)
# A parameter naming the cited page: url, chapter-url, contribution-url... (CS1), German and
# Russian templates' `url` / `ссылка`; never an archive copy (archive-url, archiv-url) or a lay
# summary (lay-url).
URL_PARAM = re.compile(r"\|\s*((?:[\w-]*?)url|ссылка)\s*=\s*", re.I)
SKIPPED_PARAM = re.compile(r"^(?:archive?-?url|lay-?url)$", re.I)
WAYBACK = re.compile(r"^https?://(?:web\.)?archive\.org/web/[0-9a-z_*]+/(https?://.+)$", re.I)


def _clean(url: str) -> str:
    url = html.unescape(url).rstrip(TRAILING)
    if url.endswith(")") and "(" not in url:
        url = url.rstrip(")")
    wayback = WAYBACK.match(url)
    return wayback.group(1) if wayback else url


def _url_params(body: str):
    """(archive copy?, the URL's match) for each url-type parameter whose value is a URL."""
    for match in URL_PARAM.finditer(body):
        value = URL.match(body, match.end())
        if value:
            yield bool(SKIPPED_PARAM.match(match.group(1))), value


def _param_urls(body: str) -> list[str]:
    """The URLs that are values of url-type parameters (not archive copies) in template text."""
    return [value.group() for archive, value in _url_params(body) if not archive]


def _ref_urls(body: str) -> list[str]:
    """Every URL in a ref's text but the values of archive parameters."""
    archived = {value.start() for archive, value in _url_params(body) if archive}
    return [m.group() for m in URL.finditer(body) if m.start() not in archived]


def _template_bodies(text: str) -> list[str]:
    """The text of each citation template outside refs, to its matching `}}` (nested ones inside)."""
    bodies = []
    for match in CITATION_TEMPLATE.finditer(text):
        depth, pos = 1, match.end()
        while depth and pos < len(text):
            brace = BRACES.search(text, pos)
            if brace is None:
                pos = len(text)
                break
            depth += 1 if brace.group() == "{{" else -1
            pos = brace.end()
        bodies.append(text[match.start():pos])
    return bodies


def raw_cited_urls(wikitext: str) -> list[str]:
    """The URLs the article cites as written (archive links unwrapped), first occurrence order."""
    text = NOWIKI.sub(" ", COMMENT.sub(" ", wikitext))
    found = []
    for ref in REF.finditer(text):
        found += _ref_urls(ref.group(1))
    outside = REF.sub(" ", text)
    for body in _template_bodies(outside):
        found += _param_urls(body)
    urls, seen = [], set()
    for url in map(_clean, found):
        if url not in seen and "://" in url and len(url) > len("http://x."):
            seen.add(url)
            urls.append(url)
    return urls


def cited_urls(wikitext: str) -> list[str]:
    """The article's cited URLs normalised as the crawl's (`normalize_url`), each once."""
    return list(dict.fromkeys(normalize_url(url) for url in raw_cited_urls(wikitext)))
