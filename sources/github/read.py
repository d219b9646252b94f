"""Reading GitHub exports: telling an export from a checkout file, streaming its JSON lines or
Parquet / Avro rows (sources/github/tables.py), and turning each row into a Document or a counted
ErrorRecord. Also the content decoding and id shared with checkout files (sources/github/checkout.py).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import re
import zlib
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from pipeline import files
from pipeline.document import Document, ErrorRecord
from pipeline.filters import ERRORS
from sources.base import Source
from sources.github import tables

NAME = "github"
EXPORT_NAME = re.compile(r"\.(jsonl|ndjson|json)(\.gz|\.bz2)?$", re.IGNORECASE)
# `bq extract ... 'gs://b/github/*'` numbers its shards with 12 digits (000000000000, ...) and adds
# no extension of its own: such names are sniffed as exports too.
BQ_SHARD_NAME = re.compile(r"(^|[-_.])\d{12}$")
GZIP_MAGIC, BZIP2_MAGIC = b"\x1f\x8b", b"BZh"
STREAM_BUFFER = 1 << 16  # bytes decompressed at a time for readline (64 KB: the fastest of 8 KB-1 MB)
# Records looked at to tell an export: one broken record (a cut or corrupted line, a renamed
# field) must not make a whole export one checkout file, and eight in a row broken at a file's head
# are not an export with anything left to read; a checkout's own JSON-lines data has no repo names.
SNIFF_RECORDS = 8
# git's binary test (`buffer_is_binary`): a NUL byte within the first 8,000 bytes.
BINARY_SNIFF_BYTES = 8000


def open_stream(path: str):
    """The file as a binary stream (streaming, gs:// works), decompressed by its first bytes, not
    its name: `bq extract --compression GZIP` writes gzip under whatever name it is given
    (`*.json`), and a download tool may have inflated a `*.json.gz` already."""
    handle = FileSystems.open(path, compression_type="uncompressed")
    try:
        magic = handle.read(3)
        handle.seek(0)
    except Exception:  # a stream that cannot seek back: trust the name
        magic = GZIP_MAGIC if path.endswith(".gz") else BZIP2_MAGIC if path.endswith(".bz2") else b""
    # GzipFile.readline is Python, ~1 us a line more than a BufferedReader's: 4 M short lines cost
    # 4.2 s through it, 3 s through the buffer (measured; the rows are the same, a cut is as late).
    if magic.startswith(GZIP_MAGIC):
        return io.BufferedReader(gzip.GzipFile(fileobj=handle, mode="rb"), STREAM_BUFFER)
    if magic == BZIP2_MAGIC:
        return io.BufferedReader(bz2.BZ2File(handle, mode="rb"), STREAM_BUFFER)
    return handle


def is_export(path: str, record_limit: int) -> bool:
    """An export: a JSON-lines name (or a `bq extract` shard name) one of whose first SNIFF_RECORDS
    records is an object naming its repo (`repo_name`, or an alternate in EXPORT_FIELDS), so a
    broken first record does not make it a checkout file; or a Parquet / Avro file with
    such a column (a checkout's own Parquet test data has none: it stays a checkout file)."""
    name = path.rsplit("/", 1)[-1]
    table_name = tables.has_table_name(name)
    if not EXPORT_NAME.search(name) and not BQ_SHARD_NAME.search(name) and not table_name:
        return False
    try:
        kind = tables.sniff(path)
    except Exception:
        kind = None
    if kind is not None:
        try:
            return is_table_export(tables.describe(path, kind)[0])
        except Exception:  # no footer (a cut download): still meant as an export, its reader counts it
            return True
    if table_name:  # named .parquet/.avro, yet not one (a Git LFS pointer): its reader says why
        return True
    try:
        verdict = _sniff_records(path, record_limit)
    except Exception:  # unreadable
        verdict = None
    if verdict is None:  # unreadable or not JSON: a .jsonl/.ndjson is still meant as an export (its reader counts it)
        return re.sub(r"\.(gz|bz2)$", "", path.lower()).endswith((".jsonl", ".ndjson"))
    return verdict


def _sniff_records(path: str, record_limit: int) -> bool | None:
    """True when one of the first SNIFF_RECORDS non-blank lines is an export record (an object
    naming its repo), or when a gzip / bzip2 stream breaks before one is found: an export cut
    short, whose reader keeps the rows before the break and counts the rest (read as one checkout
    file, all its rows would be one `binary` drop). False when the lines are JSON and none is an
    export record; None when one of them is not JSON."""
    broken = False
    with open_stream(path) as f:
        try:
            for _ in range(SNIFF_RECORDS):
                line = f.readline(record_limit)
                while line and not line.strip():  # blank lines
                    line = f.readline(record_limit)
                if not line:
                    break
                try:
                    record = json.loads(line.decode("utf-8", "surrogateescape").lstrip("\ufeff"))
                except (ValueError, RecursionError):  # a line over record_limit comes in pieces: not JSON
                    broken = True
                    continue
                if isinstance(record, dict) and export_fields(record)[0] is not None:
                    return True
        except (OSError, EOFError, zlib.error):
            if isinstance(getattr(f, "raw", None), (gzip.GzipFile, bz2.BZ2File)):
                return True
            raise
    return None if broken else False


# Field names of the exports in use, first match wins: the BigQuery join (`repo_name`, `path`,
# `content`, `license`, `binary`); The Stack / StarCoder data (`max_stars_repo_name`,
# `max_stars_repo_path`, `max_stars_repo_licenses`: a list of SPDX ids); codeparrot's
# github-code (`code`); RedPajama's github JSONL (`text`, the BigQuery fields under `meta`).
# The Stack v2 names the ScanCode-detected licenses `detected_licenses` (a list; it holds no
# content, see STACK_V2_ID).
EXPORT_FIELDS = {
    "repo": ("repo_name", "max_stars_repo_name"),
    "path": ("path", "max_stars_repo_path"),
    "content": ("content", "code", "text"),
    "license": ("license", "max_stars_repo_licenses", "licenses", "detected_licenses"),
    "binary": ("binary",),
}
# Other columns a row is read with (is_symlink_row); a Parquet file's other columns are not read.
ROW_COLUMNS = {"meta", "mode", "symlink_target"}
# The Stack v2 ships each file's Software Heritage `blob_id` and no `content`: the content must
# be downloaded by blob id (as its dataset card explains) into a `content` column first.
STACK_V2_ID = "blob_id"


def is_table_export(names: list[str]) -> bool:
    """A Parquet/Avro schema of an export: a repo column, or RedPajama's `text` + `meta`."""
    names = set(names)
    return bool(names & set(EXPORT_FIELDS["repo"])) or (
        "meta" in names and bool(names & set(EXPORT_FIELDS["content"])))


def _nested(record: dict) -> dict:
    """The `meta` of a RedPajama row: an object, or (in a hub parquet conversion) its JSON text."""
    meta = record.get("meta")
    if isinstance(meta, str) and meta.lstrip().startswith("{"):
        try:
            meta = json.loads(meta)
        except (ValueError, RecursionError):
            meta = None
    return meta if isinstance(meta, dict) else {}


def export_fields(record: dict) -> tuple:
    """(repo, path, content, license, binary) of an export record, None where absent."""
    nested = _nested(record)
    out = []
    for names in EXPORT_FIELDS.values():
        value = next((record[n] for n in names if record.get(n) is not None), None)
        if value is None:
            value = next((nested[n] for n in names if nested.get(n) is not None), None)
        out.append(value)
    return tuple(out)


# git's file modes (BigQuery `files.mode`, an INTEGER that JSON exports may write as a string):
# 0o120000 is a symlink, whose blob is the target path, not code; 0o160000 a submodule.
LINK_MODES = {0o120000, 0o160000}


def is_symlink_row(record: dict) -> bool:
    """An export row of a symlink (`symlink_target` set or a link mode): its content is a path."""
    nested = _nested(record)
    mode = record.get("mode", nested.get("mode"))
    try:
        mode = int(mode) if mode is not None else None
    except (TypeError, ValueError):
        mode = None
    return bool(record.get("symlink_target") or nested.get("symlink_target")) or mode in LINK_MODES


def decode_content(data: bytes, limit: int) -> tuple[str, str | None]:
    """File bytes -> (text, problem): problem is file_too_large, empty, binary or not_utf8."""
    if len(data) > limit:
        return "", "file_too_large"
    if not data.strip():
        return "", "empty"
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return "", "binary"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), "not_utf8"


def _safe(text: str) -> str:
    """Names with undecodable bytes (lone surrogates) become writable UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


def license_value(value):
    """An export's license field as kept in meta: a string, or a flat list of strings (The Stack's
    SPDX ids; a nested list is flattened, all its licenses bind either way); another scalar as text,
    an object as "unknown". Never a deep structure (meta is copied and pickled with each
    document: `[[[...]]]` 600 deep overflowed the stack there and in the license filter) and never
    a lone surrogate (an undecodable byte: the job writes UTF-8)."""
    if value is None or isinstance(value, (str, int, float)):
        return None if value is None else _safe(str(value))
    if not isinstance(value, (list, tuple)):
        return "unknown"
    flat, pending = [], [iter(value)]
    while pending:
        item = next(pending[-1], pending)  # the list itself marks the end of an iterator
        if item is pending:
            pending.pop()
        elif isinstance(item, (list, tuple)):
            pending.append(iter(item))
        elif item is not None:
            flat.append(license_value(item))
    return flat


def tree_doc_id(repo: str, path: str) -> str:
    return f"{NAME}/{repo}/{path}"


def read_json_lines(path: str, limit: int, max_file_bytes: int) -> Iterator[Document | ErrorRecord]:
    """Streams one JSON-lines export: a Document or a counted ErrorRecord per line. A line over
    `limit` bytes is one `record_too_large`, read past; a truncated or corrupt compression ends the
    file with one `truncated_input`. Errors name the line, counted from 1, blank lines included."""
    number = 0
    with open_stream(path) as f:
        try:
            for number, line in enumerate(files.capped_lines(f, limit), start=1):
                if isinstance(line, files.LongLine):
                    yield ErrorRecord.of(NAME, f"{path}:{number}", "record_too_large", f"record over {limit} bytes")
                elif line.strip():
                    yield parse_record(line, f"{path}:{number}", max_file_bytes)
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt compression
            yield ErrorRecord.of(NAME, f"{path}:{number + 1}", "truncated_input", exc)


def read_table(path: str, kind: str | None, max_file_bytes: int) -> Iterator[Document | ErrorRecord]:
    """Streams one Parquet / Avro export: a Document or a counted ErrorRecord per row; rows
    that cannot be decoded (a corrupt row group, a cut file) are one ErrorRecord per run."""
    if kind is None:
        lost = tables.not_a_table(path)
        yield ErrorRecord.of(NAME, path, lost.kind, lost.message)
        return
    try:
        names, rows = tables.describe(path, kind)
    except Exception as exc:  # no footer / header: a truncated download
        yield ErrorRecord.of(NAME, path, "truncated_input", exc)
        return
    if not is_table_export(names) or not set(names) & {*EXPORT_FIELDS["content"], "meta"}:
        count = "" if rows is None else f"{rows} rows, "
        if STACK_V2_ID in names:
            yield ErrorRecord.of(NAME, path, "content_not_included", (
                f"The Stack v2 layout ({count}{STACK_V2_ID} but no content column): download each "
                f"file's content by its {STACK_V2_ID} into a `content` column first"))
        else:
            wanted = [k for k in ("repo", "content") if not set(names) & set(EXPORT_FIELDS[k])]
            yield ErrorRecord.of(NAME, path, "missing_field", (
                f"{count}no {' or '.join(wanted)} column (one of "
                f"{', '.join(n for k in wanted for n in EXPORT_FIELDS[k])}): columns are {', '.join(names[:40])}"))
        return
    wanted = {n for names_ in EXPORT_FIELDS.values() for n in names_} | ROW_COLUMNS
    for number, row in tables.read_rows(path, kind, wanted):
        if isinstance(row, tables.RowsLost):
            yield ErrorRecord.of(NAME, f"{path}:{number}", row.kind, row.message)
        else:
            yield parse_row(row, f"{path}:{number}", max_file_bytes)


def parse_record(line: bytes, where: str, max_file_bytes: int) -> Document | ErrorRecord:
    try:  # a byte-order mark opens files written by Windows tools
        record = json.loads(line.decode("utf-8", "surrogateescape").lstrip("\ufeff"))
    except (ValueError, RecursionError) as exc:  # RecursionError: `[[[[...` nested past Python's stack
        return ErrorRecord.of(NAME, where, "bad_json", exc, line)
    return parse_row(record, where, max_file_bytes, line)


def parse_row(record, where: str, max_file_bytes: int, raw: bytes | None = None) -> Document | ErrorRecord:
    """One export row (a JSON object, a Parquet / Avro row) -> a Document or an ErrorRecord."""
    if not isinstance(record, dict):
        return ErrorRecord.of(NAME, where, "bad_json", "record is not a JSON object", raw or repr(record))
    repo, path, content, license_id, binary = export_fields(record)
    # A name that is not UTF-8 (Parquet STRING from a writer that does not check it) stays bytes.
    repo, path = (v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in (repo, path))
    missing = [k for k, v in (("repo_name", repo), ("path", path)) if not isinstance(v, str) or not v]
    binary = binary is True
    if not binary and not isinstance(content, (str, bytes)):  # bytes: a Parquet BYTE_ARRAY / Avro bytes column
        missing.append("content")
    if missing:
        if raw is None:
            raw = json.dumps({k: v for k, v in record.items() if k not in EXPORT_FIELDS["content"]}, default=repr)
        return ErrorRecord.of(NAME, where, "missing_field", f"missing or not a string: {', '.join(missing)}", raw)
    repo, path = _safe(repo), _safe(path)
    meta = {"repo": repo, "path": path, "license": license_value(license_id)}
    if is_symlink_row(record):
        text, problem = "", "symlink"
    elif binary:
        text, problem = "", "binary"
    elif isinstance(content, bytes):
        text, problem = decode_content(content, max_file_bytes)
    else:
        text, problem = _content_text(content, max_file_bytes)
    if problem:
        meta["problem"] = problem
    # The input file and line make the id unique (a repo/path may repeat across refs or exports);
    # the repo/path prefix keeps "lowest id" = "lowest repo/path" for the dedup.
    # The export file's name and line, not its folder: the same input gives the same ids
    # wherever it is stored (data/raw/, gs://...).
    suffix = hashlib.sha1(where.rsplit("/", 1)[-1].encode("utf-8", "replace")).hexdigest()[:10]
    return Document(id=f"{tree_doc_id(repo, path)}#{suffix}", text=text, source=NAME, meta=meta)


def _content_text(content: str, max_file_bytes: int) -> tuple[str, str | None]:
    if len(content) > max_file_bytes:
        return "", "file_too_large"
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError:  # invalid bytes in the line, or lone surrogates escaped in JSON
        return _safe(content), "not_utf8"
    return decode_content(data, max_file_bytes)


class _Classify(beam.DoFn):
    def __init__(self, record_limit: int):
        self.record_limit = record_limit

    def process(self, path: str):
        yield path if is_export(path, self.record_limit) else pvalue.TaggedOutput("tree", path)


class _ReadExport(beam.DoFn):
    def __init__(self, source: Source):
        self.source = source

    def process(self, path: str):
        try:
            for record in self.source.read(path):
                yield pvalue.TaggedOutput(ERRORS, record) if isinstance(record, ErrorRecord) else record
        except Exception as exc:  # an unreadable file costs its remainder, counted
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(NAME, path, "read_failed", exc))
