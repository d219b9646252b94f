"""pipeline/filters.py: filters normalise their results, the Beam adapter routes and counts them,
`run_filters` runs a chain without Beam, `Ledger.apply` runs a source's steps, and the shared
`MinChars` / `MinWords` filters."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.document import Rejected
from pipeline.filters import ApplyFilter, Filter, Ledger, MinChars, MinWords, run_filters
from tests.fixtures.helpers import toy_doc


class Exploding(Filter):
    name = "exploding"

    def filter(self, d):
        if "boom" in d.text:
            raise ValueError("boom")
        return (False, "has_x") if "x" in d.text else True


def test_filter_normalises_results():
    assert MinWords(2)(toy_doc(1, "two words")) == (True, "")
    assert MinWords(2)(toy_doc(1, "one")) == (False, "too_short")
    assert Exploding()(toy_doc(1, "x marks")) == (False, "has_x")


def test_adapter_counts_reasons_and_dead_letters_exceptions():
    docs = [toy_doc(1, "fine"), toy_doc(2, "x one"), toy_doc(3, "x two"), toy_doc(4, "boom")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | ApplyFilter(Exploding())
        assert_that(out["kept"] | "KeptIds" >> beam.Map(lambda d: d.id), equal_to(["toy/0001"]), label="kept")
        assert_that(out["rejected"] | "Reasons" >> beam.Map(lambda r: r.reason),
                    equal_to(["has_x", "has_x"]), label="rejected")
        assert_that(out["errors"] | "Kinds" >> beam.Map(lambda e: (e.input, e.kind)),
                    equal_to([("toy/0004", "exploding_exception")]), label="errors")


def test_run_filters_plain_loop():
    kept, rejected = run_filters([MinWords(2)], [toy_doc(1, "a b"), toy_doc(2, "a")])
    assert [d.id for d in kept] == ["toy/0001"]
    assert [(r.doc.id, r.reason) for r in rejected] == [("toy/0002", "too_short")]


def test_min_chars_counts_characters_inside_surrounding_whitespace():
    assert MinChars(5)(toy_doc(1, "  abcde \n")) == (True, "")
    assert MinChars(5)(toy_doc(1, " \t abcd \n\n ")) == (False, "too_short")
    assert MinChars(5)(toy_doc(1, "ab de")) == (True, "")  # whitespace inside counts
    assert MinChars(3, name="short_page")(toy_doc(1, "ab")) == (False, "short_page")


def test_min_words_counts_whitespace_separated_words():
    assert MinWords(3)(toy_doc(1, " one\ttwo\nthree ")) == (True, "")
    assert MinWords(3)(toy_doc(1, "one two  ")) == (False, "too_short")
    assert MinWords(2, name="few_words")(toy_doc(1, "   ")) == (False, "few_words")
    assert MinWords(0)(toy_doc(1, "")) == (True, "")


class SplitOnX(beam.PTransform):
    """A step that is a transform, not a filter: drops the documents with an "x" and says how many
    it saw as an extra dict for stats.json."""

    def expand(self, docs):
        kept = docs | "NoX" >> beam.Filter(lambda d: "x" not in d.text)
        rejected = (docs | "HasX" >> beam.Filter(lambda d: "x" in d.text)
                    | "Why" >> beam.Map(lambda d: Rejected(d, "has_x")))
        extra = (docs | "Count" >> beam.combiners.Count.Globally()
                 | "AsStats" >> beam.Map(lambda n: {"split_seen": n}))
        return {"kept": kept, "rejected": rejected, "extra": extra}


def test_ledger_apply_runs_filters_and_transforms_keeping_their_side_outputs():
    docs = [toy_doc(1, "two words"), toy_doc(2, "one"), toy_doc(3, "x and more"), toy_doc(4, "fine words here")]
    ledger = Ledger()
    with TestPipeline() as p:
        kept = ledger.apply(p | beam.Create(docs), [("AtLeastTwoWords", MinWords(2)), ("SplitOnX", SplitOnX())])
        assert (len(ledger.rejected), len(ledger.errors), len(ledger.extra)) == (2, 1, 1)
        assert_that(kept | "KeptIds" >> beam.Map(lambda d: d.id), equal_to(["toy/0001", "toy/0004"]), label="kept")
        rejected = tuple(ledger.rejected) | "AllRejected" >> beam.Flatten()
        assert_that(rejected | "Reasons" >> beam.Map(lambda r: (r.doc.id, r.reason)),
                    equal_to([("toy/0002", "too_short"), ("toy/0003", "has_x")]), label="rejected")
        assert_that(ledger.errors[0], equal_to([]), label="errors")
        assert_that(ledger.extra[0], equal_to([{"split_seen": 3}]), label="extra")
