"""pipeline/stats.py: the tally of ledger entries and the invariant every job's stats keep
(documents in = out + dropped + errors)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import stats
from tests.fixtures.helpers import run_source, write_lines
from tests.fixtures.toy_source import ToyConfig, ToySource


def test_tally_counts_every_kind():
    entries = [stats.LedgerEntry("in", "", 5), stats.LedgerEntry("in", "", 0), stats.LedgerEntry("out", "", 5),
               stats.LedgerEntry("error", "bad_gzip", 0)]
    result = stats.tally("toy", entries)
    assert (result["documents_in"], result["documents_out"], result["errors"]) == (2, 1, {"bad_gzip": 1})
    stats.check_invariant(result)
    with pytest.raises(AssertionError, match="documents_in=3"):
        stats.check_invariant(stats.tally("toy", entries + [stats.LedgerEntry("in", "", 1)]))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="ab !\u00e9", max_size=12), st.just("!err")), max_size=25),
       st.integers(min_value=0, max_value=3))
def test_stats_invariant_holds_for_any_input(tmp_path_factory, lines, min_words):
    tmp = tmp_path_factory.mktemp("inv")
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    write_lines(tmp / "in.txt", lines)
    result = run_source(ToySource(ToyConfig(min_words=min_words)), [str(tmp / "in.txt")], str(tmp / "out"))
    n_lines = len((tmp / "in.txt").read_text(encoding="utf-8").split("\n")) - 1
    assert result["documents_in"] == n_lines
    assert result["documents_in"] == (result["documents_out"] + sum(result["dropped"].values())
                                      + sum(result["errors"].values()))
