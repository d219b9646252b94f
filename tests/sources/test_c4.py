"""C4: one test per clean_page rule on tiny literal pages, the sentence splitter, the readers
(released C4 JSON and WET) with bad input, the three-sentence-span dedup as a Beam pipeline,
the whole job on the sample, and the side-by-side check against datatrove's C4QualityFilter."""

from __future__ import annotations

import gzip
import io
import json
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.assets import asset_path
from pipeline.dedup import RemoveRepeatedSpans
from pipeline.document import Document, ErrorRecord
from samples import c4 as sample
from sources.c4 import rules as c4_rules
from sources.c4.rules import BadWords, CleanPage, MaxPageLength, count_sentences, split_sentences
from sources.c4.source import C4Config, C4Source, page_spans, read_c4_json, remove_spans
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source

ASSETS = os.path.dirname(asset_path("lee_background.cor"))
# Five good sentences on three lines: a page that passes every rule.
GOOD = ("The council met on Monday to discuss the new bridge. It approved the budget after a long debate.\n"
        "Work will start in the spring and take two years. The mayor said the town had waited long enough.\n"
        "Residents can see the plans at the library.")
OTHER = ("Rain fell across the region for a third day. Rivers rose to their highest level since 1990.\n"
         "Two roads were closed near the coast. Police asked drivers to stay at home.\n"
         "The weather bureau expects clear skies by Friday.")


def page(text, i=0):
    return Document(id=f"c4/{i:04d}", text=text, source="c4")


def clean(text, **kwargs):
    d = page(text)
    keep, reason = CleanPage(**kwargs)(d)
    return keep, reason, d.text


# --- clean_page rules, one each ---------------------------------------------------------------
def test_good_page_is_kept_unchanged():
    assert clean(GOOD) == (True, "", GOOD)


def test_lines_without_terminal_punctuation_or_with_ellipsis_are_dropped():
    f = CleanPage()
    keep, _, text = clean("Home | News | Sport\n" + GOOD + "\nRead the rest of this story here...\nShare this")
    assert keep and text == GOOD
    keep, _, text = clean(GOOD + '\nHe said the work was "long overdue."')  # a closing quote ends a line
    assert text.endswith('overdue."')
    assert f.line_reason("It is not over yet...") == "line_no_terminal_punct"


def test_min_words_per_line_default_3_tfds_5():
    four = "Work starts in spring."
    assert clean(GOOD + "\nThanks.")[2] == GOOD  # one word
    assert clean(GOOD + "\n" + four)[2].endswith(four)  # 4 words >= 3 (paper)
    assert clean(GOOD + "\n" + four, min_words_per_line=5)[2] == GOOD  # TFDS's 5


def test_javascript_lines_are_dropped():
    text = GOOD + "\nPlease enable JavaScript to view the comments powered by Disqus."
    assert clean(text)[2] == GOOD


def test_cookie_and_policy_lines_are_dropped():
    for line in ("This website uses cookies to improve your experience.",
                 "By using this site you agree to our Terms of Use.", "Read our Privacy Policy before you post."):
        assert clean(GOOD + "\n" + line)[2] == GOOD


def test_citation_markers_are_stripped():
    text = GOOD.replace("budget after", "budget[1] after").replace("years.", "years.[citation needed]")
    keep, _, out = clean(text + "\nHistory[edit]")
    assert keep and out == GOOD


def test_lorem_ipsum_drops_the_page_but_only_in_a_valid_line():
    assert clean(GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.")[:2] == (False, "lorem_ipsum")
    assert clean(GOOD + "\nLorem ipsum dolor")[0]  # that line fails the punctuation rule first (TFDS order)


def test_curly_bracket_drops_the_page():
    assert clean(GOOD + "\nDear {first_name}, thanks for signing up.")[:2] == (False, "curly_bracket")


def test_too_few_sentences_drops_the_page():
    assert clean("One sentence here. Two sentences here.\nThree sentences are here now. And four.")[:2] == \
        (False, "too_few_sentences")
    assert clean("One sentence here. Two sentences here.\nThree sentences are here now.", min_sentences=3)[0]


def test_lines_with_a_word_over_1000_chars_are_dropped():
    blob = "data:image/png;base64," + "A" * 1001
    assert clean(GOOD + f"\nThe chart is {blob} here.")[2] == GOOD


def test_line_counts_per_rule():
    f = CleanPage()
    f(page("Home\n" + GOOD + "\nEnable JavaScript to comment on this story.\nSee our privacy policy for details."))
    assert f.line_counts["line_no_terminal_punct"] == 1
    assert f.line_counts["line_javascript"] == 1 and f.line_counts["line_policy"] == 1


def test_bad_words_whole_runs_phrases_and_not_inside_words():
    f = BadWords()
    assert f(page(GOOD + "\nWatch free porn videos here.")) == (False, "bad_words")
    assert f.find("Porn at the start of a line.") == "porn"  # TFDS's regex needs a char before
    assert f.find("we watched 2 girls 1 cup once.") == "2 girls 1 cup"
    assert f.find("A classic class passes in Scunthorpe; grass grows.") == ""  # ass, cunt inside words
    assert f(page(GOOD)) == (True, "")


def test_badwords_list_is_the_ldnoobw_en_file():
    words = c4_rules.load_badwords()
    assert len(words) == 377 and words[0] == "2g1c" and "2 girls 1 cup" in words


def test_max_page_length():
    assert MaxPageLength(100)(page("x" * 101)) == (False, "page_too_long")
    assert MaxPageLength()(page(GOOD))[0]


# --- the sentence splitter (boundaries as spaCy's sentencizer puts them) ---------------------------
@pytest.mark.parametrize("line,n", [
    ("Dr. Smith went home. He said no. and then left.", 3),
    ("The U.S. Army is big. J. R. R. Tolkien wrote.", 2),
    ("Wait... then he left! Really?! Yes.", 3),
    ('He said "yes." Then he went.', 2),
    ('It ended here. "', 1),  # a trailing quote makes no sentence
    ("It was 3.5 m. long. See www.example.com. Then go.", 3),
    ("the end.Next one starts here.", 2),
    ("Mr. Jones of Acme Inc. spoke at 5 p.m. today.", 1),
    ("No punctuation at all", 1),
    ("The price rose to 1.5", 1),
])
def test_count_sentences(line, n):
    assert count_sentences(line) == n
    assert len(split_sentences(line)) == n


# --- readers ----------------------------------------------------------------------------------------
def write_gz(path, lines: list[bytes]):
    with gzip.open(path, "wb") as f:
        f.write(b"".join(lines))


def test_c4_json_reader_counts_bad_lines(tmp_path):
    good = json.dumps({"text": GOOD, "timestamp": "2019-04-25T12:57:54Z", "url": "https://a.example/x"})
    path = str(tmp_path / "c4-train.00000-of-01024.json.gz")
    write_gz(path, [good.encode() + b"\n", b'{"text": "cut\n', b'{"text": "caf\xe9"}\n', b"[1, 2]\n",
                    b'{"text": 42}\n', b"\n", good.encode()])
    records = list(read_c4_json(path))
    docs = [r for r in records if isinstance(r, Document)]
    assert [r.kind for r in records if isinstance(r, ErrorRecord)] == \
        ["malformed_json", "invalid_utf8", "invalid_record", "invalid_record"]
    assert len(docs) == 2 and docs[0].meta == {"url": "https://a.example/x", "timestamp": "2019-04-25T12:57:54Z"}
    assert docs[0].id != docs[1].id and docs[0].id == list(read_c4_json(path))[0].id  # stable


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    data = gzip.compress(b"".join(json.dumps({"text": f"{GOOD} {i}"}).encode() + b"\n" for i in range(200)))
    path = tmp_path / "c4-train.00001-of-01024.json.gz"
    path.write_bytes(data[: len(data) // 2])
    records = list(read_c4_json(str(path)))
    assert 0 < sum(isinstance(r, Document) for r in records) < 200
    assert isinstance(records[-1], ErrorRecord) and records[-1].kind == "truncated_gzip"


def test_giant_line_is_skipped_and_counted(tmp_path, monkeypatch):
    import sources.c4.source

    monkeypatch.setattr(sources.c4.source, "MAX_LINE_BYTES", 1000)
    path = str(tmp_path / "c4-train.00002-of-01024.json.gz")
    write_gz(path, [json.dumps({"text": "x " * 5000}).encode() + b"\n", json.dumps({"text": GOOD}).encode()])
    records = list(read_c4_json(path))
    assert [getattr(r, "kind", "doc") for r in records] == ["record_too_large", "doc"]
    assert records[0].input == f"{path}:1" and records[0].excerpt.startswith('{"text": "x x')


def test_gzip_cut_inside_a_giant_line_is_one_truncated_gzip_error(tmp_path, monkeypatch):
    import random

    import sources.c4.source

    monkeypatch.setattr(sources.c4.source, "MAX_LINE_BYTES", 1000)
    giant = random.Random(0).randbytes(50_000).hex().encode()  # 100 KB that gzip cannot shrink much
    data = gzip.compress(json.dumps({"text": GOOD}).encode() + b"\n" + giant + b"\n" + json.dumps({"text": GOOD}).encode())
    path = tmp_path / "c4-train.00003-of-01024.json.gz"
    path.write_bytes(data[: len(data) // 2])  # cut well past the giant line's first 1,000 bytes
    records = list(read_c4_json(str(path)))
    assert [getattr(r, "kind", "doc") for r in records] == ["doc", "truncated_gzip"]
    assert records[1].input == f"{path}:2"


def test_plain_json_and_wet_inputs(tmp_path):
    plain = tmp_path / "c4-validation.json"
    plain.write_text(json.dumps({"text": GOOD, "url": "u"}) + "\n")
    assert [d.text for d in C4Source().read(str(plain))] == [GOOD]
    wet = str(tmp_path / "CC-MAIN-x.warc.wet.gz")
    sample.write_wet(wet, [{"text": GOOD, "url": "https://w.example/p", "timestamp": "2019-04-18T10:00:00Z"}])
    docs = list(C4Source().read(wet))
    assert [d.text for d in docs] == [GOOD]
    assert docs[0].meta == {"url": "https://w.example/p", "timestamp": "2019-04-18T10:00:00Z"}


def test_crawl_files_are_known_by_content_not_name(tmp_path):
    """A directory of downloaded segments holds WET under other names, WAT files, the paths list."""
    wet = str(tmp_path / "segment-00000.gz")  # a WET saved under another name
    sample.write_wet(wet, [{"text": GOOD, "url": "https://w.example/p", "timestamp": "2019-04-18T10:00:00Z"}])
    assert [d.text for d in C4Source().read(wet)] == [GOOD]
    wat = str(tmp_path / "CC-MAIN-20190418101243-20190418123243-00000.warc.wat.gz")
    metadata = json.dumps({"Envelope": {"Format": "WARC", "WARC-Header-Metadata": {"WARC-Type": "response"}}})
    with open(wat, "wb") as f:
        from warcio.warcwriter import WARCWriter

        writer = WARCWriter(f, gzip=True)
        for i in range(50):
            writer.write_record(writer.create_warc_record(
                f"https://w.example/{i}", "metadata", payload=io.BytesIO(metadata.encode()),
                warc_headers_dict={"Content-Type": "application/json"}))
    assert list(C4Source().read(wat)) == []  # WAT metadata holds no page text: nothing, no errors
    paths = tmp_path / "wet.paths.gz"
    paths.write_bytes(gzip.compress(b"".join(
        b"crawl-data/CC-MAIN-2019-18/segments/1555578517558.8/wet/CC-MAIN-20190418101243-20190418123243-%05d"
        b".warc.wet.gz\n" % i for i in range(500)), mtime=0))
    records = list(C4Source().read(str(paths)))
    assert [(type(r), r.kind) for r in records] == [(ErrorRecord, "unreadable_file")]  # one, not 500
    assert "paths listing" in records[0].message


def test_one_page_per_url_as_tfds_normalises_urls(tmp_path):
    """http/https, www, a tracking query and a trailing slash name the same page (TFDS normalize_url)."""
    updated = GOOD.replace("on Monday", "on Tuesday")  # a re-crawl: the page changed a little
    pages = [{"text": GOOD, "url": "http://www.town.example/news/bridge", "timestamp": "2019-04-18T10:00:00Z"},
             {"text": updated, "url": "https://town.example/news/bridge/", "timestamp": "2019-04-19T10:00:00Z"},
             {"text": updated, "url": "https://town.example/news/bridge?utm_source=rss", "timestamp": "2019-04-19T11:00:00Z"},
             {"text": OTHER, "url": "https://town.example/news/rain", "timestamp": "2019-04-19T12:00:00Z"}]
    wet = str(tmp_path / "CC-MAIN-20190418101243-20190418123243-00000.warc.wet.gz")
    sample.write_wet(wet, pages)
    stats = run_source(C4Source(C4Config()), [wet], str(tmp_path / "out"))
    assert stats["dropped"].get("duplicate_url") == 2
    urls = sorted(d["meta"]["url"] for d in clean_docs(str(tmp_path / "out"), "c4"))
    assert len(urls) == 2 and urls[1] == "https://town.example/news/rain"  # urls are kept as crawled
    assert "bridge" in urls[0]


# --- three-sentence spans ---------------------------------------------------------------------------
FOOTER = "Our site is not responsible for external content. All material is copyright. Reproduction is prohibited."


def test_spans_and_removal():
    d = page(GOOD + "\n" + FOOTER)
    spans = list(page_spans(d))
    assert [pos for _, pos in spans] == list(range(8 - 2))  # 8 sentences -> 6 windows
    out = remove_spans(d, {5}, min_sentences=5)
    assert out.text == GOOD
    assert remove_spans(page(GOOD + "\n" + FOOTER), {0, 3}, min_sentences=5) is None


def test_span_dedup_keeps_the_first_occurrence_beam():
    docs = [page(GOOD + "\n" + FOOTER, 1), page(OTHER + "\n" + FOOTER, 2),
            page("Short page. It has a footer.\n" + FOOTER, 3)]
    remove = lambda d, pos: remove_spans(d, pos, min_sentences=5)  # noqa: E731
    with TestPipeline() as p:
        out = p | beam.Create(docs) | RemoveRepeatedSpans(page_spans, remove, keep_first=True,
                                                          empty_reason="too_few_sentences_after_dedup")
        assert_that(out["kept"] | "Texts" >> beam.Map(lambda d: (d.id, d.text)), equal_to([
            ("c4/0001", GOOD + "\n" + FOOTER), ("c4/0002", OTHER)]), label="kept")
        assert_that(out["rejected"] | "Reasons" >> beam.Map(lambda r: (r.doc.id, r.reason)),
                    equal_to([("c4/0003", "too_few_sentences_after_dedup")]), label="rejected")


# --- the whole job on the sample ----------------------------------------------------------------------
def test_whole_job_on_the_sample(tmp_path):
    raw = tmp_path / "raw" / "c4"
    raw.mkdir(parents=True)
    sample.build(str(raw), ASSETS, seed=7)
    inputs = sorted(str(p) for p in raw.iterdir())
    stats = run_source(C4Source(C4Config()), inputs, str(tmp_path))
    for reason in ("page_too_long", "duplicate_url", "lorem_ipsum", "curly_bracket", "bad_words",
                   "too_few_sentences", "not_english", "too_few_sentences_after_dedup"):
        assert stats["dropped"].get(reason, 0) >= 1, reason
    assert set(stats["errors"]) == {"malformed_json", "invalid_utf8", "invalid_record", "truncated_gzip"}
    docs = clean_docs(str(tmp_path), "c4")
    assert len(docs) == stats["documents_out"] > 150
    assert all(set(d["meta"]) >= {"url", "timestamp", "language_score"} for d in docs)
    assert any(d["meta"]["url"].startswith("https://") and d["id"].startswith("c4/") for d in docs)
    text = "\n".join(d["text"] for d in docs)
    for boilerplate in ("javascript", "cookies", "Read more", "[1]", "[citation needed]", "Home |"):
        assert boilerplate.lower() not in text.lower()
    for site in sample.SITES:  # each site's footer survives on one page at most
        assert text.count(sample.footer(site)) <= 1
    assert not any("_lines_removed" in d["meta"] for d in docs)
    lines = stats["lines_removed_from_kept_pages"]  # the source's extra stats
    assert set(lines) == set(c4_rules.LINE_REASONS) and all(n > 0 for n in lines.values())
    rejected = read_jsonl_gz(str(tmp_path / "rejected" / "c4" / "*.jsonl.gz"))
    assert any(r["drop_reason"] == "bad_words" and r["meta"]["bad_word"] for r in rejected)


# --- side by side with datatrove ---------------------------------------------------------------------
def disagreement_class(text: str, ours_kept: bool) -> str:
    """Why datatrove's C4QualityFilter and ours differ on a page (every class is explained here):
    - "end_apostrophe": datatrove also accepts lines ending in `'` (its END_PUNCTUATION adds it);
      C4's TFDS code and the paper do not, so those lines (wikitext `''`, British quotes) go.
    - "sentence_split": the same kept lines hold a different number of sentences for spaCy's
      tokenizer + sentencizer than for our splitter, on either side of the 5-sentence cut
      (tokenizer cases the splitter does not model, e.g. emoticons, URLs, odd quote runs).
    - "words_before_citations": datatrove counts a line's words before stripping citations."""
    from datatrove.utils.text import split_into_sentences

    lines = [line.strip() for line in text.splitlines()]
    if any(line.endswith("'") and not line.endswith(c4_rules.END_MARKS) for line in lines):
        return "end_apostrophe"
    kept = page(text)
    if CleanPage(min_sentences=0)(kept)[0]:
        theirs = sum(len(split_into_sentences(line)) for line in kept.text.split("\n") if line)
        ours = sum(count_sentences(line) for line in kept.text.split("\n"))
        if (theirs >= 5) != (ours >= 5):
            return "sentence_split"
    if any(c4_rules.CITATION.search(line) for line in lines):
        return "words_before_citations"
    return "unexplained"


def test_agreement_with_datatrove_c4_quality_filter():
    pytest.importorskip("spacy", reason="datatrove's English splitter needs spaCy (pip install spacy)")
    dt = pytest.importorskip("datatrove.pipeline.filters", reason="datatrove not installed: "
                             "pip install 'datatrove[processing]' spacy (test-only dependency)")
    from datatrove.data import Document as DtDocument

    texts = sample.comparison_pages(ASSETS, seed=3, n_threshold=300)
    theirs_filter, ours_filter = dt.C4QualityFilter(), CleanPage()
    classes = []
    for i, text in enumerate(texts):
        theirs = theirs_filter.filter(DtDocument(text=text, id=str(i)))
        theirs_kept = theirs is True or (isinstance(theirs, tuple) and theirs[0])
        ours_kept = ours_filter(page(text, i))[0]
        if theirs_kept != ours_kept:
            classes.append(disagreement_class(text, ours_kept))
    agreement = 1 - len(classes) / len(texts)
    assert len(texts) > 700
    assert agreement >= 0.97, (agreement, classes)
    assert "unexplained" not in classes, classes
