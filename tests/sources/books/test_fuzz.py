"""Mutation fuzzing of the books reader and its filters (tests/fixtures/fuzz.py) on the sample's
real-format files (samples/books.py): Gutenberg `.txt` (modern and 1990s headers), PG's `.zip`,
a `.txt.gz` book, PG-19's `train/<id>.txt` with its `metadata.csv`, Books3 `.txt` (UTF-8 and
latin-1), the Books3 tarball and Books3 JSON lines. `FUZZ_ITERATIONS=10000` is the long run."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest

from pipeline.assets import asset_path
from pipeline.filters import Filter
from samples.books import build
from sources.books.source import BooksSource
from tests.fixtures import fuzz
from tests.fixtures.helpers import run_source

# The sample's files in every format the reader has; the other two Botchan edits and Lee 1 are
# the same formats again, the empty and binary files have nothing left to break.
SEEDS = ("gutenberg/8868.txt", "gutenberg/8868-8.txt", "pg19/train/8868.txt", "pg19/metadata.csv",
         "books3/Natsume Soseki/Botchan (40% edited).txt", "books3/Lee/Lee news anthology 3.txt",
         "books3/Lee/Lee news anthology 5.txt.gz", "books3/books3.jsonl", "books3.tar.gz")
PG19 = ("pg19/metadata.csv", "pg19/train/8868.txt")  # beside every mutant: a PG-19 book and its catalogue
MAX_SECONDS = 5.0


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[tuple[str, bytes]]:
    root = tmp_path_factory.mktemp("books-sample")
    build(str(root), os.path.dirname(asset_path("botchan.txt")), seed=1234)
    found = fuzz.seed_files(str(root), lambda path: os.path.relpath(path, root) in SEEDS)
    # PG distributes each book as `<id>.zip` too: the sample's 8868.txt in it, as PG packs it
    return found + [("gutenberg/8868.zip", zipfile_bytes(dict(found)["gutenberg/8868.txt"], "8868.txt"))]


def zipfile_bytes(data: bytes, name: str) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return packed.getvalue()


def _writable(record):
    """What the job writes must be UTF-8: no lone surrogate in a document's text or meta."""
    if hasattr(record, "text"):
        json.dumps([record.id, record.text, record.meta], ensure_ascii=False).encode("utf-8")
    return record


def read_mutant(path: str):
    """The job's reader on one mutant (a fresh source: no catalogue cached from another mutant);
    a mutated `metadata.csv` is read through the PG-19 book beside it, the file that uses it."""
    source = BooksSource()
    for record in source.read(path):
        yield _writable(record)
    if os.path.basename(path) == "metadata.csv":
        for record in source.read(os.path.join(os.path.dirname(path), "train", "8868.txt")):
            yield _writable(record)


def test_fuzz_books_reader(seeds, tmp_path):
    # OtherPileSet and TooShort; NearDuplicates is a Beam transform, run by the job test below
    filters = [f for _, f in BooksSource().steps() if isinstance(f, Filter)]
    context = [(rel, data) for rel, data in seeds if rel in PG19]
    report = fuzz.fuzz(read_mutant, filters, seeds, str(tmp_path), count=fuzz.iterations(300), seed=24,
                       max_seconds=MAX_SECONDS, context=context)
    print("\n" + report.summary("books"), "; dropped:", dict(report.dropped.most_common()))
    assert report.failures == []
    # a reader that swallows the harness's timer (an `except Exception`) would hide a hang
    assert report.slowest[0] < MAX_SECONDS, report.slowest
    assert report.documents > report.mutants * 0.8 and sum(report.errors.values()) > 0


def test_fuzz_books_job_keeps_its_accounting(seeds, tmp_path):
    """The whole job (NearDuplicates included) on 30 mutants; a mutated `metadata.csv` with the
    PG-19 book beside it."""
    context = [(rel, data) for rel, data in seeds if rel in PG19]
    paths = fuzz.write_mutants(seeds, 30, seed=7, workdir=str(tmp_path / "raw"), context=context)
    inputs = paths + [os.path.join(os.path.dirname(p), "train", "8868.txt") for p in paths if p.endswith(".csv")]
    stats = run_source(BooksSource(), inputs, str(tmp_path / "out"))  # checks in == out + dropped + errors
    assert stats["documents_in"] >= 30 and stats["documents_out"] > 0 and stats["dropped"]["near_duplicate"] > 0


# --- what the fuzzing (and reading the readers for it) found ----------------------------------
def _read(path) -> list:
    return list(BooksSource().read(str(path)))


def test_a_json_book_holding_an_encoded_surrogate_is_written_as_utf8(tmp_path):
    """Mutant 491 (seed 24) of books3.jsonl: the bytes of a UTF-16 surrogate (ED A0 80, no valid
    UTF-8) in a book's text. `json.loads` of bytes let it through as a lone surrogate, which the
    job then wrote into its output as invalid UTF-8; a `\\ud800` escape did the same."""
    path = tmp_path / "books3.jsonl"
    path.write_bytes(b'{"text": "A book of many words \xed\xa0\x80 and more.", "title": "T"}\n'
                     b'{"text": "A lone \\ud800 escape.", "title": "T \\udc80"}\n')
    first, second = _read(path)  # decoded as a .txt book would be: no other non-ASCII, so cp1252
    assert first.text == "A book of many words \xed\xa0\u20ac and more." and first.meta["encoding"] == "cp1252"
    assert second.text == "A lone \ufffd escape." and second.meta["title"] == "T \ufffd"
    for doc in (first, second):
        doc.to_json().encode("utf-8")  # strict: no surrogate left


def test_a_json_book_with_a_stray_byte_keeps_its_book(tmp_path):
    """One invalid byte cost the whole line (`bad_json`, the book lost); it is decoded as a `.txt`
    book is: an ASCII-escaped line as latin-1, a UTF-8 one with the byte replaced."""
    path = tmp_path / "books3.jsonl"
    path.write_bytes(b'{"text": "Caf\\u00e9 \xff society, a long story."}\n'
                     + ('{"text": "' + "Café society, été, crème brûlée, déjà vu, naïve; " * 3).encode()
                     + b'\xff words."}\n')  # 27 letters of UTF-8, 1 stray byte: 1 in 20 at most, as for a .txt
    escaped, utf8 = _read(path)
    assert escaped.text == "Café ÿ society, a long story." and escaped.meta["encoding"] == "latin-1"
    assert utf8.text.endswith("vu, naïve; \ufffd words.") and utf8.meta["encoding"] == "utf-8-replaced"


def test_the_jsonl_reader_catches_only_what_a_cut_stream_raises(tmp_path, monkeypatch):
    """Mutant 690 (seed 1) of books3.jsonl, 4 MB of newlines, ran to the harness's 5 s timer (3.8 s
    alone, a `where` string built for every blank line; about 1 s now), and the timer, raised in
    the reader, was caught by its `except Exception` and counted as a `truncated` file: a hang
    would have passed as an error. Only what a cut or corrupt stream raises is caught now."""
    import sources.books.read as read

    def stalls(stream, limit):
        yield b'{"text": "one two three"}\n'
        raise fuzz.Timeout()

    path = tmp_path / "books3.jsonl"
    path.write_bytes(b'{"text": "one two three"}\n')
    monkeypatch.setattr(read, "capped_lines", stalls)
    with pytest.raises(fuzz.Timeout):
        _read(path)


def test_a_book_with_a_stray_nul_is_kept_without_it(botchan_raw, tmp_path):
    """One NUL byte in the first 64 KB (a bit flip of a space, 0x20 -> 0x00) made the whole book
    `binary`: 233 of 10,000 mutants lost their book so. A binary file is still one (its NULs, or
    its control characters once decoded, are far over 1%)."""
    raw = botchan_raw.encode("utf-8")
    at = raw.index(b" ", 20_000)
    (tmp_path / "8868.txt").write_bytes(raw[:at] + b"\x00" + raw[at + 1:])
    (doc,) = _read(tmp_path / "8868.txt")
    assert doc.id == "books/gutenberg/8868" and "\x00" not in doc.text and doc.meta["encoding"] == "utf-8"
    with open(asset_path("lid.176.ftz"), "rb") as f:
        (tmp_path / "scan.txt").write_bytes(f.read(4096))
    (tmp_path / "compressed.txt").write_bytes(zipfile_bytes(raw, "8868.txt"))  # ~0.4% NULs: its controls tell
    assert [r.kind for r in _read(tmp_path / "scan.txt") + _read(tmp_path / "compressed.txt")] == ["binary"] * 2


def test_a_declared_charset_that_is_no_text_encoding_is_not_used(tmp_path):
    """A PG header's `Character set encoding:` naming one of Python's bytes-to-bytes codecs (hex,
    base64, rot13) made `bytes.decode` raise LookupError out of the reader."""
    for charset in ("hex", "base64", "rot13", "zlib", "idna", "unicode_escape"):
        path = tmp_path / f"{charset}.txt"
        path.write_bytes(f"Title: A\nCharacter set encoding: {charset}\n\n".encode() + "Caf\xe9 \\n".encode("latin-1"))
        (doc,) = _read(path)
        assert doc.meta["encoding"] == "latin-1" and doc.text.endswith("Café \\n")


def test_a_pg19_book_named_with_a_digit_that_is_no_number(tmp_path):
    """`train/².txt`: `"²".isdigit()` is true and `int("²")` raises: the reader crashed."""
    (tmp_path / "train").mkdir()
    (tmp_path / "metadata.csv").write_text("8868,Botchan,1906,u\n")
    (tmp_path / "train" / "².txt").write_text("A short book.")
    (doc,) = _read(tmp_path / "train" / "².txt")
    assert doc.id == "books/pg19/²" and "pg_id" not in doc.meta


def test_a_tar_member_name_that_is_not_utf8_gets_a_utf8_title(tmp_path):
    """tarfile keeps a member name's undecodable bytes as surrogates: they reached the title."""
    import tarfile

    data = b"A book with a latin-1 name."
    with tarfile.open(tmp_path / "books3.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("books3/Caf\udce9.epub.txt")  # the byte E9 on disk
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (doc,) = _read(tmp_path / "books3.tar.gz")
    assert doc.meta["title"] == "Caf\ufffd" and doc.text == data.decode()
    doc.to_json().encode("utf-8")
