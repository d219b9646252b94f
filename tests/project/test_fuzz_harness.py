"""The fuzz harness (tests/fixtures/fuzz.py) finds what it is for: exceptions, hangs, reads
outside the input, memory growth; and its mutants are seeded and reach inside compressed files."""

from __future__ import annotations

import gzip
import time

from pipeline.document import Document, ErrorRecord
from pipeline.filters import Filter, RecordError
from tests.fixtures import fuzz

SEEDS = [("a/page.txt.gz", gzip.compress(b"line one\nline two\n" * 20)), ("b.txt", b"plain text " * 50)]


def _read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except Exception as exc:
            yield ErrorRecord.of("toy", path, "bad_gzip", exc)
            return
    for n, part in enumerate(data.split(b"\n\n", 3)[:3]):
        yield Document(f"toy/{n}", part.decode("utf-8", "replace"), "toy")


class Picky(Filter):
    name = "picky"

    def filter(self, doc):
        if "\ufffd" in doc.text:
            raise RecordError("undecodable", "replacement character")
        return len(doc.text) > 3


def test_mutants_are_seeded_and_of_every_kind():
    first = list(fuzz.mutants(SEEDS, 200, seed=7))
    assert first == list(fuzz.mutants(SEEDS, 200, seed=7))
    assert first != list(fuzz.mutants(SEEDS, 200, seed=8))
    kinds = {label.split(": ", 1)[1].split(":")[0] for label, _, _ in first}
    assert {k for k in fuzz.MUTATIONS} <= {k.removesuffix(" inside") for k in kinds}
    assert any("inside" in label for label, rel, _ in first if rel.endswith(".gz"))
    # a change inside a gzip is compressed again: the mutant is still a gzip file
    inside = [data for label, rel, data in first if rel.endswith(".gz") and "inside" in label]
    assert all(gzip.decompress(data) is not None for data in inside)


def test_a_sound_reader_passes_and_errors_are_counted(tmp_path):
    report = fuzz.fuzz(_read_lines, [Picky()], SEEDS, str(tmp_path), count=120, seed=1)
    assert report.failures == []
    assert report.mutants == 120 and report.documents > 0
    assert report.errors["undecodable"] > 0 and report.errors["bad_gzip"] > 0


def test_an_escaping_exception_is_a_failure(tmp_path):
    def crashes(path):
        yield from _read_lines(path)
        raise ValueError("reader bug")

    report = fuzz.fuzz(crashes, [], SEEDS, str(tmp_path), count=3)
    assert len(report.failures) == 3 and "ValueError: reader bug" in report.failures[0]


def test_a_hang_is_cut_and_reported(tmp_path):
    def hangs(path):
        while True:
            time.sleep(0.01)
        yield

    report = fuzz.fuzz(hangs, [], SEEDS, str(tmp_path), count=1, max_seconds=0.3)
    assert len(report.failures) == 1 and "did not finish in 1.2s" in report.failures[0]


def test_a_slow_mutant_is_reported_by_its_cpu_time(tmp_path):
    def spins(path):
        end = time.process_time() + 0.8
        while time.process_time() < end:
            pass
        yield Document("toy/x", "done", "toy")

    report = fuzz.fuzz(spins, [], SEEDS, str(tmp_path), count=1, max_seconds=0.5)
    assert len(report.failures) == 1 and "s of CPU, over 0.5s" in report.failures[0]


def test_a_read_outside_the_input_is_a_failure(tmp_path):
    secret = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    secret.write_text("not yours")

    def wanders(path):
        with open(secret, encoding="utf-8") as f:
            yield Document("toy/x", f.read(), "toy")

    report = fuzz.fuzz(wanders, [], SEEDS, str(tmp_path / "work"), count=1)
    assert len(report.failures) == 1 and "outside its input" in report.failures[0]


def test_memory_growth_is_a_failure(tmp_path):
    def hoards(path):
        blob = bytearray(200 * 2**20)  # touched, so it counts in the peak
        blob[:: 4096] = b"x" * len(blob[:: 4096])
        yield Document("toy/x", str(len(blob)), "toy")

    report = fuzz.fuzz(hoards, [], SEEDS, str(tmp_path), count=1, max_growth_mb=50)
    assert len(report.failures) == 1 and "peak memory grew" in report.failures[0]


def test_write_mutants_puts_context_beside_each(tmp_path):
    paths = fuzz.write_mutants(SEEDS, 4, 3, str(tmp_path), context=[("meta.csv", b"id\n")])
    assert len(paths) == 4
    for path in paths:
        assert (tmp_path / path.split("/")[len(str(tmp_path).split("/"))] / "meta.csv").exists()


def test_a_document_that_is_not_utf8_is_a_failure(tmp_path):
    def escapes(path):
        with open(path, "rb") as f:
            yield Document("toy/x", f.read().decode("utf-8", "surrogateescape"), "toy")

    report = fuzz.fuzz(escapes, [], [("b.txt", b"caf\xe9")], str(tmp_path), count=40, seed=2)
    assert any("not valid UTF-8" in failure for failure in report.failures)
