"""Rows of a StackExchange `Posts.xml`, streamed: one `<row .../>` a line as the dump writes it,
and a row whose attributes hold literal newlines (valid XML, as tools that re-serialise the
dump write it) joined over its lines, up to a cap. Nothing here holds more than one row."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterator

from pipeline.document import ErrorRecord
from pipeline.files import LongLine, capped_lines, read_blank_lines

NAME = "stackexchange"
# A `<row/>` longer than this (its line, or the lines of a row joined) is broken, not a post (the
# largest real posts are ~100 KB; the site caps bodies at 30,000 characters of markdown).
# `--max-row-mb` changes it.
MAX_ROW_BYTES = 4 * 1024 * 1024
# XML 1.0 allows only these characters (XML 1.0 §2.2, "Char"); dump bodies now and then hold a
# reference to another (`&#x8;` from a pasted backspace), which makes the whole row unparseable.
_INVALID_REF = re.compile(rb"&#(?:x0*(?:[0-8bBcCe-fE-F]|1[0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])"
                          rb"|0*(?:[0-8]|1[1-2]|1[4-9]|2[0-9]|3[01]));")
_INVALID_RAW = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def parse_row(line: bytes) -> dict[str, str]:
    """One `<row .../>` line -> its attributes. No DTD is in scope, so no entity can expand.
    Characters XML forbids are dropped (the rest of the post is kept)."""
    try:
        element = ET.fromstring(line)
    except ET.ParseError:
        cleaned = _INVALID_RAW.sub(b"", _INVALID_REF.sub(b"", line))
        if cleaned == line:
            raise
        element = ET.fromstring(cleaned)
    if element.tag != "row":
        raise ValueError(f"expected <row>, got <{element.tag}>")
    return dict(element.attrib)


# What matters in a row's start tag: a quote opens or closes an attribute value, `>` (of `/>`)
# ends the tag, and `<` cannot appear in either (XML 1.0 §3.1: AttValue holds no `<`).
_TAG_CHARS = re.compile(rb"[\"'<>]")


def _row_state(data: bytes, pos: int, quote: bytes) -> tuple[str, bytes]:
    """Follows a row's start tag through `data` from `pos`, inside the attribute value `quote`
    opened (b"" outside one): "closed" at its `>`, "broken" at a `<` outside a value, else "open"
    with the quote still open at the end of `data`."""
    while True:
        if quote:
            end = data.find(quote, pos)
            if end < 0:
                return "open", quote
            pos, quote = end + 1, b""
        m = _TAG_CHARS.search(data, pos)
        if m is None:
            return "open", b""
        char = m.group()
        if char == b">":
            return "closed", b""
        if char == b"<":
            return "broken", b""
        pos, quote = m.end(), char


def _join_row(first: bytes, quote: bytes, handle, cap: int) -> tuple[str, bytes, int, bytes | None]:
    """Reads on from `handle` the rest of a row whose first line `first` left its tag open, with
    `quote` open at its end -> (how it ended, the row, lines read, a line to read again or None).
    Ends: "closed" (the row is whole), "too_large" (past `cap` bytes: the line that went over is
    read past, and the row's other lines, which hold no `<row`, are passed over as any other
    line is), "broken" (a line holding `<`, never inside a row: it is read again as a line of its
    own) and "eof". Reads lines straight from `handle`, at most the bytes left under `cap`."""
    data, read, left = bytearray(first), 0, cap - len(first)
    readline = handle.readline
    while True:
        line = readline(left + 1)
        if not line:
            return "eof", data, read, None
        read += 1
        if len(line) > left:
            while line and not line.endswith(b"\n"):  # read past the rest of the line, never held
                line = readline(cap)
            return "too_large", data, read, None
        if b"<" in line:
            return "broken", data, read, line
        data += line
        left -= len(line)
        if line.isspace():
            blank = read_blank_lines(handle, left)
            data += blank
            left -= len(blank)
            read += blank.count(b"\n")
        if quote and quote not in line:  # the value goes on over the whole line
            continue
        state, quote = _row_state(line, 0, quote)
        if state != "open":
            return "closed", bytes(data).strip(), read, None


# What a split row that did not close is, by how it ended.
_JOIN_ERRORS = {"too_large": ("row_too_large", "row over {cap} bytes"),
                "broken": ("unclosed_row", "row not closed by `/>` before the next tag"),
                "eof": ("unclosed_row", "file ends inside a row")}


def iter_post_lines(handle, path: str, max_row_bytes: int = MAX_ROW_BYTES
                    ) -> Iterator[tuple[bytes | None, ErrorRecord | None]]:
    """Row lines of a Posts.xml stream; broken lines and DTDs become errors, never crashes. A row
    is one line (the dump's own layout, the fast path); a row whose tag is not closed on its
    line is joined with the lines after it until it is, up to `max_row_bytes` in all."""
    in_dtd, skipped = False, 0  # skipped: lines a joined row read, past `enumerate`'s count
    for number, line in enumerate(capped_lines(handle, max_row_bytes), start=1):
        number += skipped
        while line is not None:  # once, or again for a line that ended a broken split row
            if isinstance(line, LongLine):  # the giant line was read past, never held
                yield None, ErrorRecord.of(NAME, f"{path}:{number}", "row_too_large",
                                           f"row over {max_row_bytes} bytes")
                break
            stripped = line.strip()
            if stripped.startswith(b"<!DOCTYPE") or (stripped.startswith(b"<!ENTITY") and not in_dtd):
                in_dtd = True  # one error for the whole DTD; its entities are never expanded
                yield None, ErrorRecord.of(NAME, f"{path}:{number}", "xml_dtd_rejected",
                                           "DTD/entity declarations are not part of the dump format", stripped)
                break
            if not stripped.startswith(b"<row"):
                if not stripped:
                    skipped += read_blank_lines(handle, max_row_bytes).count(b"\n")
                break
            in_dtd = False
            if stripped.endswith(b"/>") and stripped.count(b'"') % 2 == 0:
                yield stripped, None  # one row a line, as the dump writes it
                break
            state, quote = _row_state(stripped, 4, b"")
            if state != "open":  # closed, or broken on its own line: the parser says what is wrong
                yield stripped, None
                break
            first = line.lstrip()
            ended, row, read, line = _join_row(first, quote, handle, max_row_bytes)
            if ended == "closed":
                yield row, None
            else:
                kind, message = _JOIN_ERRORS[ended]
                yield None, ErrorRecord.of(NAME, f"{path}:{number}", kind, message.format(cap=max_row_bytes), first)
            skipped, number = skipped + read, number + read  # `line` (a broken row's end) is line `number`
