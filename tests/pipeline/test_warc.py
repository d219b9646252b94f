"""pipeline.warc: WET/WARC records in, Documents and counted ErrorRecords out, never an exception."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.assets import asset_path
from pipeline.document import Document, ErrorRecord
from pipeline.warc import read_warc, read_warc_stream


def record(url: str, block: bytes, content_length: int | None = None, rtype: str = "conversion",
           lang: str = "eng") -> bytes:
    """A WET record exactly as Common Crawl writes it (block digest: sha1, base32)."""
    digest = base64.b32encode(hashlib.sha1(block).digest()).decode()
    headers = (f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Target-URI: {url}\r\nWARC-Date: 2023-03-20T09:23:04Z\r\n"
               f"WARC-Record-ID: <urn:uuid:{hashlib.md5(url.encode()).hexdigest()}>\r\n"
               f"WARC-Block-Digest: sha1:{digest}\r\nWARC-Identified-Content-Language: {lang}\r\n"
               f"Content-Type: text/plain\r\nContent-Length: {len(block) if content_length is None else content_length}"
               f"\r\n\r\n")
    return headers.encode() + block + b"\r\n\r\n"


def warcinfo() -> bytes:
    fields = b"isPartOf: CC-MAIN-2023-14\r\npublisher: Common Crawl\r\n"
    return (b"WARC/1.0\r\nWARC-Type: warcinfo\r\nWARC-Date: 2023-03-20T08:38:26Z\r\n"
            b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000000>\r\n"
            b"Content-Type: application/warc-fields\r\nContent-Length: " + str(len(fields)).encode() +
            b"\r\n\r\n" + fields + b"\r\n\r\n")


def wet(*records: bytes) -> bytes:
    """One gzip member per record, as Common Crawl's .warc.wet.gz."""
    return b"".join(gzip.compress(r, mtime=0) for r in (warcinfo(), *records))


def read(data: bytes) -> list:
    return list(read_warc_stream(io.BytesIO(data), "test.warc.wet.gz", "commoncrawl"))


def docs_and_errors(results):
    return ([r for r in results if isinstance(r, Document)], [r for r in results if isinstance(r, ErrorRecord)])


def test_wet_conversion_records_become_documents_with_headers(tmp_path):
    path = tmp_path / "CC-MAIN-x-00000.warc.wet.gz"
    path.write_bytes(wet(record("http://a.example/", "Title A\nBody of a.".encode()),
                         record("http://b.example/", "Überschrift\nText über b.".encode(), lang="deu")))
    docs, errors = docs_and_errors(list(read_warc(str(path), "commoncrawl")))
    assert errors == []
    assert [d.text for d in docs] == ["Title A\nBody of a.", "Überschrift\nText über b."]
    meta = docs[1].meta
    assert meta["url"] == "http://b.example/" and meta["date"] == "2023-03-20T09:23:04Z"
    assert meta["length"] == len("Überschrift\nText über b.".encode()) and meta["digest"].startswith("sha1:")
    assert meta["cc_language"] == "deu" and meta["file"] == path.name
    assert docs[0].id.startswith("commoncrawl/") and docs[0].id != docs[1].id
    again, _ = docs_and_errors(list(read_warc(str(path), "commoncrawl")))
    assert [d.id for d in again] == [d.id for d in docs]  # stable across reruns


def test_warc_html_responses_become_text_and_other_records_are_skipped():
    results = list(read_warc(asset_path("iana.warc.gz"), "commoncrawl"))
    docs, errors = docs_and_errors(results)
    assert errors == []
    # the crawl's HTML pages (images, CSS, fonts, requests and revisits are not documents)
    assert len(docs) == 16
    home = next(d for d in docs if d.meta["url"] == "http://www.iana.org/")
    assert "Internet Assigned Numbers Authority" in home.text
    assert "<div" not in home.text and "<html" not in home.text.lower()


def test_truncated_gzip_keeps_earlier_records_and_counts_the_cut_one():
    data = wet(record("http://a.example/", b"first page " * 50), record("http://b.example/", b"second page " * 50))
    docs, errors = docs_and_errors(read(data[:-40]))
    assert [d.meta["url"] for d in docs] == ["http://a.example/"]
    assert [e.kind for e in errors] == ["truncated_record"]


def test_content_length_claiming_more_than_the_block_is_an_error_and_reading_goes_on():
    lying = record("http://lie.example/", b"short block", content_length=5000)
    docs, errors = docs_and_errors(read(wet(lying, record("http://ok.example/", b"after the lie"))))
    assert [e.kind for e in errors] == ["truncated_record"]
    assert "short block" in errors[0].excerpt  # the dead letter shows what was read of it
    assert [d.text for d in docs] == ["after the lie"]


def test_content_length_claiming_less_fails_the_block_digest():
    block = b"a block that is longer than its header says"
    lying = record("http://lie.example/", block, content_length=10)
    plain = warcinfo() + lying + record("http://ok.example/", b"after the lie")  # uncompressed WARC
    for data in (wet(lying, record("http://ok.example/", b"after the lie")), plain):
        docs, errors = docs_and_errors(read(data))
        assert [e.kind for e in errors] == ["digest_mismatch"]
        assert [d.text for d in docs] == ["after the lie"]


def test_invalid_utf8_is_an_error():
    docs, errors = docs_and_errors(read(wet(record("http://x.example/", "Grüße".encode("latin-1") * 10),
                                            record("http://ok.example/", b"fine"))))
    assert [e.kind for e in errors] == ["invalid_utf8"] and [d.text for d in docs] == ["fine"]
    assert errors[0].excerpt  # the raw bytes are kept (escaped) for the dead-letter file


def test_a_50_mb_record_is_counted_not_held(tmp_path):
    path = tmp_path / "huge.warc.wet.gz"
    big = b"all work and no play makes jack a dull boy\n" * (50 * 1024 * 1024 // 43 + 1)
    path.write_bytes(wet(record("http://huge.example/", big), record("http://after.example/", b"still read")))
    docs, errors = docs_and_errors(list(read_warc(str(path), "commoncrawl", max_record_bytes=16 * 2**20)))
    assert [e.kind for e in errors] == ["record_too_large"]
    assert len(errors[0].excerpt) <= 4096
    assert [d.text for d in docs] == ["still read"]


def test_files_that_are_not_warc_are_one_error_each(tmp_path):
    for name, data in [("notes.txt", b"just some text\nnot a warc\n" * 5),
                       ("garbage.gz", gzip.compress(os.urandom(2000), mtime=0)),
                       ("binary.bin", os.urandom(3000)),
                       ("empty.warc.gz", b"")]:
        path = tmp_path / name
        path.write_bytes(data)
        results = list(read_warc(str(path), "commoncrawl"))
        assert all(isinstance(r, ErrorRecord) and r.kind == "unreadable_archive" for r in results), name
        assert len(results) == (0 if not data else 1), name
    assert [r.kind for r in read_warc(str(tmp_path / "missing.warc.gz"), "commoncrawl")] == ["unreadable_archive"]


def test_a_corrupt_gzip_member_is_one_error_and_the_members_after_it_are_read():
    good = record("http://a.example/", b"good page")
    member = bytearray(gzip.compress(record("http://b.example/", b"x" * 500), mtime=0))
    member[20:40] = b"\xff" * 20
    results = read(wet(good) + bytes(member) + gzip.compress(record("http://c.example/", b"after it"), mtime=0))
    docs, errors = docs_and_errors(results)
    assert [d.text for d in docs] == ["good page", "after it"]
    assert [e.kind for e in errors] == ["corrupt_gzip"] and "does not inflate" in errors[0].message


SAMPLE = wet(*(record(f"http://p{i}.example/", f"page {i} text ".encode() * 20) for i in range(4)))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=len(SAMPLE)), st.binary(min_size=0, max_size=8))
def test_any_cut_or_splice_never_raises(cut, junk):
    results = read(SAMPLE[:cut] + junk)
    docs, errors = docs_and_errors(results)
    assert len(docs) <= 4
    assert all(d.text == f"page {d.meta['url'][8]} text " * 20 for d in docs)  # no half pages as docs


def prose(seed: int, words: int = 600) -> bytes:
    """Page text that compresses like real text (not a repeated phrase), with multi-byte characters."""
    import random

    rng = random.Random(seed)
    vocab = ["the", "crawl", "Grüße", "naïve", "résumé", "page", "river", "城市", "data", "kilomètre", "north"]
    return " ".join(rng.choice(vocab) + ("." if rng.random() < 0.1 else "") for _ in range(words)).encode()


def test_a_download_cut_anywhere_in_the_last_record_is_never_a_silent_loss():
    first, last = record("http://a.example/", prose(1)), record("http://b.example/", prose(2))
    head = wet(first)
    data = head + gzip.compress(last, mtime=0)
    # every cut in the member's first bytes and headers (where zlib has given out little or
    # nothing yet), then every 7th byte to the end of the member
    cuts = list(range(len(head) + 1, len(head) + 400)) + list(range(len(head) + 400, len(data), 7))
    for cut in cuts:
        docs, errors = docs_and_errors(read(data[:cut]))
        assert [d.meta["url"] for d in docs][:1] == ["http://a.example/"], cut
        later = [d for d in docs if d.meta["url"] == "http://b.example/"]
        assert len(later) + len(errors) == 1, (cut, [e.message for e in errors])  # read, or counted
        assert all(d.text == prose(2).decode() for d in later), cut  # never half a page


def test_a_file_gzipped_whole_is_read_like_one_gzipped_per_record():
    records = [record(f"http://p{i}.example/", prose(i)) for i in range(3)]
    whole = gzip.compress(warcinfo() + b"".join(records), mtime=0)  # e.g. gunzip, then gzip again
    docs, errors = docs_and_errors(read(whole))
    assert errors == []
    assert [d.text for d in docs] == [prose(i).decode() for i in range(3)]


def response(url: str, content_type: str, html: bytes) -> bytes:
    """A WARC `response` record as a crawler writes it (HTTP headers, then the payload)."""
    http = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(html)}\r\n\r\n").encode() + html
    digest = base64.b32encode(hashlib.sha1(http).digest()).decode()
    headers = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: 2023-03-20T09:23:04Z\r\n"
               f"WARC-Record-ID: <urn:uuid:{hashlib.md5(url.encode()).hexdigest()}>\r\n"
               f"Content-Length: {len(http)}\r\nContent-Type: application/http; msgtype=response\r\n"
               f"WARC-Block-Digest: sha1:{digest}\r\nWARC-Target-URI: {url}\r\n\r\n")
    return headers.encode() + http + b"\r\n\r\n"


def test_html_with_a_charset_label_no_codec_knows_is_still_read():
    html = "<html><body><p>Grüße aus München: die schönste Stadt an der Isar.</p></body></html>"
    labels = ["none", "utf-8, iso-8859-1", "x-user-defined", "utf-8"]  # all seen on real servers
    data = b"".join(gzip.compress(response(f"http://{i}.example/", f"text/html; charset={label}",
                                           html.encode("utf-8")), mtime=0) for i, label in enumerate(labels))
    docs, errors = docs_and_errors(read(data))
    assert errors == []
    assert [d.text for d in docs] == ["Grüße aus München: die schönste Stadt an der Isar."] * len(labels)


# --- damage found by fuzzing (tests/sources/test_commoncrawl.py): read past, the rest kept -------

def pages(n: int) -> list[bytes]:
    return [record(f"http://p{i}.example/", prose(i)) for i in range(n)]


def test_a_damaged_first_gzip_header_is_one_error_and_the_members_after_it_are_read():
    data = bytearray(wet(*pages(3)))
    data[0] ^= 0xFF  # the warcinfo member's magic: until now the whole file was one unreadable_archive
    docs, errors = docs_and_errors(read(bytes(data)))
    assert [e.kind for e in errors] == ["corrupt_gzip"]
    assert [d.text for d in docs] == [prose(i).decode() for i in range(3)]


def test_a_file_gzipped_whole_keeps_every_record_before_its_damage():
    whole = bytearray(gzip.compress(warcinfo() + b"".join(pages(40)), mtime=0))
    damage = len(whole) * 3 // 4
    whole[damage:damage + 20] = b"\xff" * 20  # in one inflate call with all before it: salvaged
    docs, errors = docs_and_errors(read(bytes(whole)))
    assert [e.kind for e in errors] == ["corrupt_gzip"] and "the rest of it is lost" in errors[0].message
    assert 25 <= len(docs) < 40 and [d.text for d in docs] == [prose(i).decode() for i in range(len(docs))]


def test_a_content_length_claiming_too_much_in_a_file_gzipped_whole_swallows_no_record():
    first, *rest = pages(4)
    lying = first.replace(f"Content-Length: {len(prose(0))}".encode(), f"Content-Length: {len(prose(0)) + 5000}".encode())
    docs, errors = docs_and_errors(read(gzip.compress(warcinfo() + lying + b"".join(rest), mtime=0)))
    assert [e.kind for e in errors] == ["digest_mismatch"]
    assert [d.text for d in docs] == [prose(i).decode() for i in range(1, 4)]


def test_a_record_whose_header_end_or_start_line_is_damaged_costs_only_itself():
    one, two, three = pages(3)
    no_blank_line = one.replace(b"\r\n\r\n", b"\r\n\rJ", 1)  # the headers run on into the text
    docs, errors = docs_and_errors(read(gzip.compress(warcinfo() + no_blank_line + two + three, mtime=0)))
    assert [e.kind for e in errors] == ["digest_mismatch"] and [d.meta["url"] for d in docs] == [
        "http://p1.example/", "http://p2.example/"]
    newline_flipped = one[:-1] + b"\x8a"  # the blank line before the next record's `WARC/1.0`
    docs, errors = docs_and_errors(read(gzip.compress(warcinfo() + newline_flipped + two + three, mtime=0)))
    assert errors == [] and len(docs) == 3


def test_garbage_between_records_is_one_error_and_the_records_around_it_are_read():
    one, two = pages(2)
    docs, errors = docs_and_errors(read(warcinfo() + one + b"x" * 3000 + b"\n" + two))  # uncompressed
    assert [e.kind for e in errors] == ["garbled_record"] and len(docs) == 2


def test_an_unknown_warc_type_is_an_error_not_a_skipped_page():
    damaged = record("http://p.example/", prose(1)).replace(b"WARC-Type: conversion", b"WARC-Type: conversiom")
    docs, errors = docs_and_errors(read(wet(damaged, record("http://ok.example/", b"fine"))))
    assert [e.kind for e in errors] == ["garbled_record"] and [d.text for d in docs] == ["fine"]


def test_a_content_length_of_thousands_of_digits_is_one_error():
    huge = record("http://p.example/", prose(1)).replace(  # past int()'s 4,300-digit limit
        f"Content-Length: {len(prose(1))}".encode(), b"Content-Length: " + b"9" * 5000)
    docs, errors = docs_and_errors(read(warcinfo() + huge + record("http://ok.example/", b"fine")))
    assert [e.kind for e in errors] == ["truncated_record"] and [d.text for d in docs] == ["fine"]


def test_a_damaged_response_that_is_no_page_is_still_an_error():
    png = response("http://x.example/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    flipped = png.replace(b"image/png", b"image/pnf")  # its digest says it was damaged: maybe a page
    docs, errors = docs_and_errors(read(gzip.compress(png, mtime=0) + gzip.compress(flipped, mtime=0)))
    assert docs == [] and [e.kind for e in errors] == ["digest_mismatch"]


def test_four_mib_of_newlines_spliced_into_a_page_are_read_past_quickly():
    one, two = pages(2)
    spliced = one[:500] + b"\n" * 4 * 2**20 + one[500:]  # a fuzz mutant: warcio read them a line at a time
    start = time.perf_counter()
    docs, errors = docs_and_errors(read(gzip.compress(warcinfo() + spliced + two, mtime=0)))
    assert time.perf_counter() - start < 0.5  # warcio: 1.7 s to 5 s, and the page after was lost
    assert [e.kind for e in errors] == ["digest_mismatch"] and [d.meta["url"] for d in docs] == ["http://p1.example/"]


def test_a_lying_content_length_writes_nothing_to_stderr(capfd):
    """warcio wrote each record not followed by its end to stderr whole: megabytes for one mutant."""
    lying = record("http://lie.example/", prose(1) * 50, content_length=10)
    docs, errors = docs_and_errors(read(warcinfo() + lying + record("http://ok.example/", b"after")))
    assert [e.kind for e in errors] == ["digest_mismatch"] and [d.text for d in docs] == ["after"]
    assert capfd.readouterr().err == ""


def test_a_run_of_damaged_records_is_summed_up_after_a_hundred():
    """A damaged member can inflate to thousands of copies of its headers (a fuzz mutant: 10,637
    `truncated_record` errors from one 5 KB file): past 100 in a row, one error sums up the rest."""
    no_length = b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Record-ID: <urn:uuid:x>\r\n\r\nsome text\r\n\r\n"
    docs, errors = docs_and_errors(read(warcinfo() + no_length * 500 + record("http://ok.example/", b"after")))
    assert [e.kind for e in errors] == ["truncated_record"] * 100 + ["garbled_record"]
    assert "400 more damaged records in a row" in errors[-1].message and [d.text for d in docs] == ["after"]


def test_a_header_of_two_million_short_lines_is_one_error_read_past_quickly():
    one, two = pages(2)
    bad = one.replace(b"Content-Type: text/plain\r\n", b"Content-Type: text/plain\r\n" + b"a\n" * 2 * 2**20)
    start = time.perf_counter()
    docs, errors = docs_and_errors(read(gzip.compress(warcinfo() + bad + two, mtime=0)))
    assert time.perf_counter() - start < 1  # 64 KiB of it is read as headers, the rest skipped
    assert [e.kind for e in errors] == ["garbled_record"] and [d.meta["url"] for d in docs] == ["http://p1.example/"]


def test_a_block_digest_that_is_no_base32_is_a_digest_mismatch():
    """A fuzz mutant's lying number landed in the digest: warcio cannot decode it, so the block is unproven."""
    damaged = record("http://p.example/", prose(1)).replace(b"WARC-Block-Digest: sha1:", b"WARC-Block-Digest: sha1:0189")
    docs, errors = docs_and_errors(read(wet(damaged, record("http://ok.example/", b"fine"))))
    assert [e.kind for e in errors] == ["digest_mismatch"] and [d.text for d in docs] == ["fine"]
