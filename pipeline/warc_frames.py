"""Framing of WET/WARC files into records, reading past damage (`pipeline.warc` parses the records).

A file is read a unit at a time: a gzip member (Common Crawl gzips each record alone; a file
gzipped whole is one member) or the whole file when not gzip. A member that does not inflate, or
that the file ends in, ends its unit; reading goes on at the next gzip header after its start.
Bytes where a record should start are skipped to the next `WARC/1.`; a block whose Content-Length
is wrong is searched for the records it swallowed. `frames(stream, name, cap)` yields a `Frame`
per whole record and a `Damage` per stretch that could not be one.
"""

from __future__ import annotations

import re
import zlib
from typing import IO, Iterator, NamedTuple

from pipeline.document import MAX_ERROR_EXCERPT

GZIP_MAGIC = b"\x1f\x8b\x08"  # RFC 1952: ID1, ID2 and CM = 8 (deflate) open every gzip member
RECORD_START = b"WARC/1."  # a record's first line (WARC 1.0, 1.1); searched anywhere past damage
CHUNK = 1 << 20  # bytes read, or inflated, at a time
HEADER_LIMIT = 1 << 16  # real WARC headers: a few hundred bytes, a long URL a few KB
# A real file has a few damaged records in a row; more is garbage (a damaged member inflated to
# copies of its headers: one fuzz mutant gave 10,637 "records"), summed up in one error.
DAMAGE_RUN = 100
_BLANK = re.compile(rb"[ \t\r\n]*")


class Frame(NamedTuple):
    """One record read whole: header lines and block (of a block over the cap, its first bytes)."""
    head: bytes
    block: bytes
    declared: int
    suspect: bool  # not followed by the record's end: its Content-Length may be wrong


class Damage(NamedTuple):
    """What a damaged stretch of the file cost: one error of `kind`."""
    kind: str
    message: str
    raw: bytes = b""


class _Units:
    """A file a unit at a time (a gzip member; the whole file if not gzip): `buf[pos:]` unread."""

    def __init__(self, raw: IO[bytes], name: str):
        self.raw, self.pending = raw, raw.read(CHUNK)  # pending: raw bytes not yet inflated
        self.offset = raw.tell() - len(self.pending) if raw.seekable() else 0  # of pending[0] in the file
        self.gz = self.pending[:2] == GZIP_MAGIC[:2] or (name.endswith(".gz") and self.pending[:5] != b"WARC/")
        self.buf, self.pos, self.units, self.records, self.size, self.start = bytearray(), 0, 0, 0, 0, 0
        self.ended, self.problem, self.resynced, self.inflate = True, None, False, None

    def next_unit(self) -> bool:
        """Starts the next unit (after a damaged member: at the next gzip header); False at the end."""
        self.buf, self.pos, self.records, self.units, self.size = bytearray(), 0, 0, self.units + 1, 0
        if not self.gz:
            self.buf, self.pending, self.ended = bytearray(self.pending), b"", self.units > 1
            return self.units == 1
        self.resynced = self.problem is not None
        if self.resynced and not self._find_member(self.start + 1):
            return False
        self.pending = self.pending or self.raw.read(CHUNK)
        self.start, self.ended, self.inflate = self.offset, not self.pending, zlib.decompressobj(31)
        self.problem = None  # (kind, message) when the unit ends early
        return bool(self.pending)

    def _find_member(self, at: int) -> bool:
        """Moves to the first gzip header from byte `at` on (from where it is, if it cannot seek)."""
        if self.raw.seekable():
            self.raw.seek(at)
            self.pending, self.offset = b"", at
        while (i := self.pending.find(GZIP_MAGIC)) < 0:
            chunk = self.raw.read(CHUNK)
            if not chunk:
                return False
            cut = max(0, len(self.pending) - len(GZIP_MAGIC) + 1)
            self.pending, self.offset = self.pending[cut:] + chunk, self.offset + cut
        self.pending, self.offset = self.pending[i:], self.offset + i
        return True

    def fill(self) -> bool:
        """Adds to `buf` what the unit holds next; False at its end."""
        while not self.ended:
            self.pending = self.pending or self.raw.read(CHUNK)
            if not self.gz:
                self.buf += self.pending
                self.ended, self.pending = not self.pending, b""
                return not self.ended
            if not self.pending:
                self.problem, self.ended = ("truncated_record", "the file ends inside a gzip member"), True
                return False
            before = self.inflate.copy()
            try:
                out = self.inflate.decompress(self.pending, CHUNK)
            except zlib.error as exc:
                out = _salvage(before, self.pending)  # what the member holds before its damage
                self.problem = ("corrupt_gzip", f"the gzip member at byte {self.start} does not inflate past "
                                f"{self.size + len(out)} bytes ({exc}): the rest of it is lost")
                self.buf, self.ended = self.buf + out, True
                return bool(out)
            rest = self.inflate.unused_data if self.inflate.eof else self.inflate.unconsumed_tail
            self.offset += len(self.pending) - len(rest)
            self.pending, self.ended, self.size = rest, self.inflate.eof, self.size + len(out)
            self.buf += out
            if out:
                return True
        return False

    def _have(self, size: int) -> int:
        """Fills until `size` bytes are ready (fewer at the unit's end); returns how many are."""
        if self.pos > CHUNK:
            self.buf, self.pos = self.buf[self.pos:], 0
        while len(self.buf) - self.pos < size and self.fill():
            pass
        return min(size, len(self.buf) - self.pos)

    def read(self, size: int, keep: bool = True) -> bytes | int:
        """Up to `size` bytes, fewer at the unit's end (`keep=False`: read past, returns how many)."""
        if keep:
            data = bytes(self.buf[self.pos:self.pos + self._have(size)])
            self.pos += len(data)
            return data
        done = 0
        while done < size and (step := self._have(min(size - done, CHUNK))):
            self.pos, done = self.pos + step, done + step
        return done

    def readline(self, limit: int) -> bytes:
        """The next line, at most `limit` bytes of it; b"" at the unit's end."""
        searched = self.pos
        while (i := self.buf.find(b"\n", searched, self.pos + limit)) < 0:
            searched = len(self.buf)
            if searched - self.pos >= limit or not self.fill():
                return self.read(limit)
        return self.read(i + 1 - self.pos)

    def skip_blank(self) -> bytes:
        """Reads past blank lines; returns what it read past (its first 4 KiB)."""
        seen = b""
        while self._have(1):
            end = _BLANK.match(self.buf, self.pos).end()
            seen += bytes(self.buf[self.pos:min(end, self.pos + 4096 - len(seen))])
            self.pos = end
            if end < len(self.buf):
                break
        return seen

    def unread(self, data: bytes) -> None:
        self.buf[self.pos:self.pos] = data

    def skip_to_record(self) -> int:
        """Reads past everything up to the next `WARC/1.`; returns how much."""
        skipped = 0
        while self._have(len(RECORD_START)) == len(RECORD_START):
            i = self.buf.find(RECORD_START, self.pos)
            keep = i if i >= 0 else len(self.buf) - len(RECORD_START) + 1
            skipped, self.pos = skipped + keep - self.pos, keep
            if i >= 0:
                return skipped
        return skipped + self.read(len(RECORD_START), keep=False)  # the last few bytes


def _salvage(inflate, data: bytes) -> bytes:
    """What `data` inflates to before its damage (fed again in small pieces; of a bomb, 16 MiB)."""
    out, i = bytearray(), 0
    while i < len(data) and len(out) <= 16 * CHUNK:
        try:
            out += inflate.decompress(data[i:i + 512])
        except zlib.error:
            break
        i += 512
    return bytes(out)


def frames(stream: IO[bytes], name: str, cap: int) -> Iterator[Frame | Damage]:
    """The records of a WARC file framed whole, and the damage between them, in file order."""
    u = _Units(stream, name)
    while u.next_unit():
        yield from _unit_frames(u, cap)


def _unit_frames(u: _Units, cap: int) -> Iterator[Frame | Damage]:
    run = 0  # damages in a row (the unit's own problem is in them); past DAMAGE_RUN, summed up
    more = lambda: Damage("garbled_record", f"{run - DAMAGE_RUN} more damaged records in a row (garbage?)")  # noqa
    while (u.skip_blank() or True) and (line := u.readline(HEADER_LIMIT)):
        false_start = u.resynced and not u.records  # a member found by searching may be none
        if line.startswith(b"WARC/"):
            u.records += 1
            item = _record(u, line, cap)
        elif u.problem and u.pos >= len(u.buf) and not false_start:
            item = _cut(u, "a record's first line")  # the unit's damage ended it there
        else:
            start = line.find(RECORD_START)
            u.unread(line[start:] if start > 0 else b"")
            skipped = start if start > 0 else len(line) + u.skip_to_record()
            item = None if false_start else Damage("garbled_record", f"{skipped} bytes where a WARC record "
                                                   "should start hold none (a damaged header?)", line[:1024])
        if isinstance(item, Frame) and run > DAMAGE_RUN:
            yield more()
        run = run + 1 if isinstance(item, Damage) else 0 if item else run
        if item is not None and run <= DAMAGE_RUN:
            yield item
    # A unit cut or damaged after one whole record is most likely one of Common Crawl's
    # one-record members and lost nothing; one of several (a file gzipped whole) lost the rest.
    if u.problem and not run and u.records != 1 and (u.records or not u.resynced):
        yield Damage(*u.problem)
    if run > DAMAGE_RUN:
        yield more()


def _record(u: _Units, first: bytes, cap: int) -> Frame | Damage:
    parsed = _headers(u, first)
    if isinstance(parsed, Damage):
        return parsed
    head, fields = parsed
    declared = fields.get(b"content-length", b"")
    if not (declared.isdigit() and len(declared) < 20):
        # Content-Length is mandatory in every WARC record (WARC 1.1 spec, section 5.3); without
        # it the headers were cut or damaged, and the block's end is unknown.
        u.skip_to_record()
        return Damage("truncated_record", f"{fields.get(b'warc-type', b'untyped').decode('latin-1')} record has "
                                          f"no valid Content-Length ({declared[:40]!r}): its headers are cut", head)
    size = int(declared)
    block = u.read(min(size, cap + 1))
    if len(block) < min(size, cap + 1) or u.read(size - len(block), keep=False) < size - len(block):
        damage = _cut(u, f"block shorter than its Content-Length {size}", block)
        _resume(u, block)
        return damage
    after, following = u.skip_blank(), bytes(u.buf[u.pos:u.pos + u._have(5)])
    suspect = not (following == b"" or following.startswith(b"WARC/") or after[:4] == b"\r\n\r\n")
    if suspect:  # what followed may belong to a record the block swallowed: put it back first
        u.unread(after)
        _resume(u, block)
    return Frame(head, block, size, suspect)  # over the cap, the block's head: is it a page?


def _headers(u: _Units, first: bytes) -> tuple[bytes, dict[bytes, bytes]] | Damage:
    head, fields = bytearray(first), {}
    while True:
        line = u.readline(HEADER_LIMIT)
        if not line or line.startswith(RECORD_START):
            u.unread(line)  # another record starts: this one's headers were cut
            return _cut(u, f"the record's headers end after {len(head)} bytes", bytes(head))
        head += line
        if not line.strip():
            return bytes(head), fields
        if len(head) > HEADER_LIMIT:
            u.skip_to_record()
            return Damage("garbled_record", f"record headers over {HEADER_LIMIT} bytes", first[:1024])
        name, colon, value = line.partition(b":")
        if colon:
            fields[name.strip().lower()] = value.strip()


def _cut(u: _Units, what: str, raw: bytes = b"") -> Damage:
    """The record was cut (`raw`: what of it was read, for the error's excerpt)."""
    ended = u.problem and u.pos >= len(u.buf)  # the unit ended early: its damage cut the record
    kind, why = u.problem if ended else ("truncated_record", "the file (or its gzip member) ends there")
    return Damage(kind, f"{what}: {why}", raw[:MAX_ERROR_EXCERPT])


def _resume(u: _Units, block: bytes) -> None:
    """Goes on at the first record start in a block whose length is wrong, else at the next one."""
    i = block.find(RECORD_START)
    u.unread(block[i:] if i >= 0 else block[1 - len(RECORD_START):])  # a start across its end too
    u.skip_to_record()
