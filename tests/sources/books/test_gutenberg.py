"""Gutenberg headers and footers, decoding, the PG-19 catalogue (sources/books/gutenberg.py)."""

from __future__ import annotations

import pytest

from samples.books import OLD_FOOTER, OLD_HEADER
from sources.books.gutenberg import BadBook, decode_book, parse_pg19_metadata, strip_gutenberg
from sources.books.source import BooksSource
from tests.fixtures.books import write_file

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
    write_file(f"{tmp_path}/113.txt", text.replace("\n", "\r\n").encode("latin-1"))
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
