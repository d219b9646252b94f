"""StackExchange: numeric score order, thread building, HTML to text, site ranking, bad input."""

from __future__ import annotations

import io
import os

import pytest

from pipeline import files
from samples import stackexchange as sample
from sources.stackexchange.source import (
    StackExchangeConfig,
    StackExchangeSource,
    Unanswered,
    build_thread,
    html_to_text,
    iter_post_lines,
    parse_row,
    parse_tags,
    rank_sites,
    read_posts,
    site_of,
    sort_answers,
)
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source


def answer(i, score, body="x"):
    return {"Id": str(i), "PostTypeId": "2", "ParentId": "1", "Score": str(score), "Body": f"<p>{body}</p>"}


def test_answers_sorted_by_numeric_score_not_as_strings():
    answers = [answer(1, "9"), answer(2, "100"), answer(3, "-5"), answer(4, "10"), answer(5, "2")]
    assert [a["Score"] for a in sort_answers(answers, None)] == ["100", "10", "9", "2", "-5"]


def test_score_ties_accepted_first_then_lowest_id():
    answers = [answer(7, 3), answer(5, 3), answer(9, 3)]
    assert [a["Id"] for a in sort_answers(answers, "9")] == ["9", "5", "7"]
    assert [a["Id"] for a in sort_answers(answers, None)] == ["5", "7", "9"]


def test_thread_layout_and_meta():
    question = {"Id": "1", "PostTypeId": "1", "Title": "Why &amp; how?", "Body": "<p>Question body</p>",
                "Score": "4", "Tags": "<python><json>", "AcceptedAnswerId": "3", "CreationDate": "2020-01-01"}
    doc = build_thread("ai.stackexchange.com", "1", [answer(2, 1, "low"), question, answer(3, 50, "high")])
    assert doc.text == "Q: Why & how?\n\nQuestion body\n\nA: high\n\nA: low"
    assert doc.id == "stackexchange/ai.stackexchange.com/1"
    assert doc.meta["answer_scores"] == [50, 1]
    assert doc.meta["tags"] == ["python", "json"]
    assert doc.meta["url"] == "https://ai.stackexchange.com/questions/1"


def test_tags_both_dump_formats():
    assert parse_tags("<c++><templates>") == ["c++", "templates"]
    assert parse_tags("|c++|templates|") == ["c++", "templates"]


def test_orphan_answers_make_an_empty_thread_marked_orphan():
    doc = build_thread("x.stackexchange.com", "42", [answer(5, 1)])
    assert doc.meta["orphan_answers"] == 1 and doc.text == ""


def test_unanswered_questions_kept_with_title_configurable():
    doc = build_thread("s", "1", [{"Id": "1", "PostTypeId": "1", "Title": "T", "Body": "<p>b</p>"}])
    assert Unanswered(True)(doc) == (True, "")
    assert Unanswered(False)(doc) == (False, "no_answers")
    untitled = build_thread("s", "2", [{"Id": "2", "PostTypeId": "1", "Title": "", "Body": "<p>b</p>"}])
    assert Unanswered(True)(untitled) == (False, "no_answers_no_title")


def test_html_keeps_code_lists_paragraphs_and_unescapes_entities():
    text = html_to_text("<p>Use <code>a &lt; b</code> &amp; &eacute;</p><pre><code>if a &lt; b:\n    pass\n</code></pre>"
                        "<ol><li>first</li><li>second</li></ol><p>bye<br>now</p><script>evil()</script>")
    assert text == "Use `a < b` & é\n\n```\nif a < b:\n    pass\n```\n\n1. first\n2. second\n\nbye\nnow"


def test_site_names_from_the_dump_layout():
    assert site_of("raw/ai.stackexchange.com.7z") == "ai.stackexchange.com"
    assert site_of("raw/stackoverflow.com-Posts.7z") == "stackoverflow.com"
    assert site_of("raw/math.stackexchange.com/Posts.xml") == "math.stackexchange.com"


def test_rank_sites_excludes_meta_and_marks_top_n():
    ranking = rank_sites([("a.com", 5), ("meta.stackexchange.com", 99), ("b.com", 7), ("c.com", 5)], top=2)
    assert [(r["site"], r["selected"]) for r in ranking] == [("b.com", True), ("a.com", True), ("c.com", False)]


def test_entity_bomb_is_rejected_without_expansion():
    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE posts [\n <!ENTITY a "aaaaaaaaaa">\n'
            + b"".join(b' <!ENTITY a%d "' % i + (b"&a%d;" % (i - 1) if i > 1 else b"&a;") * 10 + b'">\n'
                       for i in range(1, 12))
            + b']>\n<posts>\n  <row Id="1" PostTypeId="1" Title="&a11;" Body="&a11;" />\n</posts>\n')
    records = list(read_posts("bomb/Posts.xml", open_fn=lambda p: io.BytesIO(bomb)))
    kinds = [r.kind for r in records]
    assert kinds == ["xml_dtd_rejected", "malformed_row"]  # the row's entity is undefined, never expanded


def test_giant_line_is_skipped_and_counted():
    data = b'<posts>\n  <row Id="1" PostTypeId="1" Body="' + b"x" * (5 * 1024 * 1024) + b'" />\n' \
           b'  <row Id="2" PostTypeId="1" Title="ok" Body="fine" />\n</posts>\n'
    out = list(iter_post_lines(io.BytesIO(data), "big"))
    assert out[0][1].kind == "row_too_large" and out[0][1].input == "big:2"  # `<posts>` is line 1
    assert out[1][0].startswith(b'<row Id="2"')


def test_whole_job_on_the_sample(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    sample.build(str(raw), "", seed=7)
    result = run_source(StackExchangeSource(StackExchangeConfig()), files.expand_inputs(str(raw)), str(tmp_path / "out"))
    docs = clean_docs(str(tmp_path / "out"), "stackexchange")
    assert len(docs) == result["documents_out"] > 100
    assert {"orphan_answers", "meta_site", "site_not_in_top"} <= set(result["dropped"])
    # bad.: two malformed rows and one without Id; bomb.: its DTD and the row using it; the cut .7z.
    # Nothing from TABLES_SITE's Users.xml / Comments.xml: they are not posts.
    assert result["errors"] == {"xml_dtd_rejected": 1, "malformed_row": 3, "missing_attributes": 1, "bad_archive": 1}
    errors = read_jsonl_gz(str(tmp_path / "out" / "errors" / "stackexchange" / "*.jsonl.gz"))
    assert not [e for e in errors if sample.TABLES_SITE in e["input"]]
    assert {"Users.xml", "Comments.xml"} <= set(os.listdir(raw / sample.TABLES_SITE))
    selected = [r["site"] for r in result["site_ranking"] if r["selected"]]
    assert len(selected) == 28 and "meta.stackexchange.com" not in selected
    assert {d["meta"]["site"] for d in docs} <= set(selected)
    for d in docs:
        scores = d["meta"]["answer_scores"]
        assert scores == sorted(scores, reverse=True)
        assert "<p>" not in d["text"] and "&lt;" not in d["text"] and d["text"].startswith("Q: ")
    assert any(d["meta"]["answer_scores"] == [100, 10, 9, 2, -5] for d in docs)
    backspace = next(d for d in docs if d["id"] == f"stackexchange/{sample.BACKSPACE_SITE}/1")  # its row has &#x8;
    assert b"in&#x8; practice" in (raw / sample.BACKSPACE_SITE / "Posts.xml").read_bytes()
    assert "What does this mean in practice" in backspace["text"] and "\x08" not in backspace["text"]
    assert len(backspace["meta"]["answer_scores"]) == 5
    rejected = read_jsonl_gz(str(tmp_path / "out" / "rejected" / "stackexchange" / "*.jsonl.gz"))
    assert sum(result["dropped"].values()) == len(rejected)


# --- the dump as distributed ---------------------------------------------------------------------
def _posts_xml(rows: list[str]) -> bytes:
    """A Posts.xml as the dump writes it: UTF-8 BOM, CRLF line ends, one `<row/>` a line."""
    lines = ['\ufeff<?xml version="1.0" encoding="utf-8"?>', "<posts>", *("  " + r for r in rows), "</posts>", ""]
    return "\r\n".join(lines).encode("utf-8")


def test_other_tables_of_an_extracted_site_folder_are_not_read_as_posts():
    users = _posts_xml(['<row Id="-1" Reputation="1" CreationDate="2010-07-28T16:38:27.683" DisplayName="Community" />',
                        '<row Id="2" Reputation="101" DisplayName="Geoff" />'])
    for path in ("cooking.stackexchange.com/Users.xml", "cooking.stackexchange.com/Comments.xml",
                 "stackoverflow.com-Users.7z", "stackoverflow.com-PostHistory.7z", "raw/Sites.xml"):
        assert list(read_posts(path, open_fn=lambda p: io.BytesIO(users))) == [], path
    posts = _posts_xml(['<row Id="1" PostTypeId="1" Title="T" Body="&lt;p&gt;b&lt;/p&gt;" />'])
    rows = list(read_posts("cooking.stackexchange.com/Posts.xml", open_fn=lambda p: io.BytesIO(posts)))
    assert [r["Id"] for r in rows] == ["1"] and rows[0]["site"] == "cooking.stackexchange.com"


def test_title_is_plain_text_not_html():
    question = {"Id": "1", "PostTypeId": "1", "Title": "Why is std::vector<bool> not a <container>?",
                "Body": "<p>See <code>std::vector&lt;bool&gt;</code>.</p>"}
    doc = build_thread("stackoverflow.com", "1", [question, answer(2, 1)])
    assert doc.meta["title"] == "Why is std::vector<bool> not a <container>?"
    assert doc.text.startswith("Q: Why is std::vector<bool> not a <container>?\n\nSee `std::vector<bool>`.")


def test_invalid_xml_character_references_cost_the_character_not_the_post():
    line = (b'<row Id="7" PostTypeId="1" Score="-2" Title="Backspace&#x8; in &#31;titles" '
            b'Body="&lt;p&gt;press \x0b&#x8;&#8; &#x1F600; &#xA;&#x9;key&lt;/p&gt;" />')
    row = parse_row(line)
    assert row["Title"] == "Backspace in titles" and row["Body"] == "<p>press  \U0001F600 \n\tkey</p>"
    with pytest.raises(Exception):
        parse_row(b'<row Id="8" PostTypeId="1" Body="unclosed />')


def test_loose_lists_and_tables_keep_their_layout():
    assert html_to_text("<ol>\n<li><p>first step</p></li>\n<li>\n<p>second step</p>\n</li>\n</ol>") == \
        "1. first step\n\n2. second step"
    table = ("<table>\n<thead>\n<tr>\n<th>Name</th>\n<th>Age</th>\n</tr>\n</thead>\n<tbody>\n"
             "<tr>\n<td>Bob</td>\n<td>42</td>\n</tr>\n</tbody>\n</table>\n<p>after</p>")
    assert html_to_text(table) == "Name | Age\nBob | 42\n\nafter"


def test_job_on_an_extracted_site_folder_and_split_archives(tmp_path):
    site = tmp_path / "raw" / "cooking.stackexchange.com"
    site.mkdir(parents=True)
    (site / "Posts.xml").write_bytes(_posts_xml([
        '<row Id="1" PostTypeId="1" AcceptedAnswerId="3" Score="5" Title="Is a &lt;br&gt; tag ok in recipes?" '
        'Tags="|html|recipes|" Body="&lt;p&gt;Question&#xA;text &#x8;here&lt;/p&gt;" ContentLicense="CC BY-SA 4.0" />',
        '<row Id="2" PostTypeId="2" ParentId="1" Score="-1" Body="&lt;ul&gt;&lt;li&gt;&lt;p&gt;low&lt;/p&gt;&lt;/li&gt;&lt;/ul&gt;" />',
        '<row Id="3" PostTypeId="2" ParentId="1" Score="10" Body="&lt;p&gt;high&lt;/p&gt;" />',
        '<row Id="4" PostTypeId="5" Body="&lt;p&gt;tag wiki&lt;/p&gt;" />',
        '<row Id="5" PostTypeId="2" ParentId="99" Score="1" Body="&lt;p&gt;question deleted&lt;/p&gt;" />']))
    for table in ("Users", "Comments", "Votes", "Badges", "PostHistory", "PostLinks", "Tags"):
        (site / f"{table}.xml").write_bytes(_posts_xml([f'<row Id="{i}" UserId="1" />' for i in range(1, 50)]))
    (tmp_path / "raw" / "stackoverflow.com-Users.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\0" * 32)
    out = tmp_path / "out"
    result = run_source(StackExchangeSource(StackExchangeConfig()), files.expand_inputs(str(tmp_path / "raw")), str(out))
    assert result["errors"] == {}
    assert result["documents_out"] == 1 and result["dropped"] == {"orphan_answers": 1}
    (doc,) = clean_docs(str(out), "stackexchange")
    assert doc["text"] == "Q: Is a <br> tag ok in recipes?\n\nQuestion text here\n\nA: high\n\nA: - low"
    assert doc["meta"]["tags"] == ["html", "recipes"] and doc["meta"]["answer_scores"] == [10, -1]


# --- rows split over lines (attributes holding literal newlines) -----------------------------------
def _read(data: bytes, **kwargs) -> list:
    return list(read_posts("cooking.stackexchange.com/Posts.xml", open_fn=lambda p: io.BytesIO(data), **kwargs))


def test_a_newline_inside_an_attribute_keeps_the_post():
    # as a tool that re-serialises the dump writes it: the newline literal, not `&#xA;`
    data = _posts_xml(['<row Id="1" PostTypeId="1" Title="Knife\r\nsharpening" Body="&lt;p&gt;Which stone?&lt;/p&gt;" />',
                       '<row Id="2" PostTypeId="2" ParentId="1" Score="3" Body="&lt;p&gt;A whetstone.&lt;/p&gt;" />'])
    rows = _read(data)
    assert [r["Id"] for r in rows] == ["1", "2"]
    assert rows[0]["Title"] == "Knife sharpening"  # XML normalises a literal newline in a value to a space
    doc = build_thread("cooking.stackexchange.com", "1", rows)
    assert doc.text == "Q: Knife sharpening\n\nWhich stone?\n\nA: A whetstone."


def test_a_row_with_several_newlines_and_one_attribute_a_line():
    data = (b'<posts>\n  <row Id="5" PostTypeId="2" ParentId="4" Score="1"\n'
            b'       Body="&lt;p&gt;first line\n\nsecond paragraph&lt;/p&gt;\n'
            b'&lt;p&gt;third /&gt; with a tag&lt;/p&gt;"\n'
            b'       Title="a/>\nb"\n  />\n'
            b'  <row Id="6" PostTypeId="1" Title="next" Body="fine" />\n</posts>\n')
    rows = _read(data)
    assert [r["Id"] for r in rows] == ["5", "6"]
    assert rows[0]["Body"] == "<p>first line  second paragraph</p> <p>third /> with a tag</p>"
    assert rows[0]["Title"] == "a/> b"  # a `/>` at a line's end inside a value does not end the row


def test_an_unclosed_row_at_the_end_of_the_file_is_one_error():
    data = b'<posts>\n  <row Id="1" PostTypeId="1" Title="kept" Body="x" />\n  <row Id="2" PostTypeId="1" Body="cut\noff'
    records = _read(data)
    assert records[0]["Id"] == "1"
    assert [r.kind for r in records[1:]] == ["unclosed_row"]
    assert records[1].input.endswith("Posts.xml:3") and records[1].excerpt.startswith('<row Id="2"')


def test_a_row_broken_by_a_lone_quote_costs_only_itself():
    data = _posts_xml(['<row Id="1" PostTypeId="1" Title="oops />', '<row Id="2" PostTypeId="1" Title="ok" Body="b" />'])
    records = _read(data)
    assert [getattr(r, "kind", None) for r in records] == ["unclosed_row", None]
    assert records[1]["Id"] == "2"


def test_a_split_row_over_the_cap_is_one_error_and_the_next_row_is_read():
    body = b"\n".join(b"line %d of a long body" % i for i in range(200))  # ~4.5 KB over 200 lines
    data = (b'<posts>\n  <row Id="1" PostTypeId="1" Title="big" Body="' + body + b'" />\n'
            b'  <row Id="2" PostTypeId="1" Title="small" Body="fine\nstill" />\n</posts>\n')
    records = _read(data, max_row_bytes=1024)
    assert [getattr(r, "kind", None) for r in records] == ["row_too_large", None]
    assert records[0].input.endswith(":2") and records[1]["Body"] == "fine still"
    assert [r["Id"] for r in _read(data)] == ["1", "2"]  # under the default cap it is a post


def test_max_row_mb_flag_sets_the_cap_of_the_job(tmp_path):
    import argparse

    from pipeline import config as config_flags

    parser = argparse.ArgumentParser()
    config_flags.add_arguments(parser, StackExchangeConfig)
    assert StackExchangeConfig().max_row_mb * 2**20 == 4 * 1024 * 1024
    config = config_flags.from_args(StackExchangeConfig, parser.parse_args(["--max-row-mb", "0.001"]))
    site = tmp_path / "raw" / "cooking.stackexchange.com"
    site.mkdir(parents=True)
    (site / "Posts.xml").write_bytes(_posts_xml([
        '<row Id="1" PostTypeId="1" Title="Split\ntitle" Body="&lt;p&gt;' + "long body " * 200 + '&lt;/p&gt;" />',
        '<row Id="2" PostTypeId="1" Title="Short\none" Body="&lt;p&gt;kept&lt;/p&gt;" />']))
    result = run_source(StackExchangeSource(config), files.expand_inputs(str(tmp_path / "raw")), str(tmp_path / "out"))
    assert result["errors"] == {"row_too_large": 1} and result["documents_out"] == 1
    (doc,) = clean_docs(str(tmp_path / "out"), "stackexchange")
    assert doc["text"] == "Q: Short one\n\nkept"


def _posts_7z(path, rows: int) -> None:
    import random

    import py7zr

    rng = random.Random(7)  # hex noise: the archive stays megabytes, several of py7zr's 1 MiB reads
    body = "".join(f'  <row Id="{i}" PostTypeId="1" Score="1" Title="t{i}" '
                   f'Body="&lt;p&gt;{rng.getrandbits(640):0160x}&lt;/p&gt;" />\n' for i in range(rows))
    with py7zr.SevenZipFile(path, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 0}]) as archive:
        archive.writestr('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + body + "</posts>\n", "Posts.xml")


def test_7z_posts_stream_out_and_rows_before_damage_are_kept(tmp_path):
    """Posts.xml is decompressed as it is read (a thread feeding a bounded queue), not unpacked
    to disk first: damage three quarters into the archive keeps the rows before it and counts
    one bad_archive; a reader that stops early stops the decompressing thread."""
    import threading

    from pipeline.document import ErrorRecord
    from sources.stackexchange.source import _read_7z

    path = tmp_path / "big.stackexchange.com.7z"
    _posts_7z(path, 40_000)
    whole = list(_read_7z(str(path), "big.stackexchange.com", 1 << 20))
    assert [r["Id"] for r in whole] == [str(i) for i in range(40_000)]
    damaged = bytearray(path.read_bytes())
    cut = len(damaged) * 3 // 4
    damaged[cut:cut + 64] = bytes(b ^ 0xFF for b in damaged[cut:cut + 64])
    (tmp_path / "damaged.7z").write_bytes(bytes(damaged))
    records = list(_read_7z(str(tmp_path / "damaged.7z"), "big.stackexchange.com", 1 << 20))
    rows = [r for r in records if not isinstance(r, ErrorRecord)]
    assert [r.kind for r in records if isinstance(r, ErrorRecord)] == ["bad_archive"]
    assert 10_000 < len(rows) < 40_000 and rows == whole[:len(rows)]
    before = threading.active_count()
    reader = _read_7z(str(path), "x", 1 << 20)
    next(reader)
    reader.close()
    assert threading.active_count() == before


def test_7z_member_names_then_member_from_one_open_stream(tmp_path):
    """An object-store archive is one open stream read twice (its names, then Posts.xml); the
    second read used to start where the first stopped ("not a 7z file")."""
    from sources.stackexchange import sevenzip

    path = tmp_path / "one.stackexchange.com.7z"
    _posts_7z(path, 10)
    with open(path, "rb") as handle:
        assert sevenzip.member_names(handle) == ["Posts.xml"]
        with sevenzip.open_member(handle, "Posts.xml") as member:
            assert member.read().count(b"<row ") == 10
