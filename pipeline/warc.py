"""Streaming reader for Common Crawl files: WET (`conversion` records) and WARC (`response` records).

`read_warc(path, source)` yields a `Document` per page (a WET record's UTF-8 text; a WARC HTML
response decoded by its HTTP charset, else detected, and made text by resiliparse) and an
`ErrorRecord` per record that cannot be trusted, never raising for bad input.

Damage is read past, never to the end of the file: `pipeline.warc_frames` frames the records (a
gzip member at a time, resyncing at the next member or `WARC/1.` line) and warcio parses each
whole one. Error kinds: `truncated_record` (cut, no valid Content-Length, or not followed by its
end and no digest proves it whole), `digest_mismatch`, `corrupt_gzip` (a member that does not
inflate), `garbled_record` (no record where one should start; an unknown WARC-Type),
`record_too_large` (a page over `max_record_bytes`), `invalid_utf8`, `html_extraction_failed`,
`unreadable_record`, `unreadable_archive` (holds no WARC record).
"""

from __future__ import annotations

import binascii
import codecs
import io
import os
import re
from typing import IO, Iterator

from apache_beam.io.filesystems import FileSystems
from warcio.bufferedreaders import BufferedReader
from warcio.recordloader import ArcWarcRecordLoader

from pipeline.document import Document, ErrorRecord, stable_id
from pipeline.warc_frames import Damage, Frame, frames

# Common Crawl truncates payloads (`WARC-Truncated: length`): a bigger record is an anomaly, skipped.
MAX_RECORD_BYTES = 16 * 1024 * 1024
# Common Crawl's file lists (`wet.paths.gz`: `crawl-data/...warc.wet.gz` a line) are easily passed as input.
PATHS_LISTING_HINT = (" (this looks like a Common Crawl *.paths listing: download the files it names "
                      "and pass those as input)")
TEXT_RECORD_TYPES = ("conversion", "resource")  # WET uses `conversion`; `resource` holds plain files
HTML_TYPES = ("text/html", "application/xhtml+xml")
# WARC 1.1 spec, section 6: the record types there are; any other WARC-Type is a damaged header.
WARC_TYPES = ("warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation")
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
