"""Streaming reader for Common Crawl files: WET (`conversion` records) and WARC (`response` records).

`read_warc(path, source)` yields a `Document` per page (a WET record's UTF-8 text; a WARC HTML
response decoded by its HTTP charset, else detected, and made text by resiliparse) and an
`ErrorRecord` per record that cannot be trusted, never raising for bad input.

Damage is read past, never to the end of the file. A file is read a unit at a time: a gzip member
(Common Crawl gzips each record alone; a file gzipped whole is one member) or the whole file when
not gzip. A member that does not inflate, or that the file ends in, ends its unit; reading goes on
at the next gzip header after its start. Records are framed here (warcio parses each whole one):
bytes where a record should start are skipped to the next `WARC/1.`; a block whose Content-Length
is wrong is searched for the records it swallowed. Error kinds: `truncated_record` (cut, no valid
Content-Length, or not followed by its end and no digest proves it whole), `digest_mismatch`,
`corrupt_gzip` (a member that does not inflate), `garbled_record` (no record where one should
start; an unknown WARC-Type), `record_too_large` (a page over `max_record_bytes`), `invalid_utf8`,
`html_extraction_failed`, `unreadable_record`, `unreadable_archive` (holds no WARC record).
"""

from __future__ import annotations

import binascii
import codecs
import io
import os
import re
import zlib
from typing import IO, Iterator, NamedTuple

from apache_beam.io.filesystems import FileSystems
from warcio.bufferedreaders import BufferedReader
from warcio.recordloader import ArcWarcRecordLoader

from pipeline.document import Document, ErrorRecord, stable_id

# Common Crawl truncates payloads (`WARC-Truncated: length`): a bigger record is an anomaly, skipped.
MAX_RECORD_BYTES = 16 * 1024 * 1024
# Common Crawl's file lists (`wet.paths.gz`: `crawl-data/...warc.wet.gz` a line) are easily passed as input.
PATHS_LISTING_HINT = (" (this looks like a Common Crawl *.paths listing: download the files it names "
                      "and pass those as input)")
TEXT_RECORD_TYPES = ("conversion", "resource")  # WET uses `conversion`; `resource` holds plain files
HTML_TYPES = ("text/html", "application/xhtml+xml")
# WARC 1.1 spec, section 6: the record types there are; any other WARC-Type is a damaged header.
WARC_TYPES = ("warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation")
GZIP_MAGIC = b"\x1f\x8b\x08"  # RFC 1952: ID1, ID2 and CM = 8 (deflate) open every gzip member
RECORD_START = b"WARC/1."  # a record's first line (WARC 1.0, 1.1); searched anywhere past damage
CHUNK = 1 << 20  # bytes read, or inflated, at a time
HEADER_LIMIT = 1 << 16  # real WARC headers: a few hundred bytes, a long URL a few KB
# A real file has a few damaged records in a row; more is garbage (a damaged member inflated to
# copies of its headers: one fuzz mutant gave 10,637 "records"), summed up in one error.
DAMAGE_RUN = 100
_BLANK = re.compile(rb"[ \t\r\n]*")
_LOADER = ArcWarcRecordLoader()


def read_warc(path: str, source: str, max_record_bytes: int = MAX_RECORD_BYTES,
              main_content: bool = False) -> Iterator[Document | ErrorRecord]:
    """Documents and errors of one WET/WARC file (any Beam filesystem; `main_content`: resiliparse's)."""
    try:
        handle = FileSystems.open(path, compression_type="uncompressed")
    except Exception as exc:
        yield ErrorRecord.of(source, path, "unreadable_archive", exc)
        return
    with handle:
        yield from read_warc_stream(handle, path, source, max_record_bytes, main_content)


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
        damage = _cut(u, f"block shorter than its Content-Length {size}")
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
            return _cut(u, f"the record's headers end after {len(head)} bytes")
        head += line
        if not line.strip():
            return bytes(head), fields
        if len(head) > HEADER_LIMIT:
            u.skip_to_record()
            return Damage("garbled_record", f"record headers over {HEADER_LIMIT} bytes", first[:1024])
        name, colon, value = line.partition(b":")
        if colon:
            fields[name.strip().lower()] = value.strip()


def _cut(u: _Units, what: str) -> Damage:
    ended = u.problem and u.pos >= len(u.buf)  # the unit ended early: its damage cut the record
    kind, why = u.problem if ended else ("truncated_record", "the file (or its gzip member) ends there")
    return Damage(kind, f"{what}: {why}")


def _resume(u: _Units, block: bytes) -> None:
    """Goes on at the first record start in a block whose length is wrong, else at the next one."""
    i = block.find(RECORD_START)
    u.unread(block[i:] if i >= 0 else block[1 - len(RECORD_START):])  # a start across its end too
    u.skip_to_record()


def read_warc_stream(stream: IO[bytes], name: str, source: str, max_record_bytes: int = MAX_RECORD_BYTES,
                     main_content: bool = False) -> Iterator[Document | ErrorRecord]:
    """`read_warc` over an open binary stream; `name` identifies it in ids and errors."""
    held, number = None, 0  # held: damage first in the file, unreadable_archive if nothing else comes
    try:
        for number, item in enumerate(frames(stream, name, max_record_bytes)):
            result = _result(item, f"{name}#{number}", source, max_record_bytes, main_content)
            if number == 0 and isinstance(item, Damage) and item.kind in ("garbled_record", "corrupt_gzip"):
                held = result
                continue
            yield from [r for r in (held, result) if r is not None]
            held = None
    except Exception as exc:  # the stream itself failed (an I/O error): nothing after is readable
        yield from [r for r in (held, ErrorRecord.of(source, f"{name}#{number}", "unreadable_archive", exc)) if r]
        return
    if held is not None:
        hint = PATHS_LISTING_HINT if "crawl-data/" in held.excerpt else ""
        yield ErrorRecord.of(source, held.input, "unreadable_archive",
                             f"no WARC record found in the file ({held.message}){hint}", held.excerpt)


def _result(item: Frame | Damage, where: str, source: str, cap: int,
            main_content: bool) -> Document | ErrorRecord | None:
    if isinstance(item, Damage):
        return ErrorRecord.of(source, where, item.kind, item.message, item.raw)
    try:
        record = _LOADER.parse_record_stream(BufferedReader(io.BytesIO(item.head + item.block)),
                                             known_format="warc", check_digests=True)
        if record.rec_type not in WARC_TYPES:
            return ErrorRecord.of(source, where, "garbled_record", f"unknown WARC-Type {record.rec_type!r}", item.head)
        if item.declared > cap:
            return ErrorRecord.of(source, where, "record_too_large", f"{record.rec_type} record over {cap} bytes "
                                  f"(Content-Length {item.declared})", item.block[:1024]) if _is_page(record) else None
        result = _convert(record, where, source, cap, main_content)
    except Exception as exc:  # warcio cannot parse a record framed whole; a digest not in base32/16/64 is damaged
        kind = "digest_mismatch" if isinstance(exc, binascii.Error) else "unreadable_record"
        return ErrorRecord.of(source, where, kind, exc, item.head)
    if item.suspect and isinstance(result, Document) and not record.digest_checker.passed:
        return ErrorRecord.of(source, where, "truncated_record", "the block is not followed by the record's end "
                              f"and has no digest to prove it whole (Content-Length {item.declared})", item.block)
    return result


def _is_page(record) -> bool:
    """A text record, or a `200` response with an HTML payload."""
    http = record.http_headers if record.rec_type == "response" else None
    html = http is not None and any(t in (http.get_header("Content-Type") or "").lower() for t in HTML_TYPES)
    return record.rec_type in TEXT_RECORD_TYPES or (html and (http.get_statuscode() or "").strip() == "200")


def _convert(record, where: str, source: str, cap: int, main_content: bool) -> Document | ErrorRecord | None:
    page = _is_page(record)
    if not page and record.rec_type != "response":
        return None
    body = record.content_stream().read(cap + 1) if page else b""  # over the cap if it inflates
    if len(body) > cap:  # (HTTP Content-Encoding)
        return ErrorRecord.of(source, where, "record_too_large", f"payload over {cap} bytes", body[:1024])
    record.raw_stream.read()  # the rest of the block: the digest is of all of it
    problems = [p for p in record.digest_checker.problems if "block digest" in p]  # or its algorithm unknown
    if problems:  # payload digests are left out: crawlers disagree on de-chunking them
        return ErrorRecord.of(source, where, "digest_mismatch", "; ".join(problems), body)
    if not page:  # a response that is no page, and whose digest says it was not a damaged one
        return None
    try:
        text = _html_to_text(body, record, main_content) if record.rec_type == "response" else body.decode("utf-8")
    except Exception as exc:
        kind = "invalid_utf8" if isinstance(exc, UnicodeDecodeError) else "html_extraction_failed"
        return ErrorRecord.of(source, where, kind, exc, body)
    return _document(record.rec_headers, text, source, where)


def _html_to_text(body: bytes, record, main_content: bool) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    found = re.search(r"charset=[\"' ]*([^;\"' ]+)", record.http_headers.get_header("Content-Type") or "", re.I)
    charset = found and found.group(1)
    try:
        codecs.lookup(charset or "")
    except LookupError:
        charset = None  # labels seen in the wild: "none", "utf-8, iso-8859-1", "x-user-defined"
    html = bytes_to_str(body, charset or detect_encoding(body))
    return extract_plain_text(html, main_content=main_content)


def _document(headers, text: str, source: str, where: str) -> Document:
    record_id = headers.get_header("WARC-Record-ID") or where
    meta = {"url": headers.get_header("WARC-Target-URI") or "", "date": headers.get_header("WARC-Date") or "",
            "digest": headers.get_header("WARC-Block-Digest") or headers.get_header("WARC-Payload-Digest") or "",
            "length": int(headers.get_header("Content-Length")), "record_id": record_id,
            "file": os.path.basename(where.rsplit("#", 1)[0])}
    language = headers.get_header("WARC-Identified-Content-Language")
    if language:
        meta["cc_language"] = language
    return Document(id=stable_id(source, record_id), text=text, source=source, meta=meta)
