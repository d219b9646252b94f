"""Books: Project Gutenberg + Books3-style collections, near-duplicate books removed (LLaMA §2:
"We perform deduplication at the book level, removing books with more than 90% content overlap").

Inputs, told apart by path and content:
  * Project Gutenberg plain text (`8868.txt`, `8868-0.txt`, `pg8868.txt`, or the `.zip` of one): licence header/footer
    and producer credits stripped, title/author/language/PG id kept -> id `books/gutenberg/<stem>`;
  * PG-19 (`<root>/{train,validation,test}/<id>.txt` + `<root>/metadata.csv`) -> `books/pg19/<id>`;
  * Books3-style: one `.txt` per book (-> `books/books3/<hash of path tail>`), the Books3 tarball
    as distributed (`books3.tar.gz` of `books3/<nested folders>/<title>.epub.txt`,
    streamed: each member gets the id it would have unpacked) or JSON lines
    (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`; `{"text", "title"}` or the Pile's `{"text", "meta"}`)
    -> `books/books3/<hash of file, line>`.
  A single `.txt.gz` is read as the `.txt` it holds.
The collection is part of every id, so ids never collide across collections.

Steps: Read (decode UTF-8 / declared charset / latin-1, counted) -> OtherPileSet -> TooShort -> NearDuplicates
(MinHash LSH, see sources/books/minhash.py).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import re
import tarfile
import threading
import zipfile
import zlib

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import stats
from pipeline.document import Document, ErrorRecord, stable_id
from pipeline.filters import Filter, MinWords, Step
from sources.base import Source, SourceConfig
from sources.books.gutenberg import BadBook, decode_book, parse_pg19_metadata, pg_id_from_filename, strip_gutenberg
from sources.books.minhash import (CLASSES_PER_DECADE, FAR_CLASSES, NEAR_CLASSES, LshParams, NearDuplicates,
                                  containment_candidate_probability, s_curve)

NAME = "books"
PG19_SPLITS = ("train", "validation", "test")
TEXT_EXTENSIONS = (".txt",)
TAR_EXTENSIONS = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
# What a book's file name carries after its title: Books3's `<title>.epub.txt` were converted
# from EPUB; not part of the title.
FORMAT_SUFFIX = re.compile(r"\.(?:epub|mobi|azw3?|pdf|html?|fb2|docx?|rtf)$", re.I)
JSONL_EXTENSIONS = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst")
SIDE_FILES = ("metadata.csv",)  # PG-19's catalogue: read by the books that need it, not a book


@dataclasses.dataclass
class BooksConfig(SourceConfig):
    # PG-19 books average 69k words, ~0.4 MB (Rae et al. 2020, "Compressive Transformers", §4);
    # 64 MB is > 100x that and bounds a worker's memory (one book + its signature).
    max_book_mb: int = dataclasses.field(default=64, metadata={"help": "larger books are counted errors"})
    min_words: int = dataclasses.field(default=100, metadata={
        "help": "drop stubs shorter than this many words (a signature needs >= shingle_words words)"})
    threshold: float = dataclasses.field(default=0.9, metadata={
        "help": "content overlap (Jaccard or containment) above which books are duplicates (paper: 0.9)"})
    bands: int = dataclasses.field(default=46, metadata={"help": "LSH bands b (num_perm = b * r)"})
    rows: int = dataclasses.field(default=22, metadata={"help": "LSH rows per band r"})
    shingle_words: int = dataclasses.field(default=5, metadata={"help": "words per shingle"})
    seed: int = dataclasses.field(default=1, metadata={"help": "MinHash permutation seed"})

    def lsh(self) -> LshParams:
        return LshParams(self.bands, self.rows, self.shingle_words, self.threshold, self.seed)


class OtherPileSet(Filter):
    """A Pile shard mixes 22 sets; only records whose `meta.pile_set_name` is Books3 are books."""

    name = "other_pile_set"

    def filter(self, doc):
        return doc.meta.get("pile_set_name", "Books3") == "Books3"


class BooksSource(Source):
    name = NAME
    Config = BooksConfig
    description = "Project Gutenberg, PG-19 and Books3-style books, near-duplicates removed (MinHash LSH)"

    # --- reading ----------------------------------------------------------------------------
    def read(self, path):
        base = os.path.basename(path).lower()
        if base in SIDE_FILES:
            return
        if base.endswith(JSONL_EXTENSIONS):
            yield from self._read_jsonl(path)
        elif base.endswith(TEXT_EXTENSIONS):
            yield from self._read_text(path)
        elif base.endswith(TAR_EXTENSIONS):
            yield from self._read_tar(path)
        elif base.endswith(".txt.gz"):
            yield from self._read_gzip_text(path)
        elif base.endswith(".zip"):
            yield from self._read_zip(path)
        else:
            yield ErrorRecord.of(NAME, path, "unsupported_format", f"not a book file: {os.path.basename(path)}")

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

    def _read_text(self, path, raw: bytes | None = None, pg19: bool = True):
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

    def _read_zip(self, path):
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
            yield from self._read_text(inner, data)

    def _read_gzip_text(self, path):
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
        yield from self._read_text(path[:-len(".gz")], raw)

    def _read_tar(self, path):
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
                    parts = [p for p in member.name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
                    where, inner = f"{path}!{member.name}", "/".join([path, *parts])
                    if not parts or not parts[-1].lower().endswith(TEXT_EXTENSIONS):
                        yield ErrorRecord.of(NAME, where, "unsupported_format", f"not a book file: {member.name}")
                    elif member.size > limit:
                        yield ErrorRecord.of(NAME, where, "too_large", f"member larger than {self.config.max_book_mb} MB")
                    else:
                        texts += 1
                        yield from self._read_text(inner, archive.extractfile(member).read(), pg19=False)
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
            meta.update(pg19.get(stem, {}), pg_id=int(stem) if stem.isdigit() else None, language="en",
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

    def _read_jsonl(self, path):
        limit = self._limit()
        try:
            raw = FileSystems.open(path, compression_type="uncompressed")
            stream = _decompressed(raw, path)
        except Exception as exc:
            yield ErrorRecord.of(NAME, path, "unreadable", exc)
            return
        with raw:
            number = 0
            while True:
                try:
                    line = stream.readline(limit + 1)
                except Exception as exc:  # truncated gzip/zstd: the rest of the file is lost, counted
                    yield ErrorRecord.of(NAME, f"{path}:{number}", "truncated", exc)
                    return
                if not line:
                    return
                where = f"{path}:{number}"
                if len(line) > limit:
                    yield ErrorRecord.of(NAME, where, "too_large", f"record larger than {self.config.max_book_mb} MB",
                                         line[:512])
                    _skip_line(stream, limit)
                elif line.strip():
                    yield self._json_book(path, number, line, where)
                number += 1

    def _json_book(self, path, number, line, where):
        try:
            record = json.loads(line)
            text = record["text"]
            if not isinstance(text, str):
                raise TypeError("'text' is not a string")
        except Exception as exc:
            return ErrorRecord.of(NAME, where, "bad_json", exc, line)
        if not text.strip():
            return ErrorRecord.of(NAME, where, "empty", "book text is empty", line)
        meta_in = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        title = record.get("title") or meta_in.get("title")
        meta = {"collection": "books3", "title": title, "author": record.get("author") or meta_in.get("author"),
                "pile_set_name": meta_in.get("pile_set_name")}
        return Document(id=stable_id(f"{NAME}/books3", os.path.basename(path), str(number)),
                        text=text.replace("\r\n", "\n").strip(), source=NAME,
                        meta={k: v for k, v in meta.items() if v is not None})

    # --- cleaning ---------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        return [("OtherPileSet", OtherPileSet()), ("TooShort", MinWords(self.config.min_words)),
                ("NearDuplicates", NearDuplicates(self.config.lsh()))]

    def read_stats(self, docs):
        return (docs | "BookFacts" >> beam.FlatMap(_facts) | "FactDicts" >> beam.Map(lambda fact: {fact: 1})
                | "SumFacts" >> beam.CombineGlobally(stats.SumCounts()))

    def extra_stats(self, stats: dict) -> dict:
        params = self.config.lsh()
        return {"lsh": {"bands": params.bands, "rows": params.rows, "num_perm": params.num_perm,
                        "shingle_words": params.shingle_words, "threshold": params.threshold,
                        "p_candidate": {f"{j:g}": round(p, 6) for j, p in s_curve(params).items()},
                        "containment": {
                            "near": {"bands": params.near_bands, "rows": params.near_rows,
                                     "class_distances": list(NEAR_CLASSES)},
                            "far": {"bands": params.far_bands, "rows": params.far_rows,
                                    "class_distances": list(FAR_CLASSES)},
                            "classes_per_decade": CLASSES_PER_DECADE,
                            "p_candidate_at_0.9_by_size_ratio": {
                                f"{t:g}": round(containment_candidate_probability(0.9, t, params), 6)
                                for t in (1, 1.5, 3, 10)}}}}


def _facts(doc):
    """What stats.json counts per book read: collection, encoding, PG header generation."""
    yield f"books_collection_{doc.meta.get('collection', 'unknown')}"
    yield f"books_encoding_{doc.meta.get('encoding', 'utf-8')}"
    if "pg_header" in doc.meta:
        yield f"books_pg_header_{doc.meta['pg_header']}"


def _decompressed(raw, path: str):
    lower = path.lower()
    if lower.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if lower.endswith(".zst"):
        import zstandard  # only needed for the Pile's .jsonl.zst
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
    return raw


def _skip_line(stream, chunk: int) -> None:
    """Reads past the rest of an over-long line without holding it."""
    while True:
        part = stream.readline(chunk)
        if not part or part.endswith(b"\n"):
            return


SOURCE = BooksSource
