"""Books source: PG header/footer stripping, decoding, MinHash signatures, LSH design, verified
near-duplicates on real text (Botchan, PG #8868), connected components, bad input."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
import zipfile

import numpy as np
import pytest
from datasketch import MinHash

from pipeline.document import stable_id
from samples.books import (OLD_FOOTER, OLD_HEADER, drop_chapter, edit_paragraphs, first_chapters, lee_anthologies,
                          lee_book)
from pipeline.assets import asset_path
from sources.books.source import BooksConfig, BooksSource
from sources.books.gutenberg import BadBook, decode_book, parse_pg19_metadata, strip_gutenberg
from sources.books.minhash import (LshParams, Signer, UnionFind, band_keys, bucket_pairs, candidate_probability,
                                   containment_candidate_probability, containment_keys, estimate_overlap,
                                   false_candidate_rates, is_duplicate, pairs_capped, shingle_hash32, size_class,
                                   FAR, LARGE, NEAR, SMALL)
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source

PARAMS = LshParams()


@pytest.fixture(scope="module")
def botchan_raw() -> str:
    with open(asset_path("botchan.txt"), encoding="utf-8-sig") as f:
        return f.read()


@pytest.fixture(scope="module")
def botchan(botchan_raw) -> str:
    return strip_gutenberg(botchan_raw)[0]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(PARAMS)


def exact_shingles(text: str, k: int = 5) -> set:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


# --- the LSH design ---------------------------------------------------------------------------
def test_s_curve_meets_the_design():
    # README numbers: b=46 bands x r=22 rows (1012 permutations).
    p = {j: candidate_probability(j, PARAMS.bands, PARAMS.rows) for j in (0.5, 0.7, 0.8, 0.9, 0.95)}
    assert p[0.9] >= 0.99 and p[0.95] > 0.99999
    assert p[0.7] < 0.02 and p[0.5] < 1e-4
    assert round(p[0.9], 4) == 0.9915 and round(p[0.7], 4) == 0.0178 and round(p[0.8], 4) == 0.2887
    cfg = BooksConfig()
    assert cfg.lsh() == PARAMS and PARAMS.num_perm == 1012


def test_signature_equals_datasketch_update_batch(botchan, signer):
    chapter = botchan[:30_000]
    ours, distinct = signer.sign(chapter)
    reference = MinHash(num_perm=PARAMS.num_perm, seed=PARAMS.seed, hashfunc=shingle_hash32)
    shingles = exact_shingles(chapter)
    reference.update_batch(shingles)
    assert np.array_equal(ours, reference.hashvalues) and signer.minhash(ours).jaccard(reference) == 1.0
    assert distinct == len(shingles)
    # small tokenising windows (chunk borders inside the book) give the same signature
    windowed, distinct_windowed = signer.sign(chapter, window=997)
    assert np.array_equal(windowed, ours) and distinct_windowed == distinct


def _pair(signer, a: str, b: str):
    (sa, na), (sb, nb) = signer.sign(a), signer.sign(b)
    shared_bands = len(set(band_keys(sa, PARAMS)) & set(band_keys(sb, PARAMS)))
    jaccard, containment = estimate_overlap(sa, na, sb, nb)
    return shared_bands, jaccard, containment


def test_five_percent_edited_is_a_verified_candidate(botchan, signer):
    edited = edit_paragraphs(botchan, 0.05, seed=7)
    exact_a, exact_b = exact_shingles(botchan), exact_shingles(edited)
    exact_j = len(exact_a & exact_b) / len(exact_a | exact_b)
    shared, jaccard, containment = _pair(signer, botchan, edited)
    assert 0.88 < exact_j < 0.95 and abs(jaccard - exact_j) < 0.03  # the estimate tracks the truth
    assert shared > 0 and is_duplicate(jaccard, containment, PARAMS.threshold)


def test_forty_percent_edited_is_not_a_duplicate(botchan, signer):
    shared, jaccard, containment = _pair(signer, botchan, edit_paragraphs(botchan, 0.40, seed=7))
    assert shared == 0 and jaccard < 0.6 and not is_duplicate(jaccard, containment, PARAMS.threshold)


def test_subset_with_a_chapter_missing_is_a_duplicate(botchan, signer):
    abridged = drop_chapter(botchan, "II")
    assert 0.9 < len(abridged) / len(botchan) < 0.95
    shared, jaccard, containment = _pair(signer, botchan, abridged)
    assert shared > 0 and containment > 0.97 and is_duplicate(jaccard, containment, PARAMS.threshold)


# --- components ---------------------------------------------------------------------------------
def _components(edges, split=1):
    fn = UnionFind()
    parts = [fn.create_accumulator() for _ in range(split)]
    for i, (a, b) in enumerate(edges):
        fn.add_input(parts[i % split], (a, b, 1.0, 1.0))
    return fn.extract_output(fn.merge_accumulators(parts))


def test_union_find_keeps_the_longest_then_lowest_id():
    a, b, c, d, e = (-100, "b/a"), (-300, "b/b"), (-300, "b/c"), (-50, "b/d"), (-60, "b/e")
    for split in (1, 2, 3):
        labels = _components([(a, b), (c, b), (d, e)], split)
        assert labels == {"b/a": ("b/b", 3), "b/b": ("b/b", 3), "b/c": ("b/b", 3),
                          "b/d": ("b/e", 2), "b/e": ("b/e", 2)}


def test_inside_edges_drop_only_the_contained_book():
    # omnibuses a (300) and b (200, a near-copy b2); novel x (and its copy x2) inside both; c inside b
    a, b, b2, c, x, x2 = (-300, "a"), (-200, "b"), (-190, "b2"), (-150, "c"), (-100, "x"), (-100, "x2")
    edges = [(x, x2, 0.95, 0.97, "same"), (b, x, 0.3, 1.0, "inside"), (a, x, 0.25, 1.0, "inside"),
             (b, x2, 0.3, 1.0, "inside"), (b, b2, 0.93, 0.97, "same"), (b, c, 0.5, 0.95, "inside")]
    fn = UnionFind()
    for split in (1, 2, 3):
        for order in (edges, edges[::-1]):
            parts = [fn.create_accumulator() for _ in range(split)]
            for i, edge in enumerate(order):
                fn.add_input(parts[i % split], edge)
            labels = fn.extract_output(fn.merge_accumulators(parts))
            assert labels == {"a": ("a", 3), "x": ("a", 3), "x2": ("a", 3),
                              "b": ("b", 3), "b2": ("b", 3), "c": ("b", 3)}, (split, order)


def test_big_bucket_emits_a_star_not_all_pairs():
    members = [(1000 - i, f"id{i:03d}") for i in range(200)]
    pairs = list(bucket_pairs(("k", members)))
    assert len(pairs) == 199 and all(a == (-1000, "id000") for a, _ in pairs)
    assert len(list(bucket_pairs(("k", members[:5])))) == 10


# --- Gutenberg headers --------------------------------------------------------------------------
MODERN_2020 = """The Project Gutenberg eBook of Botchan, by Natsume Soseki

This eBook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever.

Title: Botchan
       or Master Darling

Author: Natsume Soseki

Release Date: August 17, 2003 [eBook #8868]
[Most recently updated: July 1, 2021]

Language: English

Produced by: David Starner and the Online Distributed Proofreading Team

*** START OF THE PROJECT GUTENBERG EBOOK BOTCHAN ***
"""
MODERN_FOOTER = """
*** END OF THE PROJECT GUTENBERG EBOOK BOTCHAN ***

Updated editions will replace the previous one--the old editions will
be renamed.
"""
BODY = "CHAPTER I\n\nBecause of an hereditary recklessness, I have been playing always a losing game.\n"


def test_strips_the_real_botchan_header_and_footer(botchan_raw):
    body, meta, variant = strip_gutenberg(botchan_raw)
    assert variant == "modern" and body.startswith("BOTCHAN (MASTER DARLING)")
    assert "Project Gutenberg" not in body and "Produced by" not in body and "donate" not in body
    assert body.rstrip().endswith("[R: Rad]")  # the transcriber's list of typos is part of the edition
    assert meta == {"title": "Botchan (Master Darling)", "author": "Kin-nosuke Natsume",
                    "translator": "Yasotaro Morri", "language": "en", "pg_id": 8868}


@pytest.mark.parametrize("header,footer,variant,title", [
    (MODERN_2020, MODERN_FOOTER, "modern", "Botchan or Master Darling"),
    (MODERN_2020.replace("*** START OF THE", "***START OF THE"), "\n***END OF THE PROJECT GUTENBERG EBOOK 8868***\n",
     "modern", "Botchan or Master Darling"),
    (OLD_HEADER.format(title="Botchan", author="Natsume Soseki", pg_id=8868),
     OLD_FOOTER.format(title="Botchan", author="Natsume Soseki"), "small_print", "Botchan"),
    (OLD_HEADER.format(title="Botchan", author="Natsume Soseki", pg_id=8868).replace(
        "*END THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*",
        "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*"),
     "\nEnd of The Project Gutenberg Etext of Botchan\n", "small_print", "Botchan"),
])
def test_header_variants(header, footer, variant, title):
    body, meta, found = strip_gutenberg(header + "\nProduced by Someone\nand Someone Else\n\n" + BODY + footer)
    assert found == variant and body == BODY.strip()
    assert meta["title"] == title and meta["pg_id"] == 8868 and meta["language"] == "en"


def test_credit_line_without_blank_lines_keeps_the_book():
    text = "*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nProduced by A\n" + "\n".join(
        f"line {i} of the book" for i in range(40)) + "\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***\n"
    body, _, _ = strip_gutenberg(text)
    assert body.startswith("line 0 of the book") and body.endswith("line 39 of the book")


def test_small_print_at_the_bottom_without_a_start_line(tmp_path):
    # mid-1990s layout: identification blurb, the book, "End of The Project Gutenberg Etext",
    # then the small print; no START line anywhere
    header = OLD_HEADER.format(title="Botchan", author="Natsume Soseki", pg_id=8868).split("\n**The Legal Small Print**")[0]
    small_print = OLD_HEADER.split("(Three Pages)\n")[1].split("\n\n\n\nThis etext was produced")[0]
    text = header + "\n\n" + BODY + OLD_FOOTER.format(title="Botchan", author="Natsume Soseki") + "\n" + small_print
    assert "*END THE SMALL PRINT!" in text and "START OF" not in text
    body, meta, variant = strip_gutenberg(text)
    assert variant == "footer_only" and body == BODY.strip()
    assert meta["title"] == "Botchan" and meta["pg_id"] == 8868 and meta["language"] == "en"
    _write(f"{tmp_path}/113.txt", text.replace("\n", "\r\n").encode("latin-1"))
    (doc,) = BooksSource().read(f"{tmp_path}/113.txt")
    assert doc.id == "books/gutenberg/113" and doc.text == BODY.strip() and doc.meta["pg_header"] == "footer_only"


def test_no_markers_means_no_stripping():
    body, _, variant = strip_gutenberg("Just a book.\nWith two lines.\n")
    assert variant == "none" and body == "Just a book.\nWith two lines."


# --- decoding -----------------------------------------------------------------------------------
def test_decoding_falls_back_and_says_so():
    assert decode_book("naïve café".encode("utf-8")) == ("naïve café", "utf-8")
    assert decode_book("naïve café".encode("latin-1")) == ("naïve café", "latin-1")
    assert decode_book("“quoted” café".encode("cp1252")) == ("“quoted” café", "cp1252")
    declared = "Character set encoding: ISO-8859-15\n\nprix: 5 €".encode("iso8859-15")
    assert decode_book(declared)[1] == "iso8859-15" and decode_book(declared)[0].endswith("€")
    assert decode_book("a book".encode("utf-16")) == ("a book", "utf-16")
    for raw, kind in [(b"", "empty"), (b"  \n", "empty"), (b"PK\x03\x04\x00\x00", "binary"),
                      (bytes(range(1, 32)) * 100, "binary")]:
        with pytest.raises(BadBook) as err:
            decode_book(raw)
        assert err.value.kind == kind


def test_pg19_metadata_with_and_without_header_row():
    rows = parse_pg19_metadata(
        b'id,short_book_title,publication_date,url\n10,"The Bible, KJV",1611,u10\n11,Alice,,u11\n')
    assert rows == {"10": {"title": "The Bible, KJV", "publication_date": "1611", "url": "u10"},
                    "11": {"title": "Alice", "url": "u11"}}


# --- the whole job ------------------------------------------------------------------------------
def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def test_job_removes_near_duplicates_and_counts_bad_input(tmp_path, botchan_raw, botchan):
    raw = tmp_path / "raw"
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    anthology = lee_book(lee[0], 1, "test")
    _write(f"{raw}/gutenberg/8868.txt", botchan_raw)
    _write(f"{raw}/books3/a/five.txt", edit_paragraphs(botchan, 0.05, seed=3))
    _write(f"{raw}/books3/a/forty.txt", edit_paragraphs(botchan, 0.40, seed=3))
    _write(f"{raw}/books3/a/abridged.txt", drop_chapter(botchan, "VI"))
    _write(f"{raw}/pg19/train/8868.txt", botchan + "\n")
    _write(f"{raw}/pg19/metadata.csv", "8868,Botchan,1906,u\n")
    _write(f"{raw}/books3/b/copy.txt", anthology)
    lines = [json.dumps({"text": anthology, "title": "copy 2"}), "{not json",
             json.dumps({"text": anthology, "meta": {"pile_set_name": "Books3"}}), json.dumps({"text": "  "})]
    with gzip.open(f"{raw}/books3/b/shard.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    _write(f"{raw}/books3/b/latin.txt", lee_book(lee[1], 2, "édition").encode("latin-1"))
    _write(f"{raw}/books3/b/empty.txt", b"")
    with open(asset_path("lid.176.ftz"), "rb") as f:
        _write(f"{raw}/books3/b/binary.txt", f.read(3000))
    _write(f"{raw}/books3/b/short.txt", "A stub of a book.")
    with zipfile.ZipFile(f"{raw}/gutenberg/8868.zip", "w") as z:  # PG's .zip of the same file: same id
        z.writestr("8868/8868.txt", botchan_raw)
    with zipfile.ZipFile(f"{raw}/gutenberg/8868-h.zip", "w") as z:  # PG's HTML edition: no .txt in it
        z.writestr("8868-h/8868-h.htm", "<html></html>")
    _write(f"{raw}/books3/b/cover.jpg", b"\xff\xd8\xff\xe0")
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


def test_pg19_layout_without_catalogue_is_not_pg19(tmp_path):
    _write(f"{tmp_path}/train/42.txt", "plain text of a book " * 20)
    (doc,) = BooksSource().read(f"{tmp_path}/train/42.txt")
    assert doc.meta["collection"] == "books3"
    _write(f"{tmp_path}/metadata.csv", "42,The Answer,1979,u42\n")
    (doc,) = BooksSource().read(f"{tmp_path}/train/42.txt")
    assert doc.id == "books/pg19/42" and doc.meta["title"] == "The Answer" and doc.meta["split"] == "train"


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
        _write(f"{unpacked}/{name}", data)
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
    _write(str(plain), botchan_raw)
    _write(str(packed), gzip.compress(botchan_raw.encode("utf-8-sig")))
    _write(f"{tmp_path}/gz/9999.txt.gz", b"not gzip at all")
    (doc,) = BooksSource().read(str(plain))
    (gz_doc,) = BooksSource().read(str(packed))
    assert (gz_doc.id, gz_doc.text, gz_doc.meta) == (doc.id, doc.text, doc.meta) == (
        "books/gutenberg/8868-0", doc.text, doc.meta)
    assert doc.meta["pg_id"] == 8868 and doc.text.startswith("BOTCHAN")
    (bad,) = BooksSource().read(f"{tmp_path}/gz/9999.txt.gz")
    assert bad.kind == "bad_gzip"


def test_utf8_book_with_a_stray_byte_is_not_decoded_as_latin1(botchan):
    french = "Café crème à la française, déjà vu, élève naïve. " * 40
    # one Windows-1252 apostrophe pasted into a UTF-8 file
    raw = ("Character set encoding: UTF-8\n\n" + french).encode("utf-8") + b"\x92" + botchan[:5000].encode("utf-8")
    text, encoding = decode_book(raw)
    assert encoding == "utf-8-replaced" and text.count("\ufffd") == 1 and "Café crème à la française" in text
    # a real latin-1 book stays latin-1 (its accented letters are not valid UTF-8)
    assert decode_book(french.encode("latin-1")) == (french, "latin-1")
    # an English UTF-8 book with one stray byte and no other accents: the byte is a cp1252 quote
    assert decode_book(b"It\x92s a book. " * 10)[1] == "cp1252"


# --- containment: a book inside a larger one (LSH Ensemble-style size classes) ---------------------
def _omnibus(*volumes: str) -> str:
    """Volumes bound into one book, each whole, as an omnibus edition prints them."""
    return "\n\n\n".join(volumes)


def test_containment_design_numbers():
    # README table: containment 0.9 at size ratios 1.5x, 3x, 10x (averaged over where the size
    # classes fall), and the per-pair false-candidate rate of unrelated books
    p = {t: containment_candidate_probability(0.9, t, PARAMS) for t in (1.0, 1.5, 3.0, 4.0, 8.0, 10.0, 15.0, 25.0)}
    assert p[1.0] > 0.9999 and p[1.5] > 0.9999 and p[3.0] > 0.999 and p[4.0] > 0.99 and p[8.0] > 0.99
    assert round(p[10.0], 3) == 0.982 and p[15.0] < 0.5 and p[25.0] == 0.0
    false = {j: false_candidate_rates(j, PARAMS) for j in (0.001, 0.003, 0.01)}
    assert false[0.001]["near"] < 1e-6 and false[0.001]["far"] < 1e-3 and false[0.01]["near"] < 1e-3
    assert round(false[0.003]["far"], 4) == 0.0045 and false[0.01]["far"] < 0.05
    # the Jaccard family alone: a 90% subset of an equal-sized book (Jaccard 0.82) was a coin toss
    assert candidate_probability(0.9 / 1.1, PARAMS.bands, PARAMS.rows) < 0.5


def test_size_classes_are_exact_and_bound_the_ratio():
    assert [size_class(n) for n in (1, 2, 3, 10, 21, 22, 99, 100, 5464, 48392)] == [0, 0, 1, 3, 3, 4, 5, 6, 11, 14]
    # ratios <= 10 are always within 3 classes, ratios >= 21.6 never
    for small in range(50, 5000, 7):
        assert size_class(small * 10) - size_class(small) <= 3 and size_class(small * 22) - size_class(small) >= 4


def _shared_containment_pairs(signer, small: str, large: str):
    """How many containment buckets would hold a candidate pair of these two books."""
    (sa, na), (sb, nb) = signer.sign(small), signer.sign(large)
    keys_a, keys_b = dict(containment_keys(sa, na, PARAMS)), dict(containment_keys(sb, nb, PARAMS))
    return sum(1 for key, role in keys_a.items() if key in keys_b and (key[0] == 1 or role != keys_b[key]))


def test_a_chapter_and_a_volume_of_an_omnibus_are_candidates(botchan, signer):
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    volumes = [lee_book(articles, n + 1, "test") for n, articles in enumerate(lee)]
    chapter = first_chapters(botchan, "I")  # a ninth of the book: Jaccard 0.11, containment 1
    assert _shared_containment_pairs(signer, chapter, botchan) > 0
    assert _shared_containment_pairs(signer, volumes[0], _omnibus(*volumes)) > 0  # 3x larger, Jaccard 0.33
    shared, jaccard, containment = _pair(signer, volumes[0], _omnibus(*volumes))
    assert shared == 0 and jaccard < 0.4 and containment > 0.9  # the Jaccard bands alone never saw it


def test_unrelated_books_never_pair(botchan, signer):
    # Lee news volumes share up to 1% of their 5-grams (the corpus repeats some stories), Botchan
    # a handful; selections of volume 1's articles (30, 12, 5) against the whole volumes 2, 3 and
    # Botchan give every size class distance from 0 to 4
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    books = [botchan, lee_book(lee[1], 2, "test"), lee_book(lee[2], 3, "test"), lee_book(lee[0][:30], 4, "selected"),
             lee_book(lee[0][30:42], 5, "selected"), lee_book(lee[0][42:47], 6, "selected")]
    signs = [signer.sign(b) for b in books]
    classes = [size_class(n) for _, n in signs]
    assert {abs(a - b) for a in classes for b in classes} >= {0, 1, 2, 3, 4}
    for i, (sa, na) in enumerate(signs):
        keys_a = dict(containment_keys(sa, na, PARAMS))
        for j, (sb, nb) in enumerate(signs[i + 1:], i + 1):
            keys_b = dict(containment_keys(sb, nb, PARAMS))
            shared = [k for k, role in keys_a.items() if k in keys_b and (k[0] == 1 or role != keys_b[k])]
            assert not shared, (i, j)
            assert not is_duplicate(*estimate_overlap(sa, na, sb, nb), PARAMS.threshold)


def test_job_removes_a_volume_inside_omnibuses_but_keeps_the_omnibuses(tmp_path, botchan):
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    volumes = [lee_book(articles, n + 1, "test") for n, articles in enumerate(lee)]
    raw = tmp_path / "raw"
    books = {"Lee vol 1": volumes[0], "Lee vols 1-3": _omnibus(*volumes),  # 3x larger
             "Lee vols 1 and 2": _omnibus(volumes[0], volumes[1]), "Lee vols 3 and 1": _omnibus(volumes[2], volumes[0]),
             "Botchan": botchan, "Botchan chapter I": first_chapters(botchan, "I"),
             "Botchan 40": edit_paragraphs(botchan, 0.40, seed=3)}
    for title, text in books.items():
        _write(f"{raw}/books3/{title}.txt", text)
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
    books = {"Lee vol 1": volumes[0], "Lee vols 1 and 2": _omnibus(volumes[0], volumes[1]),
             "Lee vols 1 and 3": _omnibus(volumes[0], volumes[2])}
    for title, text in books.items():
        _write(f"{raw}/{title}.txt", text)
    stats = run_source(BooksSource(), sorted(str(p) for p in raw.rglob("*.txt")), str(tmp_path / "out"))
    kept = {d["meta"]["title"] for d in clean_docs(str(tmp_path / "out"), "books")}
    assert kept == {"Lee vols 1 and 2", "Lee vols 1 and 3"} and stats["dropped"] == {"near_duplicate": 1}


def test_far_bucket_pairs_small_with_large_only_and_counts_a_cap():
    far = bytes([FAR]) + b"\x00\x00\x0c" + b"\x01" * 8
    members = [(9000, "large1", LARGE), (8000, "large2", LARGE), (900, "small1", SMALL), (800, "small2", SMALL)]
    pairs = sorted(bucket_pairs((far, members)))
    assert pairs == sorted(((-c1, i1), (-c2, i2)) for c1, i1, r1 in members[:2] for c2, i2, r2 in members[2:])
    assert pairs_capped((far, members)) == 0
    # 60 large x 60 small: past the cap, the largest book meets each small one; the rest is counted
    crowd = [(10_000 + i, f"l{i:02d}", LARGE) for i in range(60)] + [(100 + i, f"s{i:02d}", SMALL) for i in range(60)]
    star = list(bucket_pairs((far, crowd)))
    assert len(star) == 60 and {a for a, _ in star} == {(-10_059, "l59")}
    assert pairs_capped((far, crowd)) == 60 * 60 - 60
    near = bytes([NEAR]) + b"\x00\x00\x0c" + b"\x01" * 12
    assert len(list(bucket_pairs((near, crowd)))) == 119 and pairs_capped((near, crowd)) == 120 * 119 // 2 - 119


def test_job_counts_a_capped_bucket_of_many_copies(tmp_path):
    # a Pile-style shard holding the same book 60 times: every band's bucket is cut to a star
    lee = lee_anthologies(os.path.dirname(asset_path("botchan.txt")))
    book = lee_book(lee[0][:20], 1, "test")
    _write(f"{tmp_path}/raw/part.jsonl", "\n".join(json.dumps({"text": book, "title": f"copy {i}"}) for i in range(60)))
    stats = run_source(BooksSource(), [f"{tmp_path}/raw/part.jsonl"], str(tmp_path / "out"))
    assert stats["dropped"] == {"near_duplicate": 59} and stats["documents_out"] == 1
    # the 46 Jaccard buckets and the near family's 2 x 337 hold all 60; the far family's hold 60
    # large books and no small one: no pair, nothing capped
    assert stats["lsh_buckets_capped"] == 46 + 2 * 337
    assert stats["lsh_pairs_capped"] == stats["lsh_buckets_capped"] * (60 * 59 // 2 - 59)
    assert stats["lsh_candidate_pairs"] == 59  # the star's pairs, the same in every band
