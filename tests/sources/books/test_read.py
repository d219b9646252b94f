"""The books formats' readers (sources/books/read.py): JSON lines (capped lines, truncated streams),
PG-19's layout, the Books3 tarball streamed, a gzipped book."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

from pipeline.assets import asset_path
from pipeline.document import stable_id
from samples.books import lee_anthologies, lee_book
from sources.books.source import BooksConfig, BooksSource
from tests.fixtures.books import write_file
from tests.fixtures.helpers import clean_docs, run_source


# --- JSON lines ---------------------------------------------------------------------------------
def test_reader_streams_jsonl_and_counts_an_oversized_record(tmp_path):
    import zstandard

    big = json.dumps({"text": "word " * 300_000})  # 1.5 MB: over a 1 MB cap
    lines = [json.dumps({"text": "first book", "title": "A"}), big,
             json.dumps({"text": "third", "meta": {"title": "C"}})]
    path = tmp_path / "part.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(("\n".join(lines) + "\n").encode()))
    records = list(BooksSource(BooksConfig(max_book_mb=1)).read(str(path)))
    kinds = [getattr(r, "kind", None) or r.meta["title"] for r in records]
    assert kinds == ["A", "too_large", "C"]
    assert records[0].id.startswith("books/books3/") and records[0].id != records[2].id
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(("\n".join(lines[:1] * 50)).encode())[:-20])
    cut = list(BooksSource().read(str(truncated)))
    assert cut[-1].kind == "truncated" and all(r.meta["title"] == "A" for r in cut[:-1])


def test_a_line_just_over_the_cap_costs_only_itself(tmp_path):
    # a 1 MB cap: a record of exactly 1 MB before its newline is a book, one a byte longer is
    # too_large; the line after each is read (lines are numbered from 0, the blank one included)
    cap = 1024 * 1024

    def record(title: str, size: int) -> str:
        return json.dumps({"title": title, "text": "x" * (size - len(json.dumps({"title": title, "text": ""})))})

    lines = [record("at the cap", cap), record("after it", 100), "", record("over", cap + 1), record("last", 100)]
    assert [len(line) for line in lines[::3]] == [cap, cap + 1]
    path = tmp_path / "part.jsonl"
    path.write_text("\n".join(lines) + "\n")
    records = list(BooksSource(BooksConfig(max_book_mb=1)).read(str(path)))
    assert [getattr(r, "kind", None) or r.meta["title"] for r in records] == ["at the cap", "after it", "too_large",
                                                                              "last"]
    assert records[2].input == f"{path}:3" and records[2].excerpt == lines[3][:512]
    assert records[3].id == stable_id("books/books3", "part.jsonl", "4")


# --- PG-19 ----------------------------------------------------------------------------------------
def test_pg19_layout_without_catalogue_is_not_pg19(tmp_path):
    write_file(f"{tmp_path}/train/42.txt", "plain text of a book " * 20)
    (doc,) = BooksSource().read(f"{tmp_path}/train/42.txt")
    assert doc.meta["collection"] == "books3"
    write_file(f"{tmp_path}/metadata.csv", "42,The Answer,1979,u42\n")
    (doc,) = BooksSource().read(f"{tmp_path}/train/42.txt")
    assert doc.id == "books/pg19/42" and doc.meta["title"] == "The Answer" and doc.meta["split"] == "train"


# --- distributed archive layouts ------------------------------------------------------------------
def _tar(path, members: dict[str, bytes], mode: str = "w:gz") -> None:
    with tarfile.open(fileobj=path, mode=mode) if isinstance(path, io.BytesIO) else tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_books3_tarball_is_streamed_with_the_ids_of_its_unpacked_files(tmp_path, botchan):
    # Books3 as distributed: books3.tar.gz of books3/<nested folders>/<title>.epub.txt
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    prefix = "books3/public/Books/B"
    books = {f"{prefix}/B/Botchan.epub.txt": botchan.encode(),
             f"{prefix}/L/Lee News Anthology.epub.txt": lee_book(lee[0], 1, "test").encode(),
             f"{prefix}/L/Lee News Anthology 2.epub.txt": lee_book(lee[1], 2, "test").encode()}
    unpacked = tmp_path / "unpacked"
    for name, data in books.items():
        write_file(f"{unpacked}/{name}", data)
    expected = {doc.id: doc.meta["title"] for path in unpacked.rglob("*.txt") for doc in BooksSource().read(str(path))}
    raw = tmp_path / "raw"
    raw.mkdir()
    _tar(raw / "books3.tar.gz", {**books, f"{prefix}/B/cover.jpg": b"\xff\xd8\xff\xe0"})
    # a member named out of the archive only names a book (no catalogue or file is opened by it);
    # the archive is cut inside its second member
    third = lee_book(lee[2], 3, "test").encode()
    cut = io.BytesIO()
    _tar(cut, {"books3/x/../../../train/Third.epub.txt": third, "books3/y/z.txt": botchan.encode()}, "w")
    (raw / "cut.tar").write_bytes(cut.getvalue()[:len(third) + 4000])
    stats = run_source(BooksSource(), sorted(map(str, raw.iterdir())), str(tmp_path / "out"))
    kept = {d["id"]: d["meta"] for d in clean_docs(str(tmp_path / "out"), "books")}
    third_id = stable_id("books/books3", "train", "Third.epub.txt")
    assert {i: m["title"] for i, m in kept.items() if i != third_id} == expected
    assert sorted(m["title"] for m in kept.values()) == ["Botchan", "Lee News Anthology", "Lee News Anthology 2", "Third"]
    assert kept[third_id]["collection"] == "books3"
    assert stats["errors"] == {"bad_tar": 1, "unsupported_format": 1} and stats["documents_in"] == 4 + 2


def test_gzipped_text_is_read_as_the_text(tmp_path, botchan_raw):
    plain, packed = tmp_path / "8868-0.txt", tmp_path / "gz" / "8868-0.txt.gz"
    write_file(str(plain), botchan_raw)
    write_file(str(packed), gzip.compress(botchan_raw.encode("utf-8-sig")))
    write_file(f"{tmp_path}/gz/9999.txt.gz", b"not gzip at all")
    (doc,) = BooksSource().read(str(plain))
    (gz_doc,) = BooksSource().read(str(packed))
    assert (gz_doc.id, gz_doc.text, gz_doc.meta) == (doc.id, doc.text, doc.meta) == (
        "books/gutenberg/8868-0", doc.text, doc.meta)
    assert doc.meta["pg_id"] == 8868 and doc.text.startswith("BOTCHAN")
    (bad,) = BooksSource().read(f"{tmp_path}/gz/9999.txt.gz")
    assert bad.kind == "bad_gzip"
