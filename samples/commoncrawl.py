"""Sample Common Crawl input: real-format WET files (and one real WARC crawl) from real text.

`build(out_dir, assets_dir, seed)` writes to `out_dir` (data/raw/commoncrawl/):

- `CC-MAIN-*-0000N.warc.wet.gz`: WET files as Common Crawl distributes them: every record its
  own gzip member, a `warcinfo` record first, then `conversion` records with WARC-Target-URI,
  WARC-Date, WARC-Record-ID, WARC-Refers-To, WARC-Block-Digest (sha1, base32),
  WARC-Identified-Content-Language, Content-Type text/plain and Content-Length; the block is
  the page title line then its text.
  Pages: real English news (lee_background.cor) framed by site boilerplate (navigation, cookie
  banners, footers shared across pages), real English Wikipedia articles (the enwiki dump),
  German and Russian pages (Debian's fortunes-de / fortunes-ru, when installed) and Bulgarian
  pages (the bgwiki dump), keyword-spam and word-salad pages (the perplexity tail), mirrored
  pages (identical copies), pages under 300 characters, pages at 60 URLs that the sample's
  English Wikipedia articles cite (`cited_pages.py`: the positives of `make classifier`), and
  bad records: one with invalid UTF-8 and one whose Content-Length claims more bytes than the
  block has.
- `CC-MAIN-*-00009.warc.wet.gz`: a WET file cut short (a truncated gzip member at the end).
- `CC-MAIN-*-00005.warc.wet.gz`: a WET file gzipped as a whole (one gzip member, as `gzip` of a
  downloaded-and-inflated `.warc.wet` writes it): its warcinfo and NEWS_WHOLE_GZIP more news
  pages (articles not used above) are all read, no error; each page then meets the fate of
  the other news pages.
- `iana.warc.gz`: a real crawl (WARC `response` records with HTML), copied unchanged.

`build_negatives(out_dir, assets_dir, seed)` writes another "segment" (data/raw/commoncrawl-negatives/):
random pages of a crawl the CommonCrawl job does not filter, the negatives of `make classifier`
(the paper's "randomly sampled pages"): the news articles not used above, framed as the others,
and keyword-spam and word-salad pages of its own. A classifier whose negatives are the very pages
it later filters has seen each of them labelled "not a reference" and rejects them all.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import random
import re
import shutil
import uuid

from samples.cited_pages import cited_pages

FORTUNES = "/usr/share/games/fortunes"
PREFIX = "CC-MAIN-20230320083513-20230320113513"
N_FILES = 4
NEWS_PAGES = 220  # lee_background.cor articles 0..219 make the news pages of the files above
NEWS_WHOLE_GZIP = 8  # the next ones make the pages of the file gzipped as a whole
NEWS_ARTICLES = 300  # lee_background.cor's articles; those after the two above go to the negatives
NEGATIVES_PREFIX = "CC-MAIN-20230321002050-20230321032050"  # another segment of the same crawl
NAV = [
    "Home | News | Sport | Business | Weather | Contact us",
    "Home > World > Australia",
    "Skip to main content",
]
COOKIES = [
    "We use cookies to improve your experience on our website. "
    "By continuing to browse you agree to our use of cookies.",
    "This site uses cookies. Accept all cookies | Manage preferences",
]
FOOTERS = [
    "Copyright 2023 The Daily Chronicle. All rights reserved. Privacy policy | Terms of use",
    "Follow us on Facebook, Twitter and Instagram. Subscribe to our newsletter.",
]
SPAM = ["buy cheap", "best price", "free shipping", "online casino", "click here", "discount", "replica watches",
        "viagra", "loans", "win big", "bonus", "cheap flights", "hot deals", "limited offer", "seo services"]


def build(out_dir: str, assets_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    pages = _pages(assets_dir, rng)
    rng.shuffle(pages)
    files: list[list[bytes]] = [[] for _ in range(N_FILES)]
    for number, (url, lang, text) in enumerate(pages):
        files[number % N_FILES].append(conversion_record(url, lang, text.encode("utf-8"), rng))
    latin1 = "Gr\u00fc\u00dfe aus M\u00fcnchen, sch\u00f6ne Stra\u00dfe. ".encode("latin-1") * 20  # not UTF-8
    files[1].insert(3, conversion_record("http://bad-bytes.example/latin1", "deu", latin1, rng))
    lying = ("A page whose header lies about its length. " * 30).encode()
    record = conversion_record("http://lying-length.example/", "eng", lying, rng)
    files[2].insert(5, record.replace(f"Content-Length: {len(lying)}\r\n".encode(),
                                      f"Content-Length: {len(lying) + 4000}\r\n".encode()))
    for index, records in enumerate(files):
        write_wet(os.path.join(out_dir, f"{PREFIX}-{index:05d}.warc.wet.gz"), records, index, rng)
    truncated = os.path.join(out_dir, f"{PREFIX}-00009.warc.wet.gz")
    write_wet(truncated, [conversion_record(u, lg, t.encode(), rng) for u, lg, t in pages[:6]], 9, rng)
    with open(truncated, "r+b") as f:
        f.truncate(os.path.getsize(truncated) - 200)
    shutil.copyfile(os.path.join(assets_dir, "iana.warc.gz"), os.path.join(out_dir, "iana.warc.gz"))
    whole = [conversion_record(u, lg, t.encode(), rng)
             for u, lg, t in _news(assets_dir, rng, NEWS_PAGES, NEWS_PAGES + NEWS_WHOLE_GZIP)]
    write_wet(os.path.join(out_dir, f"{PREFIX}-00005.warc.wet.gz"), whole, 5, rng, per_record=False)


def build_negatives(out_dir: str, assets_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    first = NEWS_PAGES + NEWS_WHOLE_GZIP
    junk = [(url.replace(".example/", "-b.example/"), lang, text) for url, lang, text in _junk(assets_dir, rng)]
    pages = _news(assets_dir, rng, first, NEWS_ARTICLES) + junk
    rng.shuffle(pages)
    records = [conversion_record(url, lang, text.encode("utf-8"), rng) for url, lang, text in pages]
    write_wet(os.path.join(out_dir, f"{NEGATIVES_PREFIX}-00000.warc.wet.gz"), records, 0, rng)


def _pages(assets_dir: str, rng: random.Random) -> list[tuple[str, str, str]]:
    from sources.commoncrawl.lm import ENWIKI_ASSET

    encyclopedia, articles_used = _wikipedia(assets_dir)
    pages = _news(assets_dir, rng) + encyclopedia + _foreign(assets_dir, rng) + _junk(assets_dir, rng)
    mirrored = [(url.replace("://", "://mirror."), lang, text) for url, lang, text in pages[5:9]]
    short = [(f"http://short.example/{i}", "eng", f"Page {i}\nNothing to see here yet. Come back soon.")
             for i in range(4)]
    cited = cited_pages(os.path.join(assets_dir, ENWIKI_ASSET), skip=articles_used)
    return pages + mirrored + short + cited


def _news(assets_dir: str, rng: random.Random, first: int = 0, end: int = NEWS_PAGES) -> list[tuple[str, str, str]]:
    """Real news articles framed by boilerplate that repeats across the site's pages."""
    with open(os.path.join(assets_dir, "lee_background.cor"), encoding="utf-8") as f:
        articles = [line.strip() for line in f if line.strip()]
    pages = []
    for number, article in enumerate(articles[first:end], start=first):
        sentences = re.split(r"(?<=[.!?\"]) (?=[A-Z\"])", article)
        paragraphs = [" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
        title = sentences[0][:70].rstrip(" ,.") + " | The Daily Chronicle"
        lines = [title, rng.choice(NAV), *paragraphs, rng.choice(COOKIES), rng.choice(FOOTERS)]
        pages.append((f"http://www.dailychronicle.example/news/{number}", "eng", "\n".join(lines)))
    return pages


def _wikipedia(assets_dir: str) -> tuple[list[tuple[str, str, str]], int]:
    """40 encyclopedia pages from the first articles of the enwiki dump; and how many articles
    they took (the cited pages come from the articles after them)."""
    from sources.commoncrawl.lm import ENWIKI_ASSET, dump_texts

    pages: list[tuple[str, str, str]] = []
    number = -1
    for number, text in enumerate(dump_texts(os.path.join(assets_dir, ENWIKI_ASSET))):
        paragraphs = [p for p in text.split("\n") if len(p) > 40][:25]
        if len(paragraphs) < 3:
            continue
        lines = [paragraphs[0][:60] + " - Free Encyclopedia", "Jump to navigation Jump to search", *paragraphs,
                 "Retrieved from the encyclopedia. Text is available under the Creative Commons licence."]
        pages.append((f"http://encyclopedia.example/wiki/{number}", "eng", "\n".join(lines)))
        if len(pages) == 40:
            break
    return pages, number + 1


def fortunes(lang: str, rng: random.Random) -> list[str]:
    folder = os.path.join(FORTUNES, lang)
    if not os.path.isdir(folder):
        return []
    texts = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if "." in name or not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.extend(t.strip() for t in f.read().split("\n%\n") if len(t.strip()) > 60)
    rng.shuffle(texts)
    return texts


def _foreign(assets_dir: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """German and Russian fortunes grouped into pages; Bulgarian Wikipedia articles."""
    from sources.commoncrawl.lm import dump_texts

    pages = []
    for lang, code in (("de", "deu"), ("ru", "rus")):
        texts = fortunes(lang, rng)
        for number in range(min(20, len(texts) // 6)):
            body = "\n".join(texts[number * 6:(number + 1) * 6])
            pages.append((f"http://{lang}.example/seite/{number}", code, body))
    # The bgwiki asset holds one long article: its paragraphs make several Bulgarian pages.
    bg = os.path.join(assets_dir, "bgwiki-latest-pages-articles-shortened.xml.bz2")
    paragraphs = [p for text in dump_texts(bg) for p in text.split("\n") if len(p) > 30]
    chunk: list[str] = []
    for paragraph in paragraphs:
        chunk.append(paragraph)
        if len(" ".join(chunk)) > 600:
            pages.append((f"http://bg.example/wiki/{len(pages)}", "bul", "\n".join(chunk)))
            chunk = []
    return pages


def _junk(assets_dir: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """Keyword spam and word salad: English words, no language model would predict them."""
    with open(os.path.join(assets_dir, "lee_background.cor"), encoding="utf-8") as f:
        vocab = sorted({w.strip('.,"()').lower() for w in f.read().split() if w.isalpha()})
    pages = []
    for number in range(15):
        lines = [" ".join(rng.choice(SPAM) for _ in range(12)) for _ in range(8)]
        pages.append((f"http://deals{number}.example/", "eng", "\n".join(lines)))
    for number in range(15):
        lines = [" ".join(rng.choice(vocab) for _ in range(rng.randint(10, 20))) for _ in range(10)]
        pages.append((f"http://blog{number}.example/post", "eng", "\n".join(lines)))
    return pages


def _uuid(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def _record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode() + f"Content-Length: {len(block)}\r\n\r\n".encode() + block + b"\r\n\r\n"


def conversion_record(url: str, lang: str, block: bytes, rng: random.Random) -> bytes:
    digest = base64.b32encode(hashlib.sha1(block).digest()).decode()
    second = rng.randrange(4 * 3600)
    date = f"2023-03-20T{8 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
    return _record([("WARC-Type", "conversion"), ("WARC-Target-URI", url), ("WARC-Date", date),
                    ("WARC-Record-ID", _uuid(rng)), ("WARC-Refers-To", _uuid(rng)),
                    ("WARC-Block-Digest", f"sha1:{digest}"), ("WARC-Identified-Content-Language", lang),
                    ("Content-Type", "text/plain")], block)


def _warcinfo(filename: str, rng: random.Random) -> bytes:
    fields = ("Software-Info: ia-web-commons.1.1.10-SNAPSHOT-20230315024017\r\n"
              "Extracted-Date: Mon, 20 Mar 2023 08:38:26 GMT\r\n"
              "robots: checked via crawler-commons 1.4-SNAPSHOT\r\n"
              "isPartOf: CC-MAIN-2023-14\r\n"
              "operator: Common Crawl Admin\r\n"
              "description: Wide crawl of the web for March 2023\r\n"
              "publisher: Common Crawl\r\n").encode()
    return _record([("WARC-Type", "warcinfo"), ("WARC-Date", "2023-03-20T08:38:26Z"),
                    ("WARC-Filename", filename), ("WARC-Record-ID", _uuid(rng)),
                    ("Content-Type", "application/warc-fields")], fields)


def write_wet(path: str, records: list[bytes], index: int, rng: random.Random, per_record: bool = True) -> None:
    """One gzip member per record, as Common Crawl writes them; or (per_record=False) the whole
    file in one member, as `gzip` of the inflated file writes it."""
    records = [_warcinfo(os.path.basename(path), rng), *records]
    with open(path, "wb") as f:
        if per_record:
            for record in records:
                f.write(gzip.compress(record, mtime=0))
        else:
            f.write(gzip.compress(b"".join(records), mtime=0))
