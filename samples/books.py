"""Sample raw data for the books source: real books, near-duplicates of them, bad files.

All text is real: Project Gutenberg #8868 ("Botchan", .cache/assets/botchan.txt, header and all)
and gensim's Lee news corpus (300 real news articles) bound into three "anthologies" that are
clearly labelled as made for this sample. What the sample holds and what should happen:

  gutenberg/8868.txt                      Botchan as distributed (modern PG header)   kept
  gutenberg/8868-8.txt                    same book, 1990s "small print" header,
                                          ISO-8859-1 as PG's 8-bit files declare      near_duplicate
  pg19/train/8868.txt + pg19/metadata.csv the PG-19 copy (header already stripped)    near_duplicate
  books3/Natsume Soseki/Botchan (5% edited).txt    5% of paragraphs rewritten         near_duplicate
  books3/Natsume Soseki/Botchan (40% edited).txt   40% of paragraphs rewritten        kept
  books3/Natsume Soseki/Botchan (abridged).txt     chapter II missing (93% subset)    near_duplicate
  books3/books3.jsonl                     Lee anthology 1 twice (one cluster of three
                                          with the .txt below), anthology 2, a broken line
  books3/Lee/Lee news anthology 1.txt     third copy of anthology 1
  books3/Lee/Lee news anthology 3.txt     latin-1 encoded                             kept
  books3/Lee/empty.txt, books3/Lee/scan.txt   empty file, binary file                 errors
  books3/Lee/Lee news anthology 5.txt.gz  a gzipped book: ten articles each of
                                          anthologies 1 and 3                         kept
  books3.tar.gz                           the Books3 tarball layout (books3/<mirror folders>/Books/
                                          Bibliotik/<letter>/<title>.epub.txt, streamed), holding:
    .../L/Lee news anthology, vol. 4 (selected).epub.txt
                                          ten other articles each of anthologies 1 and 3   kept
    .../N/Botchan, chapter I.epub.txt     the book's first chapter (a ninth of it)    near_duplicate
                                          (all of it is in Botchan, Jaccard ~0.11: found by the
                                          containment bands, sources/books/minhash.py)
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import tarfile
import textwrap

from sources.books.gutenberg import strip_gutenberg

# The 1990s Project Gutenberg header, with the legal "small print" at the top of the file
# (the layout of PG etexts from before ~2003; fields filled in for Botchan).
OLD_HEADER = """The Project Gutenberg Etext of {title}, by {author}

Copyright laws are changing all over the world, be sure to check
the copyright laws for your country before posting these files!!

Please take a look at the important information in this header.
We encourage you to keep this file on your own disk, keeping an
electronic path open for the next readers.  Do not remove this.


**Welcome To The World of Free Plain Vanilla Electronic Texts**

**Etexts Readable By Both Humans and By Computers, Since 1971**

*These Etexts Prepared By Hundreds of Volunteers and Donations*

Information on contacting Project Gutenberg to get Etexts, and
further information is included below.  We need your donations.


Title: {title}

Author: {author}

Release Date: August, 2003  [Etext #{pg_id}]
[Yes, we are about one year ahead of schedule]

Edition: 10

Language: English

Character set encoding: ISO-8859-1

The Project Gutenberg Etext of {title}, by {author}
*******This file should be named {pg_id}-8.txt or {pg_id}-8.zip*******


**The Legal Small Print**


(Three Pages)

***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***
Why is this "Small Print!" statement here? You know: lawyers.
They tell us you might sue us if there is something wrong with
your copy of this etext, even if you got it for free from
someone other than us, and even if what's wrong is not our
fault. So, among other things, this "Small Print!" statement
disclaims most of our liability to you. It also tells you how
you can distribute copies of this etext if you want to.

*END THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*



This etext was produced by David Starner and the Online Distributed
Proofreading Team.


"""
OLD_FOOTER = "\n\nEnd of the Project Gutenberg Etext of {title}, by {author}\n"

LEE_LABEL = ("Lee news anthology, vol. {n} ({note}): {count} news articles from gensim's Lee corpus, "
             "bound together for the books sample; not a real book.\n\n")


def split_botchan(raw: str) -> tuple[str, str, str]:
    """The real file -> (header through the START line, body, footer from the End-of line)."""
    start = re.search(r"^\*\*\* START OF.*$", raw, re.M)
    end = re.search(r"^End of Project Gutenberg's.*$", raw, re.M)
    return raw[: start.end() + 1], raw[start.end() + 1: end.start()], raw[end.start():]


def paragraphs(body: str, lines_per_paragraph: int = 6) -> list[str]:
    """Botchan's file has no blank lines, so a paragraph here is a run of six wrapped lines."""
    lines = body.split("\n")
    return ["\n".join(lines[i:i + lines_per_paragraph]) for i in range(0, len(lines), lines_per_paragraph)]


def edit_paragraph(paragraph: str, vocabulary: list[str], rng: random.Random) -> str:
    """A rewrite: every 4th word dropped, every 3rd replaced by a book word no longer than it,
    so no 5-word shingle of the paragraph survives and the text gets shorter."""
    out = []
    for i, word in enumerate(paragraph.split()):
        if i % 4 == 3:
            continue
        if i % 3 == 1:
            choices = [w for w in rng.sample(vocabulary, 40) if len(w) <= len(word) and w != word]
            word = choices[0] if choices else word[::-1]
        out.append(word)
    return textwrap.fill(" ".join(out), 70)


def edit_paragraphs(body: str, fraction: float, seed: int) -> str:
    """`body` with round(fraction * paragraphs) of its paragraphs rewritten (seeded choice)."""
    rng = random.Random(seed)
    paras = paragraphs(body)
    vocabulary = sorted(set(re.findall(r"[A-Za-z]+", body)))
    for index in rng.sample(range(len(paras)), round(fraction * len(paras))):
        paras[index] = edit_paragraph(paras[index], vocabulary, rng)
    return "\n".join(paras)


def drop_chapter(body: str, chapter: str = "II") -> str:
    """`body` without `CHAPTER <chapter>` (up to the next chapter heading)."""
    pattern = rf"(?ms)^CHAPTER {chapter}\.?$.*?(?=^CHAPTER [IVX]+\.?$)"
    shorter, n = re.subn(pattern, "", body, count=1)
    if n != 1:
        raise ValueError(f"no CHAPTER {chapter} in the text")
    return shorter


def lee_anthologies(assets_dir: str) -> list[list[str]]:
    with open(os.path.join(assets_dir, "lee_background.cor"), encoding="utf-8") as f:
        articles = [line.strip() for line in f if line.strip()]
    third = len(articles) // 3
    return [articles[i * third:(i + 1) * third] for i in range(3)]


def lee_book(articles: list[str], n: int, note: str) -> str:
    return LEE_LABEL.format(n=n, note=note, count=len(articles)) + "\n\n".join(textwrap.fill(a, 70) for a in articles)


BOOKS3_PREFIX = "books3/public/Books/Bibliotik"


def first_chapters(body: str, last: str = "I") -> str:
    """`body` up to the chapter heading after CHAPTER `last`."""
    following = re.search(rf"(?ms)^CHAPTER {last}\.?$.*?(?=^CHAPTER [IVX]+\.?$)", body)
    if following is None:
        raise ValueError(f"no CHAPTER {last} in the text")
    return body[:following.end()]


def books3_tarball(books: dict[str, str]) -> bytes:
    """`books3.tar.gz` as distributed: folders then `<title>.epub.txt` members under BOOKS3_PREFIX;
    fixed owner and times, so the same books give the same bytes."""
    names = sorted(f"{BOOKS3_PREFIX}/{name}" for name in books)
    folders = sorted({"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)})
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_600_000_000
            tar.addfile(info)
        for name in names:
            data = books[name[len(BOOKS3_PREFIX) + 1:]].encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def build(out_dir: str, assets_dir: str, seed: int) -> None:
    with open(os.path.join(assets_dir, "botchan.txt"), encoding="utf-8-sig") as f:
        raw = f.read()
    header, body, footer = split_botchan(raw)
    title, author = "Botchan (Master Darling)", "Kin-nosuke Natsume"

    def write(relative: str, data: str | bytes, encoding: str = "utf-8") -> None:
        path = os.path.join(out_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode(encoding))

    write("gutenberg/8868.txt", "\ufeff" + raw)  # byte for byte the file PG distributes (with its BOM)
    old = (OLD_HEADER.format(title=title, author=author, pg_id=8868) + body
           + OLD_FOOTER.format(title=title, author=author))
    write("gutenberg/8868-8.txt", old, "latin-1")
    stripped_body = strip_gutenberg(raw)[0] + "\n"  # the book without PG's licence and credits
    write("pg19/train/8868.txt", stripped_body)
    write("pg19/metadata.csv", f'8868,"{title}",1906,http://www.gutenberg.org/ebooks/8868\n')
    write("books3/Natsume Soseki/Botchan (5% edited).txt", edit_paragraphs(stripped_body, 0.05, seed))
    write("books3/Natsume Soseki/Botchan (40% edited).txt", edit_paragraphs(stripped_body, 0.40, seed + 1))
    write("books3/Natsume Soseki/Botchan (abridged).txt", drop_chapter(stripped_body, "II"))

    lee = lee_anthologies(assets_dir)
    first = lee_book(lee[0], 1, "sample")
    lines = [
        json.dumps({"text": first, "meta": {"pile_set_name": "Books3"}}),
        json.dumps({"text": lee_book(lee[1], 2, "sample"), "title": "Lee news anthology, vol. 2"}),
        '{"text": "a record cut off in the middle',  # a broken JSON line: counted error
        json.dumps({"text": first, "title": "Lee news anthology, vol. 1 (reprint)"}),
    ]
    write("books3/books3.jsonl", "\n".join(lines) + "\n")
    write("books3/Lee/Lee news anthology 1.txt", first)
    write("books3/Lee/Lee news anthology 3.txt", lee_book(lee[2], 3, "édition latin-1"), "latin-1")
    write("books3/Lee/empty.txt", b"")
    with open(os.path.join(assets_dir, "lid.176.ftz"), "rb") as f:
        write("books3/Lee/scan.txt", f.read(4096))  # a binary file with a .txt name
    # Ten articles from each of anthologies 1 and 3: a tenth of either, far from the 90% overlap.
    write("books3/Lee/Lee news anthology 5.txt.gz",
          gzip.compress(lee_book(lee[0][1:20:2] + lee[2][1:20:2], 5, "selected").encode(), mtime=0))
    write("books3.tar.gz", books3_tarball({
        "L/Lee news anthology, vol. 4 (selected).epub.txt": lee_book(lee[0][0:20:2] + lee[2][0:20:2], 4, "selected"),
        "N/Botchan, chapter I.epub.txt": first_chapters(stripped_body, "I")}))
