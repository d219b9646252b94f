"""Streaming reader for Common Crawl files: WET (`conversion` records) and WARC (`response` records).

`read_warc(path, source)` yields one `Document` per text record and one `ErrorRecord` per record
that cannot be trusted, and never raises for bad input:

- WET `conversion` records (what Common Crawl distributes as `*.warc.wet.gz`): the block is the
  page's UTF-8 text. `meta` gets `url`, `date`, `digest`, `length`, `record_id` (and
  `cc_language` when the record names one, as WET files since 2018 do).
- WARC `response` records with an HTML payload (`*.warc.gz`, where many users start): the HTML
  is decoded (HTTP charset, else detected) and turned into plain text with resiliparse's
  `extract_plain_text`. Responses that are not HTML (images, CSS, fonts), `request`, `revisit`,
  `metadata` and `warcinfo` records are not documents and are skipped.

Defences, each a counted error kind (the key in stats.json "errors"):
- `record_too_large`: a record over `max_record_bytes` (read only up to the cap, then skipped
  by streaming through the rest; memory stays bounded by the cap).
- `truncated_record`: the block is shorter than its declared `Content-Length` (a truncated
  file or a Content-Length that claims too much), or the headers have no Content-Length.
- `digest_mismatch`: the block does not match its `WARC-Block-Digest` (e.g. a Content-Length
  that claims too little, so the block was cut, or a corrupted record).
- `invalid_utf8`: a WET block that is not valid UTF-8 (WET text is UTF-8 by definition).
- `html_extraction_failed`: resiliparse could not make text of an HTML payload.
- `unreadable_archive`: the archive cannot be parsed any further (not a WARC, corrupt gzip
  data); the file's remaining records are lost and this one error says so.

Gzip is handled by warcio member by member (Common Crawl compresses each record as its own
gzip member), so reading streams and a bad member does not poison the ones before it. A file
gzipped whole (one member, e.g. a `.warc.wet` recompressed with `gzip`) is read too: warcio
refuses it as unfit for replay, which does not matter for reading. An interrupted download
ends inside a gzip member; when that member gave no record (the cut fell in its first bytes
or its headers) it is still a `truncated_record`, never a page silently gone.
"""

from __future__ import annotations

import codecs
import os
from typing import IO, Iterator

from apache_beam.io.filesystems import FileSystems
from warcio.archiveiterator import ArchiveIterator

from pipeline.document import Document, ErrorRecord, stable_id

# Common Crawl's fetcher truncates payloads (marked `WARC-Truncated: length`), so real pages
# are far below this; a bigger record is an anomaly we count and skip instead of holding it.
MAX_RECORD_BYTES = 16 * 1024 * 1024

# Common Crawl publishes each crawl's file list as `wet.paths.gz` / `warc.paths.gz`: one
# `crawl-data/CC-MAIN-.../wet/...warc.wet.gz` path a line, easily passed as input by mistake.
PATHS_LISTING_HINT = (" (this looks like a Common Crawl *.paths listing: download the files it names "
                      "and pass those as input)")

TEXT_RECORD_TYPES = ("conversion", "resource")  # WET uses `conversion`; `resource` holds plain files
HTML_TYPES = ("text/html", "application/xhtml+xml")


def read_warc(path: str, source: str, max_record_bytes: int = MAX_RECORD_BYTES,
              main_content: bool = False) -> Iterator[Document | ErrorRecord]:
    """Documents and errors of one WET/WARC file (local or any Beam filesystem, gzip or not).

    `main_content=True` asks resiliparse to keep only the main content of HTML pages
    (dropping navigation); the default keeps all visible text, as Common Crawl's WET does.
    """
    try:
        handle = FileSystems.open(path, compression_type="uncompressed")
    except Exception as exc:
        yield ErrorRecord.of(source, path, "unreadable_archive", exc)
        return
    with handle:
        yield from read_warc_stream(handle, path, source, max_record_bytes, main_content)


class _CountingReader:
    """The raw stream as warcio uses it (`read`, `tell`), counting the bytes read."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.bytes_read += len(data)
        return data

    def tell(self) -> int:
        return self.bytes_read


class _Records(ArchiveIterator):
    """warcio's iterator, reading whole-file gzip too, and telling whether the file ended inside
    a gzip member that gave no record (`lost_member`)."""

    lost_member = False
    _last_member = None

    def __init__(self, stream: IO[bytes], **kwargs):
        self.counted = _CountingReader(stream)
        super().__init__(self.counted, **kwargs)

    def _raise_invalid_gzip_err(self):
        """warcio refuses several records in one gzip member (unfit for replay); reading is fine."""

    def _next_record(self, next_line):
        record = super()._next_record(next_line)
        self._last_member = getattr(self.reader, "decompressor", None)
        return record

    def close(self):
        decompressor = getattr(self.reader, "decompressor", None) if self.reader else None
        if self.counted.bytes_read and decompressor is not None and decompressor is not self._last_member \
                and not getattr(decompressor, "eof", True):
            self.lost_member = True  # a member was started, never finished, and parsed into nothing
        super().close()


def read_warc_stream(stream: IO[bytes], name: str, source: str, max_record_bytes: int = MAX_RECORD_BYTES,
                     main_content: bool = False) -> Iterator[Document | ErrorRecord]:
    """`read_warc` over an open binary stream; `name` identifies it in ids and errors."""
    records = _Records(stream, check_digests=True)
    number = -1
    while True:
        try:
            record = next(records)
        except StopIteration:
            if number < 0 and records.err_count:  # warcio skipped every line: no WARC here
                yield ErrorRecord.of(source, name, "unreadable_archive", "no WARC record found in the file")
            elif records.lost_member:
                yield ErrorRecord.of(source, f"{name}#{number + 1}", "truncated_record",
                                     "the file ends inside a gzip member (an interrupted download?): "
                                     "the record it held is lost")
            return
        except Exception as exc:  # not a WARC, corrupt gzip: nothing after this point is readable
            message = f"{type(exc).__name__}: {exc}"
            if number < 0 and "crawl-data/" in message:
                message += PATHS_LISTING_HINT
            yield ErrorRecord.of(source, f"{name}#{number + 1}", "unreadable_archive", message)
            return
        number += 1
        if not str(record.format).startswith("warc"):  # warcio reads any text line as an old ARC record
            yield ErrorRecord.of(source, f"{name}#{number}", "unreadable_archive",
                                 f"not a WARC record (parsed as {record.format!r})")
            return
        try:
            result = _convert(record, f"{name}#{number}", source, max_record_bytes, main_content)
        except Exception as exc:  # a record warcio accepted but could not stream
            result = ErrorRecord.of(source, f"{name}#{number}", "unreadable_record", exc)
        if result is not None:
            yield result


def _convert(record, where: str, source: str, cap: int, main_content: bool) -> Document | ErrorRecord | None:
    rtype = record.rec_type
    declared = record.rec_headers.get_header("Content-Length")
    if declared is None or not declared.strip().isdigit():
        # Content-Length is mandatory in every WARC record (WARC 1.1 spec, section 5.3); without
        # it the headers were cut (an interrupted file), so even the record type is unreliable.
        return ErrorRecord.of(source, where, "truncated_record",
                              f"{rtype or 'untyped'} record has no valid Content-Length ({declared!r}): "
                              "its headers are cut")
    if rtype in TEXT_RECORD_TYPES:
        body = _read_capped(record.content_stream(), cap)
    elif rtype == "response" and _is_html(record):
        body = _read_capped(record.content_stream(), cap)
    else:
        return None
    headers = record.rec_headers
    if len(body) > cap:
        declared = headers.get_header("Content-Length")
        return ErrorRecord.of(source, where, "record_too_large",
                              f"{rtype} record over {cap} bytes (Content-Length {declared})", body[:1024])
    problem = _integrity_problem(record, body)
    if problem is not None:
        kind, message = problem
        return ErrorRecord.of(source, where, kind, message, body)
    if rtype == "response":
        try:
            text = _html_to_text(body, record, main_content)
        except Exception as exc:
            return ErrorRecord.of(source, where, "html_extraction_failed", exc, body)
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ErrorRecord.of(source, where, "invalid_utf8", exc, body)
    return _document(headers, text, source, where)


def _read_capped(stream, cap: int) -> bytes:
    """Up to `cap + 1` bytes (one more than allowed tells the caller it is too large)."""
    chunks, size = [], 0
    while size <= cap:
        chunk = stream.read(min(1 << 20, cap + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _integrity_problem(record, body: bytes) -> tuple[str, str] | None:
    declared = record.rec_headers.get_header("Content-Length")  # checked valid by _convert
    if record.rec_type in TEXT_RECORD_TYPES and len(body) < int(declared):
        return "truncated_record", f"block has {len(body)} bytes, Content-Length says {declared}"
    checker = getattr(record, "digest_checker", None)
    block_problems = [p for p in (checker.problems if checker is not None else []) if p.startswith("block")]
    if block_problems:  # payload digests are left out: crawlers disagree on de-chunking them
        return "digest_mismatch", "; ".join(block_problems)
    if record.rec_type == "response" and checker is not None and checker.passed is None \
            and record.rec_headers.get_header("WARC-Block-Digest") and record.length is not None:
        # the digest was never finished: the stream ended before Content-Length bytes
        return "truncated_record", f"response block shorter than Content-Length {declared}"
    return None


def _is_html(record) -> bool:
    http = record.http_headers
    if http is None:
        return False
    status = (http.get_statuscode() or "").strip()
    content_type = (http.get_header("Content-Type") or "").lower()
    return status == "200" and any(t in content_type for t in HTML_TYPES)


def _html_to_text(body: bytes, record, main_content: bool) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    content_type = record.http_headers.get_header("Content-Type") or ""
    charset = None
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip("\"' ")
    if charset and not _known_codec(charset):
        charset = None  # labels seen in the wild: "none", "utf-8, iso-8859-1", "x-user-defined"
    html = bytes_to_str(body, charset or detect_encoding(body))
    return extract_plain_text(html, main_content=main_content)


def _known_codec(label: str) -> bool:
    try:
        codecs.lookup(label)
    except LookupError:
        return False
    return True


def _document(headers, text: str, source: str, where: str) -> Document:
    record_id = headers.get_header("WARC-Record-ID") or where
    meta = {
        "url": headers.get_header("WARC-Target-URI") or "",
        "date": headers.get_header("WARC-Date") or "",
        "digest": headers.get_header("WARC-Block-Digest") or headers.get_header("WARC-Payload-Digest") or "",
        "length": int(headers.get_header("Content-Length")),
        "record_id": record_id,
        "file": os.path.basename(where.rsplit("#", 1)[0]),
    }
    language = headers.get_header("WARC-Identified-Content-Language")
    if language:
        meta["cc_language"] = language
    return Document(id=stable_id(source, record_id), text=text, source=source, meta=meta)
