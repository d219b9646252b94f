"""GitHub: permissive licenses only, quality heuristics, header removal, file-level exact dedup.

Paper (LLaMA §2): "We use the public GitHub dataset available on Google BigQuery. We only kept
projects that are distributed under the Apache, BSD and MIT licenses. Additionally, we filtered
low quality files with heuristics based on the line length or proportion of alphanumeric
characters, and removed boilerplate, such as headers, with regular expressions. Finally, we
deduplicate the resulting dataset at the file level, with exact matches."

Two input forms, told apart per file (one `--input` may mix them):

1. An export, one row per file: newline-delimited JSON (`.jsonl`, `.ndjson`, `.json` or a bare
   `bq extract` shard name like `000000000000`; gzip or bzip2 told by the bytes) whose first
   record has `repo_name`, or a Parquet / Avro file (told by its magic bytes, read by
   sources/github/tables.py) with such a column; fields `repo_name`, `path`, `content`,
   `license`, optionally `binary` (The Stack's, codeparrot's and RedPajama's field names work
   too: EXPORT_FIELDS). The query (README "GitHub"):

       SELECT f.repo_name, f.path, c.content, c.binary, l.license
       FROM `bigquery-public-data.github_repos.files` AS f
       JOIN `bigquery-public-data.github_repos.contents` AS c ON f.id = c.id
       JOIN `bigquery-public-data.github_repos.licenses` AS l ON f.repo_name = l.repo_name
       WHERE f.ref = 'refs/heads/master'

   exported with `bq extract --destination_format NEWLINE_DELIMITED_JSON --compression GZIP`
   (or `PARQUET`, or `AVRO`).
2. Any other file is part of a checkout ("mirror"): the repo root of a file is the shallowest
   folder, at or below the common folder of all such inputs, that holds a LICENSE / LICENCE /
   COPYING / UNLICENSE file or a `.git` entry; failing both, the first folder below the common
   one. A file's license is detected from the text of the nearest license files above it (the
   repo's, or a vendored library's / nested checkout's own).

Steps: read -> KeepPermissiveLicenses -> SkipBinaryAndUndecodable -> KeepCodeExtensions ->
RemoveHeaderBoilerplate -> QualityHeuristics -> DedupFiles (exact, on the text after header
removal; the lowest id, i.e. the lowest `repo/path`, survives).
"""

from __future__ import annotations

import bz2
import dataclasses
import functools
import gzip
import hashlib
import json
import os
import posixpath
import re
import stat
import zlib
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from pipeline.dedup import ExactDedup
from pipeline.document import Document, ErrorRecord
from pipeline.filters import ERRORS, Step
from sources.github import rules
from sources.github import tables
from sources.base import Source, SourceConfig

NAME = "github"
EXPORT_NAME = re.compile(r"\.(jsonl|ndjson|json)(\.gz|\.bz2)?$", re.IGNORECASE)
# `bq extract ... 'gs://b/github/*'` numbers its shards with 12 digits (000000000000, ...) and adds
# no extension of its own: such names are sniffed as exports too.
BQ_SHARD_NAME = re.compile(r"(^|[-_.])\d{12}$")
GZIP_MAGIC, BZIP2_MAGIC = b"\x1f\x8b", b"BZh"
# git's binary test (`buffer_is_binary`): a NUL byte within the first 8,000 bytes.
BINARY_SNIFF_BYTES = 8000
LICENSE_READ_BYTES = 256 * 1024  # the longest license texts (GPL-3.0, MPL-2.0) are ~35 KB


@dataclasses.dataclass
class GitHubConfig(SourceConfig):
    licenses: tuple[str, ...] = dataclasses.field(
        default=rules.PERMISSIVE, metadata={"help": "licenses kept (paper: Apache, BSD, MIT)"})
    extensions: tuple[str, ...] = dataclasses.field(
        default=rules.RPJ_EXTENSIONS, metadata={"help": "file extensions kept (RedPajama's list)"})
    max_line_length: int = dataclasses.field(default=1000, metadata={"help": "drop files with a longer line"})
    max_mean_line_length: float = dataclasses.field(
        default=100.0, metadata={"help": "drop files whose mean line length is above this"})
    min_alphanumeric_fraction: float = dataclasses.field(
        default=0.25, metadata={"help": "drop files with fewer alphanumeric characters than this fraction"})
    max_file_bytes: int = dataclasses.field(
        default=1 << 20, metadata={"help": "larger files are dropped unread (BigQuery holds content under 1 MiB)"})
    remove_headers: bool = dataclasses.field(default=True, metadata={"help": "remove license/copyright headers"})


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
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=handle, mode="rb")
    if magic == BZIP2_MAGIC:
        return bz2.BZ2File(handle, mode="rb")
    return handle


def is_export(path: str, record_limit: int) -> bool:
    """An export: a JSON-lines name (or a `bq extract` shard name) whose first record is an object
    naming its repo (`repo_name`, or an alternate in EXPORT_FIELDS); or a Parquet / Avro file with
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
        with open_stream(path) as f:
            first = f.readline(record_limit)
            while first and not first.strip():  # leading blank lines
                first = f.readline(record_limit)
        record = json.loads(first.decode("utf-8", "surrogateescape").lstrip("\ufeff"))
        return isinstance(record, dict) and export_fields(record)[0] is not None
    except Exception:  # unreadable: a .jsonl/.ndjson is still meant as an export (its reader counts it)
        return re.sub(r"\.(gz|bz2)$", "", path.lower()).endswith((".jsonl", ".ndjson"))


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


def local_file_kind(path: str) -> str | None:
    """None for a regular local file (or a remote object); `symlink` for a link, `special_file`
    for a FIFO, socket or device (opening a FIFO blocks forever)."""
    if "://" in path:
        return None
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return "symlink"
    return None if stat.S_ISREG(mode) else "special_file"


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


def tree_doc_id(repo: str, path: str) -> str:
    return f"{NAME}/{repo}/{path}"


class GitHubSource(Source):
    name = NAME
    Config = GitHubConfig
    description = "GitHub: Apache/BSD/MIT repos, quality heuristics, header removal, exact file dedup"
    reads_special_files = True  # a FIFO in a checkout is a counted `special_file` drop (local_file_kind)

    @property
    def record_limit(self) -> int:
        # JSON escaping at most doubles typical code; \\uXXXX-heavy content fails loudly, counted.
        return 8 * self.config.max_file_bytes + 65536

    # --- BigQuery export ------------------------------------------------------------------
    def read(self, path: str) -> Iterator[Document | ErrorRecord]:
        """Streams one export file: a Document or a counted ErrorRecord per line (per row)."""
        kind = tables.sniff(path)
        if kind is not None or tables.has_table_name(path):
            yield from self.read_table(path, kind)
            return
        limit, number = self.record_limit, 0
        with open_stream(path) as f:
            while True:
                try:
                    line = f.readline(limit + 1)
                    if len(line) > limit and not line.endswith(b"\n"):
                        while line and not line.endswith(b"\n"):  # skip the rest of the giant line
                            line = f.readline(limit)
                        number += 1
                        yield ErrorRecord.of(NAME, f"{path}:{number}", "record_too_large",
                                             f"record over {limit} bytes")
                        continue
                except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt compression
                    yield ErrorRecord.of(NAME, f"{path}:{number + 1}", "truncated_input", exc)
                    return
                if not line:
                    return
                number += 1
                if line.strip():
                    yield self.parse_record(line, f"{path}:{number}")

    def read_table(self, path: str, kind: str | None) -> Iterator[Document | ErrorRecord]:
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
                yield self.parse_row(row, f"{path}:{number}")

    def parse_record(self, line: bytes, where: str) -> Document | ErrorRecord:
        try:  # a byte-order mark opens files written by Windows tools
            record = json.loads(line.decode("utf-8", "surrogateescape").lstrip("\ufeff"))
        except (ValueError, RecursionError) as exc:  # RecursionError: `[[[[...` nested past Python's stack
            return ErrorRecord.of(NAME, where, "bad_json", exc, line)
        return self.parse_row(record, where, line)

    def parse_row(self, record, where: str, raw: bytes | None = None) -> Document | ErrorRecord:
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
        meta = {"repo": repo, "path": path, "license": license_id}
        if is_symlink_row(record):
            text, problem = "", "symlink"
        elif binary:
            text, problem = "", "binary"
        elif isinstance(content, bytes):
            text, problem = decode_content(content, self.config.max_file_bytes)
        else:
            text, problem = self._content_text(content)
        if problem:
            meta["problem"] = problem
        # The input file and line make the id unique (a repo/path may repeat across refs or exports);
        # the repo/path prefix keeps "lowest id" = "lowest repo/path" for the dedup.
        # The export file's name and line, not its folder: the same input gives the same ids
        # wherever it is stored (data/raw/, gs://...).
        suffix = hashlib.sha1(where.rsplit("/", 1)[-1].encode("utf-8", "replace")).hexdigest()[:10]
        return Document(id=f"{tree_doc_id(repo, path)}#{suffix}", text=text, source=NAME, meta=meta)

    def _content_text(self, content: str) -> tuple[str, str | None]:
        if len(content) > self.config.max_file_bytes:
            return "", "file_too_large"
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:  # invalid bytes in the line, or lone surrogates escaped in JSON
            return _safe(content), "not_utf8"
        return decode_content(data, self.config.max_file_bytes)

    # --- a checkout -----------------------------------------------------------------------
    def read_tree_file(self, path: str, repo: str, rel_path: str, license_id: str | None) -> Document:
        kind = local_file_kind(path)
        if kind is None:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                data = f.read(self.config.max_file_bytes + 1)
            text, problem = decode_content(data, self.config.max_file_bytes)
        else:  # never followed: its target is another file of the input (read there) or outside it
            text, problem = "", kind
        meta = {"repo": repo, "path": rel_path, "license": license_id}
        if problem:
            meta["problem"] = problem
        return Document(id=tree_doc_id(repo, rel_path), text=text, source=NAME, meta=meta)

    def expand_read(self, files):
        kinds = files | "ClassifyInputs" >> beam.ParDo(_Classify(self.record_limit)).with_outputs("tree", main="export")
        export = (kinds["export"] | "ReshuffleExports" >> beam.Reshuffle()
                  | "ReadExports" >> beam.ParDo(_ReadExport(self)).with_outputs(ERRORS, main="docs"))
        tree = kinds["tree"]
        root = tree | "MirrorRoot" >> beam.CombineGlobally(_CommonDir())
        licenses = (
            tree
            | "LicenseFiles" >> beam.Filter(rules.is_license_file)
            | "DetectLicense" >> beam.FlatMap(_detect_license_file)
            | "GroupLicenseFiles" >> beam.GroupByKey()
            | "RepoLicense" >> beam.MapTuple(lambda folder, found: (folder, rules.combine_licenses(list(found))))
        )
        tasks = tree | "FindRepo" >> beam.Map(
            _repo_task, root=pvalue.AsSingleton(root), licensed=pvalue.AsDict(licenses))
        tree_read = (tasks | "ReshuffleTreeFiles" >> beam.Reshuffle()
                     | "ReadTreeFiles" >> beam.ParDo(_ReadTreeFile(self)).with_outputs(ERRORS, main="docs"))
        docs = ((export["docs"], tree_read["docs"]) | "AllFiles" >> beam.Flatten()
                | "ReshuffleDocs" >> beam.Reshuffle())
        errors = (export[ERRORS], tree_read[ERRORS]) | "AllReadErrors" >> beam.Flatten()
        return docs, errors

    # --- cleaning -------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        cfg = self.config
        steps: list[Step] = [
            ("KeepPermissiveLicenses", rules.LicenseFilter(cfg.licenses)),
            ("SkipBinaryAndUndecodable", rules.FileKindFilter()),
            ("KeepCodeExtensions", rules.ExtensionFilter(cfg.extensions)),
        ]
        if cfg.remove_headers:
            steps.append(("RemoveHeaderBoilerplate", rules.HeaderFilter()))
        steps.append(("QualityHeuristics", rules.QualityFilter(
            cfg.max_line_length, cfg.max_mean_line_length, cfg.min_alphanumeric_fraction)))
        steps.append(("DedupFiles", ExactDedup(content_key, reason="duplicate")))
        return steps


def content_key(doc: Document) -> str:
    return hashlib.blake2b(doc.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class _Classify(beam.DoFn):
    def __init__(self, record_limit: int):
        self.record_limit = record_limit

    def process(self, path: str):
        yield path if is_export(path, self.record_limit) else pvalue.TaggedOutput("tree", path)


class _ReadExport(beam.DoFn):
    def __init__(self, source: GitHubSource):
        self.source = source

    def process(self, path: str):
        try:
            for record in self.source.read(path):
                yield pvalue.TaggedOutput(ERRORS, record) if isinstance(record, ErrorRecord) else record
        except Exception as exc:  # an unreadable file costs its remainder, counted
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(NAME, path, "read_failed", exc))


class _ReadTreeFile(beam.DoFn):
    def __init__(self, source: GitHubSource):
        self.source = source

    def process(self, task: tuple[str, str, str, str | None]):
        try:
            yield self.source.read_tree_file(*task)
        except Exception as exc:
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(NAME, task[0], "read_failed", exc))


class _CommonDir(beam.CombineFn):
    """The deepest folder holding every input file (the mirror root)."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, path):
        return _common(acc, posixpath.dirname(path))

    def merge_accumulators(self, accs):
        out = None
        for acc in accs:
            out = acc if out is None else (out if acc is None else _common(out, acc))
        return out

    def extract_output(self, acc):
        return acc or ""


def _common(a: str | None, b: str) -> str:
    if a is None:
        return b
    parts_a, parts_b = a.split("/"), b.split("/")
    n = 0
    while n < min(len(parts_a), len(parts_b)) and parts_a[n] == parts_b[n]:
        n += 1
    return "/".join(parts_a[:n]) or "/"


def _detect_license_file(path: str) -> Iterator[tuple[str, tuple[str, str]]]:
    try:
        if "://" not in path and not os.path.isfile(path):  # a FIFO named LICENSE would block
            raise OSError(f"not a regular file: {path}")
        with FileSystems.open(path, compression_type="uncompressed") as f:
            text = f.read(LICENSE_READ_BYTES).decode("utf-8", "replace")
        if text.startswith("#!"):  # a script named like one (`license-check`), not a license text
            return
        license_id = rules.detect_license(text)
    except Exception:  # an unreadable license file is an unknown license, not a crash
        license_id = "unknown"
    yield rules.license_folder(path), (posixpath.basename(path), license_id)


@functools.lru_cache(maxsize=65536)
def _has_git(folder: str) -> bool:
    return "://" not in folder and os.path.exists(os.path.join(folder, ".git"))


def _repo_task(path: str, root: str, licensed: dict) -> tuple[str, str, str, str | None]:
    """(path, repo name, path in repo, license id or None) for a checkout file."""
    folder = posixpath.dirname(path)
    rel = posixpath.relpath(folder, root) if root else folder
    parts = [] if rel == "." else rel.split("/")
    candidates = [root] + [posixpath.join(root, *parts[:k]) for k in range(1, len(parts) + 1)]
    repo_root = next((c for c in candidates if c in licensed or _has_git(c)),
                     candidates[1] if len(candidates) > 1 else root)
    repo = posixpath.relpath(repo_root, root) if repo_root != root else posixpath.basename(root.rstrip("/"))
    # The nearest license above the file governs it: vendored code (third_party/x/COPYING,
    # node_modules/y/LICENSE) keeps its own license, and a nested checkout (its own `.git`)
    # without a license file has none, instead of inheriting the outer repo's.
    license_id = licensed.get(repo_root)
    for folder in candidates[candidates.index(repo_root) + 1:]:
        if folder in licensed:
            license_id = licensed[folder]
        elif _has_git(folder):
            license_id = None
    return path, _safe(repo), _safe(posixpath.relpath(path, repo_root)), license_id


SOURCE = GitHubSource
