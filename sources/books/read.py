"""The books collections' file formats, read into `Document`s and counted `ErrorRecord`s: plain
text (Gutenberg, PG-19 with its catalogue, Books3-style), PG's `.zip`, a `.txt.gz`, a tarball of
books (Books3's `books3.tar.gz`, streamed) and JSON lines (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`). Which reader
a file gets is `BooksSource.read`'s choice, by its name."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
import threading
import zipfile
import zlib

from apache_beam.io.filesystems import FileSystems

from pipeline.document import Document, ErrorRecord, stable_id
from pipeline.files import LongLine, capped_lines
from sources.books.gutenberg import (
    BadBook,
    decode_book,
    parse_pg19_metadata,
    pg_id_from_filename,
    strip_gutenberg,
)

NAME = "books"  # the source's name: it starts every id and names the source of every error
PG19_SPLITS = ("train", "validation", "test")
TEXT_EXTENSIONS = (".txt",)
TAR_EXTENSIONS = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
# What a book's file name carries after its title: Books3's `<title>.epub.txt` were converted
# from EPUB; not part of the title.
FORMAT_SUFFIX = re.compile(r"\.(?:epub|mobi|azw3?|pdf|html?|fb2|docx?|rtf)$", re.I)
JSONL_EXTENSIONS = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst")
SIDE_FILES = ("metadata.csv",)  # PG-19's catalogue: read by the books that need it, not a book


class BookReader:
    """The readers, for one job's `BooksConfig` (books over `config.max_book_mb` are counted
    errors); each is a generator of documents and errors for one file. PG-19 catalogues are read
    once per worker and kept."""

    def __init__(self, config):
        self.config = config

    def _limit(self) -> int:
        return self.config.max_book_mb * 1024 * 1024

    def _read_capped(self, path):
        """(bytes, None) or (None, ErrorRecord): never more than the cap + 1 byte in memory."""
        try:
            with FileSystems.open(path, compression_type="uncompressed") as handle:
                raw = handle.read(self._limit() + 1)
        except Exception as exc:
            return None, ErrorRecord.of(NAME, path, "unreadable", exc)
        if len(raw) > self._limit():
            return None, ErrorRecord.of(NAME, path, "too_large", f"larger than {self.config.max_book_mb} MB", raw[:512])
        return raw, None

    def read_text(self, path, raw: bytes | None = None, pg19: bool = True):
        if raw is None:
            raw, error = self._read_capped(path)
            if error:
                yield error
                return
        try:
            text, encoding = decode_book(raw)
        except BadBook as exc:
            yield ErrorRecord.of(NAME, path, exc.kind, str(exc), raw)
            return
        yield self._text_document(path, text, encoding, pg19)

    def read_zip(self, path):
        """PG also distributes each book as `<id>.zip` / `<id>-0.zip` holding the `.txt`."""
        raw, error = self._read_capped(path)
        if error:
            yield error
            return
        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
            members = [m for m in archive.infolist() if m.filename.lower().endswith(".txt") and not m.is_dir()]
        except Exception as exc:
            yield ErrorRecord.of(NAME, path, "bad_zip", exc, raw)
            return
        if not members:
            yield ErrorRecord.of(NAME, path, "no_text_member", "zip holds no .txt file")
        for member in members:
            # the member's own name (never a path from the archive) beside the zip gives the id
            inner = os.path.join(os.path.dirname(path), os.path.basename(member.filename))
            if member.file_size > self._limit():
                yield ErrorRecord.of(NAME, f"{path}!{member.filename}", "too_large", "member over the cap")
                continue
            try:
                data = archive.read(member)
            except Exception as exc:
                yield ErrorRecord.of(NAME, f"{path}!{member.filename}", "bad_zip", exc)
                continue
            yield from self.read_text(inner, data)

    def read_gzip_text(self, path):
        """`<book>.txt.gz`: the book as its `.txt` (same id), decompressed up to the cap."""
        try:
            with FileSystems.open(path, compression_type="uncompressed") as handle:
                raw = gzip.GzipFile(fileobj=handle).read(self._limit() + 1)
        except (EOFError, OSError, zlib.error) as exc:  # truncated or not gzip at all
            yield ErrorRecord.of(NAME, path, "bad_gzip", exc)
            return
        if len(raw) > self._limit():
            yield ErrorRecord.of(NAME, path, "too_large", f"larger than {self.config.max_book_mb} MB", raw[:512])
            return
        yield from self.read_text(path[:-len(".gz")], raw)

    def read_tar(self, path):
        """A tarball of books (Books3's `books3.tar.gz`), streamed member by member, never
        unpacked to disk. A `.txt` member is read as that file unpacked would be (same id; the
        member's name only names it: `..` and absolute parts are dropped, nothing is opened by
        it); another regular file is `unsupported_format`, as it would be unpacked; a truncated
        or corrupt archive costs its remainder, counted."""
        limit, texts = self._limit(), 0
        try:
            handle = FileSystems.open(path, compression_type="uncompressed")
        except Exception as exc:
            yield ErrorRecord.of(NAME, path, "unreadable", exc)
            return
        with handle:
            try:
                archive = tarfile.open(fileobj=handle, mode="r|*")
                while True:
                    member = archive.next()
                    if member is None:
                        break
                    if not member.isfile():
                        continue  # folders, links (a link is never followed), devices
                    name = _utf8(member.name)  # tarfile keeps a name's undecodable bytes as surrogates
                    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
                    where, inner = f"{path}!{name}", "/".join([path, *parts])
                    if not parts or not parts[-1].lower().endswith(TEXT_EXTENSIONS):
                        yield ErrorRecord.of(NAME, where, "unsupported_format", f"not a book file: {name}")
                    elif member.size > limit:
                        yield ErrorRecord.of(NAME, where, "too_large", f"member larger than {self.config.max_book_mb} MB")
                    else:
                        texts += 1
                        yield from self.read_text(inner, archive.extractfile(member).read(), pg19=False)
            except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
                yield ErrorRecord.of(NAME, path, "bad_tar", exc)
                return
        if not texts:
            yield ErrorRecord.of(NAME, path, "no_text_member", "archive holds no .txt file")

    def _text_document(self, path, text, encoding, pg19=True):
        parent = os.path.basename(os.path.dirname(path))
        root = os.path.dirname(os.path.dirname(path))
        stem = os.path.basename(path).rsplit(".", 1)[0]
        body, header, variant = strip_gutenberg(text)
        meta = {"encoding": encoding}
        pg19 = self._pg19_catalogue(root) if pg19 and parent in PG19_SPLITS else None
        if pg19 is not None:
            collection, doc_id = "pg19", f"{NAME}/pg19/{stem}"
            meta.update(pg19.get(stem, {}), pg_id=int(stem) if stem.isdecimal() else None, language="en",
                        split=parent)  # PG-19 holds English books only (Rae et al. 2020)
        elif variant != "none":
            collection, doc_id = "gutenberg", f"{NAME}/gutenberg/{stem}"
            meta.update(header)
            meta.setdefault("pg_id", pg_id_from_filename(path))
            meta["pg_header"] = variant
        else:
            collection = "books3"
            doc_id = stable_id(f"{NAME}/books3", parent, os.path.basename(path))
            meta["title"] = FORMAT_SUFFIX.sub("", stem)
            body = text.replace("\r\n", "\n").strip()
        meta["collection"] = collection
        return Document(id=doc_id, text=body, source=NAME, meta={k: v for k, v in meta.items() if v is not None})

    def _pg19_catalogue(self, root: str) -> dict | None:
        """PG-19's metadata.csv beside the split folders (cached per worker), None if absent."""
        if getattr(self, "_pg19_meta", None) is None:
            self._pg19_meta: dict[str, dict | None] = {}
            self._lock = threading.Lock()
        with self._lock:
            if root not in self._pg19_meta:
                csv_path = FileSystems.join(root, "metadata.csv") if root else "metadata.csv"
                try:
                    with FileSystems.open(csv_path, compression_type="uncompressed") as handle:
                        self._pg19_meta[root] = parse_pg19_metadata(handle.read())
                except Exception:
                    self._pg19_meta[root] = None
            return self._pg19_meta[root]

    def read_jsonl(self, path):
        """One book per line; lines are numbered from 0, blank ones included (they are skipped). A
        truncated or corrupt gzip/zstd stream costs the rest of the file, one `truncated` error."""
        try:
            raw = FileSystems.open(path, compression_type="uncompressed")
            stream = _decompressed(raw, path)
        except Exception as exc:
            yield ErrorRecord.of(NAME, path, "unreadable", exc)
            return
        number = -1
        with raw:
            try:
                for number, line in enumerate(capped_lines(stream, self._limit())):
                    if isinstance(line, LongLine):
                        yield ErrorRecord.of(NAME, f"{path}:{number}", "too_large",
                                             f"record larger than {self.config.max_book_mb} MB", line.head[:512])
                    elif line.strip():
                        yield self._json_book(path, number, line, f"{path}:{number}")
            except _stream_errors() as exc:
                yield ErrorRecord.of(NAME, f"{path}:{number + 1}", "truncated", exc)

    def _json_book(self, path, number, line, where):
        """One JSON line -> a book. JSON is UTF-8; a line that is not (a stray byte, a latin-1
        export) is decoded as a `.txt` book is (gutenberg.decode_book), not lost whole. A `\\udXXX`
        escape of half a surrogate pair, which no UTF-8 file can hold, becomes U+FFFD."""
        try:
            decoded, encoding = line.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                decoded, encoding = decode_book(line)
            except BadBook as exc:
                return ErrorRecord.of(NAME, where, "bad_json", exc, line)
        try:
            record = json.loads(decoded)
            text = record["text"]
            if not isinstance(text, str):
                raise TypeError("'text' is not a string")
        except Exception as exc:
            return ErrorRecord.of(NAME, where, "bad_json", exc, line)
        text = _utf8(text)
        if not text.strip():
            return ErrorRecord.of(NAME, where, "empty", "book text is empty", line)
        meta_in = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        meta = {"collection": "books3", "title": _field(record, meta_in, "title"),
                "author": _field(record, meta_in, "author"), "pile_set_name": meta_in.get("pile_set_name")}
        if isinstance(meta["pile_set_name"], str):  # any other value is not "Books3": OtherPileSet drops it
            meta["pile_set_name"] = _utf8(meta["pile_set_name"])
        if encoding != "utf-8":
            meta["encoding"] = encoding
        return Document(id=stable_id(f"{NAME}/books3", os.path.basename(path), str(number)),
                        text=text.replace("\r\n", "\n").strip(), source=NAME,
                        meta={k: v for k, v in meta.items() if v is not None})


def _field(record: dict, meta: dict, key: str) -> str | None:
    """A record's (or its `meta`'s) string field, as writable UTF-8; a number is written as text,
    any other value (a list, an object) is no title."""
    value = record.get(key) or meta.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return _utf8(value) if isinstance(value, str) else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> str:
    """`text` with each lone surrogate (a `\\ud800` JSON escape, a byte of a tar member's name that
    is not UTF-8) replaced by U+FFFD: the job writes UTF-8, which cannot hold one."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def _stream_errors() -> tuple[type[BaseException], ...]:
    """What a truncated or corrupt compressed stream raises while it is read."""
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
    try:
        import zstandard
    except ImportError:
        return errors
    return errors + (zstandard.ZstdError,)


def _decompressed(raw, path: str):
    lower = path.lower()
    if lower.endswith(".gz"):  # buffered: GzipFile.readline is Python, ~1 us a line slower
        return io.BufferedReader(gzip.GzipFile(fileobj=raw), 1 << 16)
    if lower.endswith(".zst"):
        import zstandard  # only needed for the Pile's .jsonl.zst
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
    return raw
