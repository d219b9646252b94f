"""The job's accounting: every document that came in is out, dropped (by reason) or an error.

Stages emit `LedgerEntry` tuples; `Tally` combines them into the `stats.json` dict of the
README ("What is on disk"). Counting from the data (not from runner metrics) makes the numbers the
same on every runner.
"""

from __future__ import annotations

import json
from typing import Iterable, NamedTuple

import apache_beam as beam


class LedgerEntry(NamedTuple):
    kind: str  # "in" | "out" | "dropped" | "error"
    reason: str
    chars: int


def empty_stats(source: str) -> dict:
    return {
        "source": source,
        "documents_in": 0,
        "documents_out": 0,
        "dropped": {},
        "errors": {},
        "chars_in": 0,
        "chars_out": 0,
        "chars_dropped": {},
    }


def tally(source: str, entries: Iterable[LedgerEntry]) -> dict:
    """The plain-Python form of the tally (Beam's `Tally` uses the same add/merge)."""
    combiner = TallyFn(source)
    acc = combiner.create_accumulator()
    for entry in entries:
        acc = combiner.add_input(acc, entry)
    return combiner.extract_output(acc)


class TallyFn(beam.CombineFn):
    def __init__(self, source: str):
        self.source = source

    def create_accumulator(self):
        return empty_stats(self.source)

    def add_input(self, acc, entry):
        kind, reason, chars = entry
        if kind == "in":
            acc["documents_in"] += 1
            acc["chars_in"] += chars
        elif kind == "out":
            acc["documents_out"] += 1
            acc["chars_out"] += chars
        elif kind == "dropped":
            acc["dropped"][reason] = acc["dropped"].get(reason, 0) + 1
            acc["chars_dropped"][reason] = acc["chars_dropped"].get(reason, 0) + chars
        elif kind == "error":
            acc["errors"][reason] = acc["errors"].get(reason, 0) + 1
        else:
            raise ValueError(f"unknown ledger entry kind {kind!r}")
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for acc in accs:
            for key in ("documents_in", "documents_out", "chars_in", "chars_out"):
                out[key] += acc[key]
            for key in ("dropped", "errors", "chars_dropped"):
                for reason, n in acc[key].items():
                    out[key][reason] = out[key].get(reason, 0) + n
        return out

    def extract_output(self, acc):
        for key in ("dropped", "errors", "chars_dropped"):
            acc[key] = dict(sorted(acc[key].items()))
        return acc


def check_invariant(stats: dict) -> None:
    """Raises if a document vanished: in == out + dropped + errors."""
    accounted = stats["documents_out"] + sum(stats["dropped"].values()) + sum(stats["errors"].values())
    if stats["documents_in"] != accounted:
        raise AssertionError(
            f"{stats['source']}: documents_in={stats['documents_in']} but out+dropped+errors={accounted}"
        )


def dumps(stats: dict) -> str:
    return json.dumps(stats, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


class SumCounts(beam.CombineFn):
    """Sums `{key: n}` dicts: what a source adds to stats.json (lines removed per rule, ...)."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, counts):
        for key, n in counts.items():
            acc[key] = acc.get(key, 0) + n
        return acc

    def merge_accumulators(self, accs):
        out: dict = {}
        for acc in accs:
            self.add_input(out, acc)
        return out

    def extract_output(self, acc):
        return dict(sorted(acc.items()))
