"""StackExchange's reader fuzzed (tests/fixtures/fuzz.py): mutants of the sample's Posts.xml
folders and `.7z` archives, read through `read_posts`, joined into threads by `build_thread` as
the job joins them, and run through the source's filters; then the whole job on a batch of them."""

from __future__ import annotations

import collections
import time

import pytest

from pipeline.document import ErrorRecord
from pipeline.filters import Filter
from samples import stackexchange as sample
from sources.stackexchange.source import ANSWER, QUESTION, StackExchangeSource, build_thread, read_posts, thread_key
from tests.fixtures import fuzz
from tests.fixtures.helpers import run_source

# A small regular site, the broken rows, the entity bomb, a site `.7z` (Posts.xml beside Users.xml),
# stackoverflow's own `-Posts.7z` and the truncated `.7z`.
SEED_FILES = ("biology.stackexchange.com/Posts.xml", "bad.stackexchange.com/Posts.xml",
              "bomb.stackexchange.com/Posts.xml", "academia.stackexchange.com.7z", "stackoverflow.com-Posts.7z",
              "truncated.stackexchange.com.7z")
REWRITTEN = "rewritten.stackexchange.com/Posts.xml"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    raw = tmp_path_factory.mktemp("se-raw")
    sample.build(str(raw), "", seed=7)
    found = fuzz.seed_files(str(raw), keep=lambda p: p.endswith(SEED_FILES))
    assert sorted(rel for rel, _ in found) == sorted(SEED_FILES)
    # the same site as a tool that re-serialises the dump writes it: newlines in attributes literal
    regular = dict(found)[SEED_FILES[0]]
    return found + [(REWRITTEN, regular.replace(b"&#xA;", b"\n"))]


def read_threads(path: str):
    """The job's read path without Beam: posts of one input, joined into threads by question."""
    threads = collections.defaultdict(list)
    for record in read_posts(path):
        if isinstance(record, ErrorRecord):
            yield record
        elif record.get("PostTypeId") in (QUESTION, ANSWER):
            threads[thread_key(record)].append(record)
    for (site, question_id), posts in sorted(threads.items()):
        yield build_thread(site, question_id, posts)


def test_fuzz_stackexchange_reader(seeds, tmp_path):
    # KeepLargestSites ranks sites over the whole corpus (a Beam step); the per-thread filters run here.
    filters = [f for _, f in StackExchangeSource().steps() if isinstance(f, Filter)]
    report = fuzz.fuzz(read_threads, filters, seeds, str(tmp_path), count=fuzz.iterations(300), seed=24)
    print(report.summary("stackexchange"))
    assert report.failures == []
    assert report.documents > 400 and report.errors["malformed_row"] > 0 and report.errors["bad_archive"] > 0


def test_fuzz_stackexchange_whole_job(seeds, tmp_path):
    paths = fuzz.write_mutants(seeds, 28, seed=2024, workdir=str(tmp_path / "raw"))
    result = run_source(StackExchangeSource(), paths, str(tmp_path / "out"))  # checks in == out + dropped + errors
    assert result["documents_out"] > 0 and result["errors"]


# --- what the fuzzing found ----------------------------------------------------------------------
def test_millions_of_newlines_in_and_between_rows_are_read_at_once(tmp_path):
    """Mutant 102 (seed 24): 4 MiB of newlines inside a row took over 5 s once rows were joined
    over lines (and 2 s between rows before that); runs of blank lines are now read a buffer at
    a time, and line numbers still count every line."""
    path = tmp_path / "cooking.stackexchange.com" / "Posts.xml"
    path.parent.mkdir()
    path.write_bytes(b'<posts>\n  <row Id="1" PostTypeId="1" Title="T" Body="a' + b"\n" * 3_000_000 + b'b" />\n'
                     + b"\n" * 3_000_000 + b'  <row Id="2" PostTypeId="1" Title="U" Body="' + b"\n" * 5_000_000
                     + b'" />\n<!DOCTYPE posts>\n  <row Id="3" PostTypeId="1" Title="V" Body="c" />\n')
    start = time.perf_counter()
    records = list(read_posts(str(path)))
    assert time.perf_counter() - start < 1.0  # 0.02 s here; line by line it was seconds
    assert [getattr(r, "kind", None) for r in records] == [None, "row_too_large", "xml_dtd_rejected", None]
    assert records[0]["Body"] == "a" + " " * 3_000_000 + "b" and records[3]["Id"] == "3"
    assert records[1].input.endswith(":6000003") and records[2].input.endswith(f":{6_000_003 + 5_000_001}")
