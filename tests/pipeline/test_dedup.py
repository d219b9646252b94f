"""pipeline/dedup.py: exact dedup keeps the lowest id; repeated spans go across documents."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import files
from pipeline.dedup import ExactDedup, RemoveRepeatedSpans
from pipeline.document import Document
from tests.fixtures.helpers import toy_doc


def test_exact_dedup_keeps_lowest_id():
    docs = [toy_doc(3, "same"), toy_doc(1, "same"), toy_doc(2, "other"), toy_doc(4, "same")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | ExactDedup(lambda d: d.text)
        assert_that(out["kept"] | "K" >> beam.Map(lambda d: d.id), equal_to(["toy/0001", "toy/0002"]), label="k")
        assert_that(out["rejected"] | "R" >> beam.Map(lambda r: (r.doc.id, r.doc.meta["duplicate_of"])),
                    equal_to([("toy/0003", "toy/0001"), ("toy/0004", "toy/0001")]), label="r")


def test_exact_dedup_accounts_for_equal_ids():
    docs = [toy_doc(1, "same"), toy_doc(1, "same"), toy_doc(1, "same")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | ExactDedup(lambda d: d.text)
        assert_that(out["kept"] | "K" >> beam.Map(lambda d: d.id), equal_to(["toy/0001"]), label="k")
        assert_that(out["rejected"] | "R" >> beam.Map(lambda r: r.doc.id), equal_to(["toy/0001"] * 2), label="r")


def _line_spans(d):
    return [(files.stable_hash64(line), i) for i, line in enumerate(d.text.split("\n"))]


def _drop_lines(d, positions):
    lines = [line for i, line in enumerate(d.text.split("\n")) if i not in positions]
    return Document(d.id, "\n".join(lines), d.source, d.meta)


@pytest.mark.parametrize("keep_first,expected", [
    (False, {"toy/0001": "a", "toy/0002": "b"}),  # CCNet: every copy of a repeated line goes
    (True, {"toy/0001": "a\nboiler", "toy/0002": "b"}),  # C4: the first copy (lowest id) survives
])
def test_remove_repeated_spans(keep_first, expected):
    docs = [toy_doc(1, "a\nboiler"), toy_doc(2, "boiler\nb"), toy_doc(3, "boiler")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | RemoveRepeatedSpans(_line_spans, _drop_lines, keep_first=keep_first)
        assert_that(out["kept"] | "K" >> beam.Map(lambda d: (d.id, d.text)),
                    equal_to(sorted(expected.items())), label="k")
        assert_that(out["rejected"] | "R" >> beam.Map(lambda r: (r.doc.id, r.reason)),
                    equal_to([("toy/0003", "empty_after_dedup")]), label="r")
