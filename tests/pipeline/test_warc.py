"""pipeline.warc: WET/WARC records in, Documents and counted ErrorRecords out, never an exception."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os

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


def test_corrupt_gzip_member_stops_the_file_with_one_error():
    good = record("http://a.example/", b"good page")
    member = bytearray(gzip.compress(record("http://b.example/", b"x" * 500), mtime=0))
    member[20:40] = b"\xff" * 20
    results = read(wet(good) + bytes(member))
    docs, errors = docs_and_errors(results)
    assert [d.text for d in docs] == ["good page"]
    assert len(errors) == 1 and errors[0].kind in ("unreadable_archive", "unreadable_record", "truncated_record")


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
