"""Project Gutenberg plain text: decoding, licence header/footer stripping, header metadata.

Real PG files come in several generations, all handled here:
  * modern (2000s-): `*** START OF THE PROJECT GUTENBERG EBOOK <TITLE> ***` ... text ...
    `*** END OF THE PROJECT GUTENBERG EBOOK <TITLE> ***`, with "THIS" instead of "THE",
    with or without the space after the asterisks, the title or only the number;
  * 1990s "small print": the legal small print sits at the top and ends with
    `*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*` (or
    `*END THE SMALL PRINT! FOR PUBLIC DOMAIN EBOOKS*Ver.02/11/02*END*`), the book ends at
    `End of the Project Gutenberg Etext of ...`;
  * footer lines `End of Project Gutenberg's <title>, by <author>` before the END marker;
  * mid-1990s files with no START line, the small print after `End of the Project Gutenberg
    Etext of ...` at the bottom: the header runs to the `This file should be named ...` line.
After the header, the producer credits (`Produced by ...`, `E-text prepared by ...`,
`Transcriber's Note: ...`) are PG boilerplate, not the book, and are removed too.

Only windows at the two ends are searched, so a 50 MB book costs two small regex scans.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import unicodedata

# The licence header of every generation is < 20 KB (the 1990s small print, the longest, is
# ~12 KB); the modern footer licence is ~19 KB. Windows of 100 KB hold them with margin.
HEADER_WINDOW = 100_000
FOOTER_WINDOW = 100_000

_START = re.compile(
    r"^[ \t]*\*{2,}[ \t]*START[ \t]+OF[ \t]+(?:THE|THIS)[ \t]+PROJECT[ \t]+GUTENBERG.*$", re.I | re.M)
_SMALL_PRINT_END = re.compile(r"^[ \t]*\*[ \t]*END[ \t]*\*?[ \t]*THE[ \t]+SMALL[ \t]+PRINT.*$", re.I | re.M)
_END = re.compile(
    r"^[ \t]*(?:\*{2,}[ \t]*END[ \t]+OF[ \t]+(?:THE|THIS)[ \t]+PROJECT[ \t]+GUTENBERG"
    r"|End[ \t]+of[ \t]+(?:the[ \t]+|this[ \t]+)?Project[ \t]+Gutenberg).*$", re.I | re.M)
# Producer / transcriber credits that PG puts right after the START marker.
_CREDIT = re.compile(
    r"^[ \t]*(?:Produced[ \t]+by|E-?text[ \t]+(?:was[ \t]+)?prepared[ \t]+by|This[ \t]+e-?(?:book|text)[ \t]+"
    r"(?:was[ \t]+)?(?:produced|prepared|created|transcribed)|Transcribed[ \t]+(?:from|by)|Scanned[ \t]+by"
    r"|\[?[ \t]*Transcriber'?s?[ \t]+[Nn]otes?|Credits?:)", re.I)
# A credit paragraph runs to the next blank line; files with no blank lines (some re-wraps)
# must not lose the book, so a "paragraph" longer than this is taken to be just its first line.
MAX_CREDIT_LINES = 12

# Files of the mid-1990s with the small print at the bottom have no START line: the header is
# the identification blurb, whose last line names the file; the book ends at "End of the
# Project Gutenberg Etext of ...", after which comes the small print.
_FILE_NAMED = re.compile(r"^.*This file should be named .*$", re.I | re.M)
_PG_TOP = re.compile(r"Project Gutenberg", re.I)

_FIELD = re.compile(r"^[ \t]*(Title|Author|Language|Character set encoding|Translator)[ \t]*:[ \t]*(.*)$", re.I | re.M)
_PG_ID = re.compile(r"\[[ \t]*e-?(?:book|text)[ \t]*#[ \t]*(\d+)[ \t]*\]|\be(?:book|text)[ \t]*#[ \t]*(\d+)", re.I)
_FIRST_LINE = re.compile(
    r"Project Gutenberg(?:'s| e-?(?:book|text) of)[ \t]+(.+?),[ \t]+by[ \t]+(.+?)[ \t]*$", re.I | re.M)
_FILE_ID = re.compile(r"^(?:pg)?(\d+)(?:-\d+)?(?:\.txt)?$", re.I)

# PG's `Language:` names -> ISO 639-1 (the codes the other sources use in meta.language).
LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "finnish": "fi", "dutch": "nl", "italian": "it",
    "spanish": "es", "portuguese": "pt", "chinese": "zh", "latin": "la", "swedish": "sv", "danish": "da",
    "hungarian": "hu", "esperanto": "eo", "greek": "el", "tagalog": "tl", "polish": "pl", "russian": "ru",
    "norwegian": "no", "catalan": "ca", "czech": "cs", "japanese": "ja", "welsh": "cy",
}


class BadBook(ValueError):
    """Raised for input that is not a readable book; `kind` becomes the stats error key."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# Real text has almost no control characters (NULs included); binary decoded as latin-1 is full
# of them (the sample's binary `scan.txt`, a fastText model, is half NULs; random bytes are a
# quarter controls). One NUL used to make a 250 KB book `binary`: 233 of the fuzz test's 10,000
# mutants; 30 now, all tar members whose data a mutation filled with the archive's NUL blocks.
MAX_CONTROL_RATIO = 0.01

# Python codecs that are no character set: decoding with them would rewrite the book (a `\n`
# in it read as an escape) or fail with a bare UnicodeError.
NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "idna", "punycode"}


def declared_charset(raw: bytes) -> str | None:
    """The `Character set encoding:` a PG header declares, as a Python codec name; None when it
    names no text encoding (`hex`, `base64`, `rot13` are codecs of Python's, not charsets)."""
    match = re.search(rb"Character set encoding:[ \t]*([A-Za-z0-9_.:-]+)", raw[:HEADER_WINDOW], re.I)
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
        b"\0\0\0\0".decode(name)  # LookupError for a bytes-to-bytes codec (hex, base64, zlib, rot13)
    except UnicodeError:
        pass  # a text encoding that these four bytes are no text of
    except LookupError:
        return None
    return None if name in NOT_CHARSETS else name


def decode_book(raw: bytes) -> tuple[str, str]:
    """bytes -> (text, encoding). UTF-8 first (a few stray bytes replaced: "utf-8-replaced"),
    then the declared PG charset, then latin-1 (or Windows-1252).

    Raises `BadBook("empty" | "binary")`. latin-1 decodes any byte string, so binary input is
    recognised by NUL bytes and by control characters in the decoded text instead. A few NULs
    (a flipped bit, an OCR artefact) do not cost the book: they are removed from its text.
    """
    if not raw.strip():
        raise BadBook("empty", "file is empty or whitespace only")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        head = raw[:65536]
        if head.count(b"\x00") > len(head) * MAX_CONTROL_RATIO:  # binary formats are full of them
            raise BadBook("binary", "NUL bytes in the first 64 KB: not a text file")
        # Without a declaration: latin-1, unless bytes 0x80-0x9F (C1 controls in latin-1, curly
        # quotes and dashes in Windows-1252) say the file is really Windows-1252.
        fallback = "cp1252" if re.search(rb"[\x80-\x9f]", raw[:HEADER_WINDOW]) else "latin-1"
        candidates = ["utf-8-sig", declared_charset(raw) or fallback, "latin-1"]
    for encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeError:
            if encoding != "utf-8-sig":
                continue
            text = _mostly_utf8(raw)  # UTF-8 with a few stray bytes: not a latin-1 file
            if text is None:
                continue
            encoding = "utf-8-replaced"
        if _control_ratio(text) > MAX_CONTROL_RATIO:
            raise BadBook("binary", f"too many control characters after decoding as {encoding}")
        return text.replace("\x00", ""), ("utf-8" if encoding == "utf-8-sig" else encoding)
    raise BadBook("undecodable", "no encoding decodes this file")


def _mostly_utf8(raw: bytes) -> str | None:
    """The text decoded as UTF-8 with U+FFFD for invalid bytes, when those are at most 1 in 20
    of its non-ASCII characters; else None. Some PG UTF-8 files carry a stray Windows-1252 byte
    (a pasted curly quote): decoding all of such a file as latin-1 would turn every accented
    letter into mojibake ("é" -> "Ã©"). A real latin-1 text is almost never valid UTF-8 (an
    accented letter followed by a byte 0x80-0xBF), so its invalid bytes far outnumber any
    valid multibyte sequences and it stays latin-1."""
    text = raw.decode("utf-8-sig", errors="replace")
    bad = text.count("\ufffd") - raw.count("\ufffd".encode("utf-8"))
    non_ascii = sum(1 for ch in text if ord(ch) > 127) - bad
    return text if non_ascii >= 20 * bad else None


def _control_ratio(text: str, sample: int = 65536) -> float:
    head = text[:sample]
    if not head:
        return 0.0
    bad = sum(1 for ch in head if ch not in "\t\n\r\f\v" and unicodedata.category(ch) == "Cc")
    return bad / len(head)


def strip_gutenberg(text: str) -> tuple[str, dict, str]:
    """text -> (body, header metadata, variant). variant: "modern", "small_print", "footer_only"
    (a PG file with no START line, its small print at the bottom) or "none"."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    head_window = text[:HEADER_WINDOW]
    start = _START.search(head_window)
    # A small print that ends after the book's END marker is a footer (late-1990s files put it
    # at the bottom); only one that ends before any END marker closes the header.
    first_end = _END.search(head_window)
    limit = first_end.start() if first_end else len(head_window)
    small = [m for m in _SMALL_PRINT_END.finditer(head_window, 0, limit)]
    ends_at = ([start.end()] if start and start.end() <= limit else []) + [m.end() for m in small]
    if not ends_at:
        footer = _END.search(text, max(0, len(text) - FOOTER_WINDOW)) if _PG_TOP.search(text[:1000]) else None
        if footer is None:
            return text.strip(), parse_header(text[:10_000]), "none"
        named = [m.end() for m in _FILE_NAMED.finditer(head_window, 0, footer.start())]
        header_end = named[-1] if named else 0
        body = text[header_end:footer.start()]
        return strip_credits(body).strip(), parse_header(text[:header_end or 10_000]), "footer_only"
    header_end = max(ends_at)
    variant = "small_print" if small and small[-1].end() == header_end else "modern"
    tail_from = max(header_end, len(text) - FOOTER_WINDOW)
    footer = _END.search(text, tail_from)
    body = text[header_end: footer.start() if footer else len(text)]
    return strip_credits(body).strip(), parse_header(text[:header_end]), variant


def strip_credits(body: str) -> str:
    """Removes up to three leading credit paragraphs (`Produced by ...`, transcriber notes)."""
    lines = body.lstrip("\n").split("\n", 200)  # only the head is looked at; the rest stays one string
    rest = lines.pop() if len(lines) == 201 else None
    position = 0
    for _ in range(3):
        while position < len(lines) and not lines[position].strip():
            position += 1
        if position >= len(lines) or not _CREDIT.match(lines[position]):
            break
        end = position + 1
        while end < len(lines) and lines[end].strip() and end - position < MAX_CREDIT_LINES:
            end += 1
        paragraph_closed = end >= len(lines) or not lines[end].strip()
        position = end if paragraph_closed else position + 1
    kept = lines[position:] + ([rest] if rest is not None else [])
    return "\n".join(kept)


def parse_header(header: str) -> dict:
    """title / author / language (ISO code when known) / pg_id / charset from a PG header."""
    meta: dict = {}
    for match in _FIELD.finditer(header):
        field, value = match.group(1).lower(), match.group(2).strip()
        if not value:
            continue
        key = {"character set encoding": "charset"}.get(field, field)
        meta.setdefault(key, _with_continuation(header, match, value))
    if "title" not in meta:
        first = _FIRST_LINE.search(header[:2000])
        if first:
            meta["title"] = first.group(1).strip()
            meta.setdefault("author", first.group(2).strip())
    pg_id = _PG_ID.search(header)
    if pg_id:
        meta["pg_id"] = int(pg_id.group(1) or pg_id.group(2))
    if "language" in meta:
        meta["language"] = LANGUAGES.get(meta["language"].split(",")[0].strip().lower(), meta["language"].lower())
    return meta


def _with_continuation(header: str, match: re.Match, value: str) -> str:
    """PG wraps long titles onto indented next lines: `Title: The Foo,\\n       or the Bar`."""
    parts = [value]
    for line in header[match.end() + 1:].split("\n", 5)[:4]:
        if line.startswith((" ", "\t")) and line.strip() and ":" not in line:
            parts.append(line.strip())
        else:
            break
    return " ".join(parts)


def pg_id_from_filename(path: str) -> int | None:
    """`8868.txt`, `8868-0.txt` (UTF-8), `8868-8.txt` (8-bit), `pg8868.txt` -> 8868."""
    match = _FILE_ID.match(os.path.basename(path))
    return int(match.group(1)) if match else None


def parse_pg19_metadata(data: bytes) -> dict[str, dict]:
    """PG-19's `metadata.csv` rows `id,short_book_title,publication_date,url` -> {id: meta}."""
    out: dict[str, dict] = {}
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
    for row in reader:
        if len(row) < 2 or row[0].strip().lower() == "id":
            continue
        meta = {"title": row[1].strip()}
        if len(row) > 2 and row[2].strip():
            meta["publication_date"] = row[2].strip()
        if len(row) > 3 and row[3].strip():
            meta["url"] = row[3].strip()
        out[row[0].strip()] = meta
    return out
