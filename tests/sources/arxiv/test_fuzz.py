"""Mutation fuzzing of the arXiv reader and its cleaning steps (tests/fixtures/fuzz.py), on the
sample's real-format files: the bulk `arXiv_src_*.tar`s, single e-prints as `.gz` (a gzipped
`.tex`) and `.tar.gz` (a gzipped tar, one with a 00README.json), one saved under its bare id,
and the sample's hostile papers (`\\def\\a{\\a\\a}`, `\\input{/etc/passwd}`, a `../` member,
Latin-1, a corrupt gzip) taken out of the bulk tar as single `.gz` e-prints, so that mutations
inside their gzip reach the LaTeX. `FUZZ_ITERATIONS=10000` makes it the long run."""

from __future__ import annotations

import io
import os
import tarfile
import time

import pytest

from pipeline.filters import Filter
from sources.arxiv import archive
from sources.arxiv.source import ArxivSource, read_papers
from tests.fixtures import fuzz
from tests.fixtures.helpers import run_source

# The sample bulk tar's members taken out as single e-prints: the hostile papers of
# samples/arxiv.py `_special_papers` (2301.00101..00108), a gzipped tar with an `\input`
# (2301.00001) and a gzipped single `.tex` (2301.00002).
SINGLE_MEMBERS = ["2301/2301.00001.gz", "2301/2301.00002.gz"] + [f"2301/2301.{k:05d}.gz" for k in range(101, 109)]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[tuple[str, bytes]]:
    from pipeline.assets import asset_path
    from samples import arxiv as sample

    raw = tmp_path_factory.mktemp("arxiv_sample")
    sample.build(str(raw), os.path.dirname(asset_path("lid.176.ftz")), seed=1)
    found = fuzz.seed_files(str(raw))
    with tarfile.open(raw / "arXiv_src_2301_001.tar") as tar:
        found += [(f"eprints/{os.path.basename(name)}", tar.extractfile(name).read()) for name in SINGLE_MEMBERS]
    return found


def _filters() -> list[Filter]:
    # All of the source's steps, language detection included: lid.176 is a local 1 MB asset.
    return [f for _, f in ArxivSource().steps() if isinstance(f, Filter)]


def test_seeds_cover_every_format(seeds):
    names = [rel for rel, _ in seeds]
    assert {"arXiv_src_2301_001.tar", "arXiv_src_0501_001.tar", "singles/2302.00004"} <= set(names)
    assert any(n.endswith(".tar.gz") for n in names) and len([n for n in names if n.startswith("eprints/")]) == 10
    with tarfile.open(fileobj=io.BytesIO(archive.gunzip(dict(seeds)["singles/2302.00003.tar.gz"]))) as tar:
        assert "00README.json" in tar.getnames()


def test_fuzz_arxiv_reader(seeds, tmp_path):
    start = time.perf_counter()
    report = fuzz.fuzz(read_papers, _filters(), seeds, str(tmp_path), count=fuzz.iterations(300), seed=24)
    print("\n" + report.summary("arxiv") + f"; {time.perf_counter() - start:.0f}s in all")
    assert report.failures == []
    assert report.mutants == fuzz.iterations(300) and report.documents > 0
    assert report.errors["bad_gzip"] > 0  # the mutations reach the layers they are meant to


def test_fuzz_arxiv_job_keeps_its_accounting(seeds, tmp_path):
    paths = fuzz.write_mutants(seeds, 32, seed=2024, workdir=str(tmp_path / "mutants"))
    stats = run_source(ArxivSource(), paths, str(tmp_path / "out"))  # checks in == out + dropped + errors
    assert stats["documents_in"] >= len(paths) and stats["documents_out"] > 0
