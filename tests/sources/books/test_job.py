"""The books job end to end (sources/books/source.py): near-duplicates removed and bad input counted,
the sample, books inside omnibuses, capped buckets; the source's filters and flags."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
import zipfile

from pipeline.assets import asset_path
from pipeline.document import stable_id
from samples.books import drop_chapter, edit_paragraphs, first_chapters, lee_anthologies, lee_book
from sources.books.source import BooksConfig, BooksSource
from tests.fixtures.books import omnibus, write_file
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source


# --- the whole job ------------------------------------------------------------------------------
def test_job_removes_near_duplicates_and_counts_bad_input(tmp_path, botchan_raw, botchan):
    raw = tmp_path / "raw"
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    anthology = lee_book(lee[0], 1, "test")
    write_file(f"{raw}/gutenberg/8868.txt", botchan_raw)
    write_file(f"{raw}/books3/a/five.txt", edit_paragraphs(botchan, 0.05, seed=3))
    write_file(f"{raw}/books3/a/forty.txt", edit_paragraphs(botchan, 0.40, seed=3))
    write_file(f"{raw}/books3/a/abridged.txt", drop_chapter(botchan, "VI"))
    write_file(f"{raw}/pg19/train/8868.txt", botchan + "\n")
    write_file(f"{raw}/pg19/metadata.csv", "8868,Botchan,1906,u\n")
    write_file(f"{raw}/books3/b/copy.txt", anthology)
    lines = [json.dumps({"text": anthology, "title": "copy 2"}), "{not json",
             json.dumps({"text": anthology, "meta": {"pile_set_name": "Books3"}}), json.dumps({"text": "  "})]
    with gzip.open(f"{raw}/books3/b/shard.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    write_file(f"{raw}/books3/b/latin.txt", lee_book(lee[1], 2, "édition").encode("latin-1"))
    write_file(f"{raw}/books3/b/empty.txt", b"")
    with open(asset_path("lid.176.ftz"), "rb") as f:
        write_file(f"{raw}/books3/b/binary.txt", f.read(3000))
    write_file(f"{raw}/books3/b/short.txt", "A stub of a book.")
    with zipfile.ZipFile(f"{raw}/gutenberg/8868.zip", "w") as z:  # PG's .zip of the same file: same id
        z.writestr("8868/8868.txt", botchan_raw)
    with zipfile.ZipFile(f"{raw}/gutenberg/8868-h.zip", "w") as z:  # PG's HTML edition: no .txt in it
        z.writestr("8868-h/8868-h.htm", "<html></html>")
    write_file(f"{raw}/books3/b/cover.jpg", b"\xff\xd8\xff\xe0")
    huge = f"{raw}/books3/b/huge.txt"
    with open(huge, "wb") as f:  # a 200 MB book: over the cap, read no further than the cap
        block = botchan.encode("utf-8")
        while f.tell() < 200 * 1024 * 1024:
            f.write(block)
    files = sorted(str(p) for p in raw.rglob("*") if p.is_file())
    source = BooksSource(BooksConfig(max_book_mb=8))
    stats = run_source(source, files, str(tmp_path / "out"))
    os.remove(huge)

    assert stats["dropped"] == {"duplicate_id": 1, "near_duplicate": 5, "too_short": 1}
    assert stats["errors"] == {"bad_json": 1, "binary": 1, "empty": 2, "no_text_member": 1, "too_large": 1,
                               "unsupported_format": 1}
    kept = {d["id"]: d for d in clean_docs(str(tmp_path / "out"), "books")}
    rejected = read_jsonl_gz(str(tmp_path / "out" / "rejected" / "books" / "*.jsonl.gz"))
    dups = {d["id"]: d["meta"] for d in rejected if d["drop_reason"] == "near_duplicate"}
    by_title = {m.get("title"): m for m in dups.values()}
    original = kept["books/gutenberg/8868"]  # the longest; it ties with the PG-19 copy and has the lower id
    assert original["meta"]["cluster_size"] == 4 and original["meta"]["pg_id"] == 8868
    assert original["meta"]["language"] == "en" and original["meta"]["collection"] == "gutenberg"
    for title in ("five", "abridged", "Botchan"):  # 5% edited, chapter missing, the PG-19 copy
        assert by_title[title]["duplicate_of"] == "books/gutenberg/8868" and by_title[title]["cluster_size"] == 4
    assert "forty" in [d["meta"]["title"] for d in kept.values()]
    copies = sorted(d["id"] for d in rejected + list(kept.values()) if d["text"] == anthology.strip())
    survivor = min(copies)  # three identical copies: one cluster, the lowest id survives
    assert len(copies) == 3 and survivor in kept and kept[survivor]["meta"]["cluster_size"] == 3
    assert all(dups[c]["duplicate_of"] == survivor for c in copies if c != survivor)
    latin = next(d for d in kept.values() if d["meta"].get("title") == "latin")
    assert latin["meta"]["encoding"] == "latin-1" and "édition" in latin["text"]
    assert len(kept) == 4 and len(dups) == 5
    assert {d["id"].split("/")[1] for d in rejected + list(kept.values())} == {"gutenberg", "pg19", "books3"}


def test_job_on_the_sample(tmp_path):
    """`make sample`'s books: each file lands where samples/books.py's table says, the Books3
    tarball's members and the `.txt.gz` book with the ids they would have unpacked."""
    from pipeline import files
    from samples.books import BOOKS3_PREFIX, build

    raw = tmp_path / "raw"
    build(str(raw), os.path.dirname(asset_path("botchan.txt")), seed=1234)
    stats = run_source(BooksSource(), files.expand_inputs(str(raw)), str(tmp_path / "out"))
    assert stats["documents_in"] == 17
    assert stats["dropped"] == {"near_duplicate": 7} and stats["errors"] == {"bad_json": 1, "binary": 1, "empty": 1}
    kept = {d["id"]: d for d in clean_docs(str(tmp_path / "out"), "books")}
    rejected = {d["id"]: d for d in read_jsonl_gz(str(tmp_path / "out" / "rejected" / "books" / "*.jsonl.gz"))}
    titles = {d["meta"].get("title") for d in kept.values()}
    assert titles >= {"Botchan (Master Darling)", "Botchan (40% edited)", "Lee news anthology 3", "Lee news anthology 5",
                      "Lee news anthology, vol. 4 (selected)"} and len(kept) == 7
    tarball = os.path.join(str(raw), "books3.tar.gz")
    for letter, name in (("L", "Lee news anthology, vol. 4 (selected).epub.txt"), ("N", "Botchan, chapter I.epub.txt")):
        with tarfile.open(tarball) as tar:
            text = tar.extractfile(f"{BOOKS3_PREFIX}/{letter}/{name}").read().decode()
        doc_id = stable_id("books/books3", letter, name)  # the id of the file unpacked
        member = kept.get(doc_id) or rejected[doc_id]
        assert member["text"] == text.strip() and member["meta"]["collection"] == "books3"
    # the first chapter (a ninth of the book, Jaccard 0.11) lies wholly inside Botchan
    chapter = rejected[stable_id("books/books3", "N", "Botchan, chapter I.epub.txt")]["meta"]
    assert chapter["duplicate_of"] == "books/gutenberg/8868"
    assert kept["books/gutenberg/8868"]["meta"]["cluster_size"] == 6
    gzipped = kept[stable_id("books/books3", "Lee", "Lee news anthology 5.txt")]
    with gzip.open(raw / "books3" / "Lee" / "Lee news anthology 5.txt.gz", "rt", encoding="utf-8") as f:
        assert gzipped["text"] == f.read().strip()
    assert {d["meta"]["title"] for d in rejected.values()} == {
        "Botchan (Master Darling)", "Botchan (5% edited)", "Botchan (abridged)", "Lee news anthology 1",
        "Lee news anthology, vol. 1 (reprint)", "Botchan, chapter I"}


def test_too_short_counts_words():
    from pipeline.document import Document
    from pipeline.filters import MinWords as TooShort
    from sources.books.source import OtherPileSet

    assert TooShort(3)(Document("b/1", "one two three", "books")) == (True, "")
    assert TooShort(3)(Document("b/2", " one\ntwo ", "books")) == (False, "too_short")
    assert OtherPileSet()(Document("b/3", "x", "books", {"pile_set_name": "Pile-CC"})) == (False, "other_pile_set")
    assert OtherPileSet()(Document("b/4", "x", "books", {"pile_set_name": "Books3"})) == (True, "")
    assert OtherPileSet()(Document("b/5", "x", "books", {})) == (True, "")


def test_flags_render_in_help():
    from sources.run import build_parser

    text = build_parser(BooksSource).format_help()
    assert "--bands" in text and "--max-book-mb" in text and "--threshold" in text


def test_job_removes_a_volume_inside_omnibuses_but_keeps_the_omnibuses(tmp_path, botchan):
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    volumes = [lee_book(articles, n + 1, "test") for n, articles in enumerate(lee)]
    raw = tmp_path / "raw"
    books = {"Lee vol 1": volumes[0], "Lee vols 1-3": omnibus(*volumes),  # 3x larger
             "Lee vols 1 and 2": omnibus(volumes[0], volumes[1]), "Lee vols 3 and 1": omnibus(volumes[2], volumes[0]),
             "Botchan": botchan, "Botchan chapter I": first_chapters(botchan, "I"),
             "Botchan 40": edit_paragraphs(botchan, 0.40, seed=3)}
    for title, text in books.items():
        write_file(f"{raw}/books3/{title}.txt", text)
    stats = run_source(BooksSource(), sorted(str(p) for p in raw.rglob("*.txt")), str(tmp_path / "out"))
    kept = {d["meta"]["title"]: d["meta"] for d in clean_docs(str(tmp_path / "out"), "books")}
    rejected = {d["meta"]["title"]: d["meta"]
                for d in read_jsonl_gz(str(tmp_path / "out" / "rejected" / "books" / "*.jsonl.gz"))}
    ids = {title: stable_id("books/books3", "books3", f"{title}.txt") for title in books}
    # a volume inside three omnibuses is dropped; the omnibuses share only it and all stay: the
    # volumes 2 and 3 exist only in them
    assert set(rejected) == {"Lee vol 1", "Lee vols 1 and 2", "Lee vols 3 and 1", "Botchan chapter I"}
    assert set(kept) == {"Lee vols 1-3", "Botchan", "Botchan 40"} and stats["dropped"] == {"near_duplicate": 4}
    assert rejected["Botchan chapter I"]["duplicate_of"] == ids["Botchan"] and kept["Botchan"]["cluster_size"] == 2
    for title in ("Lee vol 1", "Lee vols 1 and 2", "Lee vols 3 and 1"):
        assert rejected[title]["duplicate_of"] == ids["Lee vols 1-3"]
    assert kept["Lee vols 1-3"]["cluster_size"] == 4 and stats["near_duplicate_pairs"] >= 5
    assert stats["lsh_candidate_pairs"] >= stats["near_duplicate_pairs"] and stats["lsh_buckets_capped"] == 0


def test_two_omnibuses_sharing_a_volume_are_both_kept(tmp_path):
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    volumes = [lee_book(articles, n + 1, "test") for n, articles in enumerate(lee)]
    raw = tmp_path / "raw"
    books = {"Lee vol 1": volumes[0], "Lee vols 1 and 2": omnibus(volumes[0], volumes[1]),
             "Lee vols 1 and 3": omnibus(volumes[0], volumes[2])}
    for title, text in books.items():
        write_file(f"{raw}/{title}.txt", text)
    stats = run_source(BooksSource(), sorted(str(p) for p in raw.rglob("*.txt")), str(tmp_path / "out"))
    kept = {d["meta"]["title"] for d in clean_docs(str(tmp_path / "out"), "books")}
    assert kept == {"Lee vols 1 and 2", "Lee vols 1 and 3"} and stats["dropped"] == {"near_duplicate": 1}


def test_job_counts_a_capped_bucket_of_many_copies(tmp_path):
    # a Pile-style shard holding the same book 60 times: every band's bucket is cut to a star
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    book = lee_book(lee[0][:20], 1, "test")
    write_file(f"{tmp_path}/raw/part.jsonl",
               "\n".join(json.dumps({"text": book, "title": f"copy {i}"}) for i in range(60)))
    stats = run_source(BooksSource(), [f"{tmp_path}/raw/part.jsonl"], str(tmp_path / "out"))
    assert stats["dropped"] == {"near_duplicate": 59} and stats["documents_out"] == 1
    # the 46 Jaccard buckets and the near family's 2 x 337 hold all 60; the far family's hold 60
    # large books and no small one: no pair, nothing capped
    assert stats["lsh_buckets_capped"] == 46 + 2 * 337
    assert stats["lsh_pairs_capped"] == stats["lsh_buckets_capped"] * (60 * 59 // 2 - 59)
    assert stats["lsh_candidate_pairs"] == 59  # the star's pairs, the same in every band
