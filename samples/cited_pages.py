"""Crawl pages at URLs the sample Wikipedia cites: the positives of `make classifier` on the sample.

The sample's English Wikipedia is the real enwiki dump asset, and its articles cite real URLs
(`{{cite web |url=...}}` in `<ref>`s). The pages behind them cannot be fetched offline, so each
sample page at a cited URL holds, as a stand-in, the article paragraph that cites it (the claim
its source supports) and the paragraphs after it, up to about PAGE_CHARS, between lines of that
site's boilerplate. One page per citing paragraph (its first URL not cited by an earlier page),
and no paragraph on two pages (line dedup would remove it from both). Only articles after the first `skip` are used: those make the sample's
encyclopedia pages, which must not share lines with these. Every third page is crawled under
another spelling of its URL (the other scheme, no "www.", a trailing slash): the classifier's join
meets it through `normalize_url`, as a real crawl and a citation often differ.

Deterministic: the dump's order, no randomness.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pipeline.dedup import normalize_url
from sources.wikipedia import wikitext
from sources.wikipedia.citations import raw_cited_urls
from sources.wikipedia.dump import iter_pages, open_stream

CITED_PAGES = 60  # comfortably above classifier.MIN_CITED_PAGES (30), so the demo uses cited pages
MIN_PARAGRAPH_CHARS = 300  # CCNet's min_len: a shorter page would be dropped before the classifier matters
PAGE_CHARS = 1500  # the citing paragraph and those after it, up to about this much: a page, not a snippet
NOT_PROSE = ("*", "#", "{", "|", "=", ":", ";", "!", "[[")  # lists, tables, templates, headings, files


def articles(dump: str) -> list[tuple[str, str]]:
    """(title, wikitext) of each article of the dump, in its order: namespace 0, no redirects (as
    `lm.dump_texts` counts them)."""
    with open(dump, "rb") as raw:
        return [(page.title, page.text) for _, page in iter_pages(open_stream(raw))
                if page.ns == "0" and not page.redirect and page.text]


def crawled_as(url: str, number: int) -> str:
    """The URL the crawl holds the page under: as cited, or (every third page without a query)
    another spelling that `normalize_url` takes to the same key."""
    if number % 3 != 1 or "?" in url or "#" in url:
        return url
    scheme, _, rest = url.partition("://")
    other = "https" if scheme.lower() == "http" else "http"
    rest = rest[4:] if rest.lower().startswith("www.") else rest
    return f"{other}://{rest.rstrip('/')}/"


def _prose(text: str, prefixes) -> list[tuple[str, str]]:
    """(wikitext, plain text) of each prose paragraph of an article (no lists, tables, headings)."""
    blocks = [b.strip() for b in text.split("\n\n")]
    return [(b, " ".join(wikitext.to_text(b, prefixes).split())) for b in blocks if b and not b.startswith(NOT_PROSE)]


def cited_pages(dump: str, skip: int, n: int = CITED_PAGES) -> list[tuple[str, str, str]]:
    """(URL, "eng", text) of `n` pages at URLs the articles after the first `skip` cite."""
    prefixes = wikitext.dropped_prefixes("en")
    pages: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for title, text in articles(dump)[skip:]:
        if wikitext.is_disambiguation(title, text):  # the Wikipedia job drops these: they cite nothing
            continue
        paragraphs = _prose(text, prefixes)
        used = 0  # paragraphs before this one belong to a page already
        for i, (block, paragraph) in enumerate(paragraphs):
            urls = [u for u in raw_cited_urls(block) if normalize_url(u) not in seen] if i >= used else []
            if not urls or len(paragraph) < MIN_PARAGRAPH_CHARS:
                continue
            body, used = [paragraph], i + 1
            while used < len(paragraphs) and sum(map(len, body)) < PAGE_CHARS:
                body.append(paragraphs[used][1])
                used += 1
            seen.add(normalize_url(urls[0]))
            host = urlsplit(urls[0]).netloc.lower().removeprefix("www.") or "example.org"
            lines = [f"{title} | {host}", f"{host} | Home | About | Contact | Search", *body,
                     f"Copyright {host}. All rights reserved."]
            pages.append((crawled_as(urls[0], len(pages)), "eng", "\n".join(lines)))
            if len(pages) == n:
                return pages
    return pages
