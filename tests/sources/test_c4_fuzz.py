"""C4's reader fuzzed (tests/fixtures/fuzz.py): mutants of the sample's released-C4 JSON shards
(gzip, truncated gzip, plain) and its WET file, read by `C4Source.read` and run through the
source's filters (the lid.176 language ID included); then the whole job on a batch of them."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from pipeline.document import stable_id
from pipeline.filters import Filter
from samples import c4 as sample
from sources.c4.source import C4Source, read_c4_json
from tests.fixtures import fuzz
from tests.fixtures.helpers import run_source
from tests.sources.test_c4 import ASSETS

SHARD, CUT = "c4-train.00000-of-01024.json.gz", "c4-train.00002-of-01024.json.gz"  # with bad lines; cut off
WET = "CC-MAIN-20190418101243-20190418123243-00000.warc.wet.gz"
PLAIN = "c4-validation.00000-of-00008.json"  # the released format uncompressed, as some mirrors hold it


def _is_record(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and isinstance(record.get("text"), str)


def shorter(lines: list[bytes]) -> list[bytes]:
    """The first lines and every bad line with its neighbours: the shard's every kind of line in
    a few dozen, so that a mutant reads in milliseconds (the default run has a time budget)."""
    bad = [i for i, line in enumerate(lines) if not _is_record(line)]
    return [line for i, line in enumerate(lines) if i < 10 or any(abs(i - b) <= 2 for b in bad)]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    raw = tmp_path_factory.mktemp("c4-raw")
    sample.build(str(raw), ASSETS, seed=7)
    found = dict(fuzz.seed_files(str(raw)))
    shard = gzip.decompress(found[SHARD]).splitlines(keepends=True)
    assert sum(not _is_record(line) for line in shard) == 4
    plain = gzip.decompress(found["c4-train.00001-of-01024.json.gz"]).splitlines(keepends=True)[:15]
    return [(SHARD, gzip.compress(b"".join(shorter(shard)), mtime=0)), (CUT, found[CUT]), (WET, found[WET]),
            (PLAIN, b"".join(plain))]


def test_fuzz_c4_reader(seeds, tmp_path):
    # PageLength, CleanPage, BadWords, LanguageId; the URL and span dedups are shuffles over the corpus.
    filters = [f for _, f in C4Source().steps() if isinstance(f, Filter)]
    assert [f.name for f in filters] == ["page_too_long", "c4_clean_page", "bad_words", "language_id"]
    report = fuzz.fuzz(C4Source().read, filters, seeds, str(tmp_path), count=fuzz.iterations(300), seed=24)
    print(report.summary("c4"))
    assert report.failures == []
    assert report.documents > 2000 and report.errors["malformed_json"] > 0 and report.errors["truncated_gzip"] > 0


def test_fuzz_c4_whole_job(seeds, tmp_path):
    paths = fuzz.write_mutants(seeds, 24, seed=2024, workdir=str(tmp_path / "raw"))
    result = run_source(C4Source(), paths, str(tmp_path / "out"))  # checks in == out + dropped + errors
    assert result["documents_out"] > 0 and result["errors"]


# --- what the fuzzing found ----------------------------------------------------------------------
def test_millions_of_blank_lines_in_a_shard_are_read_at_once(tmp_path):
    """Mutant 17 (seed 24): 1 MiB of newlines inside a gzip shard took 3.7 s read a line at a time
    (4 MiB would pass the 5 s limit); blank lines are now passed a buffer at a time, and a page's
    id, made from its line number, is what it was."""
    page = json.dumps({"text": "A page.", "url": "https://a.example/p"}).encode()
    path = tmp_path / "c4-train.00003-of-01024.json.gz"
    path.write_bytes(gzip.compress(page + b"\n" * 4_000_000 + page + b"\n  \n\n" + b'{"text": "cut\n', mtime=0))
    start = time.perf_counter()
    records = list(read_c4_json(str(path)))
    assert time.perf_counter() - start < 1.0  # 0.05 s here; a line at a time it was seconds
    assert [getattr(r, "kind", "doc") for r in records] == ["doc", "doc", "malformed_json"]
    assert records[1].id == stable_id("c4", path.name, "4000001") and records[2].input.endswith(":4000004")
