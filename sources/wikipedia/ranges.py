"""Byte ranges of multistream dumps, so one big dump is read by many workers.

A `*-pages-articles-multistream*.xml.bz2` dump is a concatenation of bz2 streams: the first
holds the `<mediawiki><siteinfo>` opening, each next one 100 pages, the last the closing tag
(dumps.wikimedia.org's README for multistream dumps). Every stream starts byte-aligned with
the bz2 file header `BZh<level>` followed by the first block's magic 0x314159265359, so the
stream starts can be found by scanning (the `-index.txt.bz2` file lists the same offsets).
A range is a run of whole streams; its reader parses the dump's first stream for the siteinfo,
then the range's pages.
"""

from __future__ import annotations

import bz2
import io
import re

from sources.wikipedia.dump import DumpError, iter_pages

STREAM_START = re.compile(rb"BZh[1-9]1AY&SY")
DUMP_PART = re.compile(r"multistream(\d*)\.xml")
SCAN_BLOCK = 8 << 20
MAX_HEADER_BYTES = 16 << 20  # a siteinfo is a few KB; a first stream this large is not a header


def stream_starts(handle) -> list[int]:
    """Offsets of every bz2 stream in a file (one pass, block by block)."""
    starts: list[int] = []
    offset, tail = 0, b""
    while True:
        block = handle.read(SCAN_BLOCK)
        if not block:
            return starts
        data = tail + block
        base = offset - len(tail)
        starts.extend(base + m.start() for m in STREAM_START.finditer(data) if base + m.start() not in starts[-1:])
        tail = data[-9:]
        offset += len(block)


def index_path(path: str) -> str | None:
    """`...-multistream1.xml-p1p41242.bz2` -> `...-multistream-index1.txt-p1p41242.bz2` (the
    naming of the dumps site); None when the name is not a multistream dump's."""
    directory, sep, name = path.rpartition("/")
    indexed = DUMP_PART.sub(r"multistream-index\1.txt", name, count=1)
    return None if indexed == name else directory + sep + indexed


def index_starts(handle) -> list[int]:
    """Stream offsets from a multistream index (`offset:page_id:title` lines, bz2), plus 0."""
    offsets = {0}
    with bz2.open(handle, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            head = line.split(":", 1)[0]
            if head.isdigit():
                offsets.add(int(head))
    return sorted(offsets)


def at_stream_starts(handle, offsets: list[int]) -> bool:
    """Whether a bz2 stream begins at every one of `offsets` of the file."""
    for offset in offsets:
        handle.seek(offset)
        if not STREAM_START.match(handle.read(10)):
            return False
    return True


def plan(starts: list[int], size: int, range_bytes: int) -> list[tuple[int, int]]:
    """Whole-stream ranges of about `range_bytes` (the last one runs to the end of the file)."""
    if len(starts) < 3 or size <= range_bytes:
        return [(0, -1)]
    ranges, begin = [], 0
    for start in starts[1:]:
        if start - begin >= range_bytes:
            ranges.append((begin, start))
            begin = start
    ranges.append((begin, -1))
    return ranges


class _Window(io.RawIOBase):
    """`length` bytes of `handle` from its current position (length -1: to the end)."""

    def __init__(self, handle, length: int):
        self.handle, self.left = handle, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer) if self.left < 0 else min(len(buffer), self.left)
        data = self.handle.read(want) if want else b""
        buffer[:len(data)] = data
        if self.left >= 0:
            self.left -= len(data)
        return len(data)


def first_stream(handle) -> bytes:
    """The decompressed first bz2 stream of the file (the dump's header)."""
    handle.seek(0)
    decompressor, out, read = bz2.BZ2Decompressor(), [], 0
    while not decompressor.eof and read < MAX_HEADER_BYTES:
        block = handle.read(1 << 16)
        if not block:
            break
        read += len(block)
        out.append(decompressor.decompress(block))
    return b"".join(out)


def page_aligned(handle) -> bool:
    """Whether the file's bz2 streams end at page boundaries, as a multistream dump's do: its
    first stream holds the `<mediawiki><siteinfo>` opening and no page. A dump recompressed by a
    parallel bzip2 (pbzip2 writes one stream per 900 KB input block) has many streams too, but
    they cut pages and elements anywhere: a byte range of it is not XML, so it is read whole."""
    header = first_stream(handle)
    return b"</siteinfo>" in header and b"<page>" not in header


def iter_range(handle, start: int, end: int):
    """(siteinfo, page) of the streams in [start, end) of a multistream dump."""
    if not 0 <= start < (end if end >= 0 else start + 1):
        raise DumpError("bad_range", f"byte range [{start}, {end}) is not one")
    header = first_stream(handle) if start > 0 else b""
    try:
        handle.seek(start)
    except (OSError, ValueError, OverflowError) as exc:  # past what the file system can seek to
        raise DumpError("bad_range", f"cannot seek to {start}: {exc}") from exc
    window = io.BufferedReader(_Window(handle, end - start if end >= 0 else -1))
    return iter_pages(bz2.BZ2File(window), header=header, close=end >= 0)
