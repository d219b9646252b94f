"""Mutation fuzzing of the GitHub readers and filters (tests/fixtures/fuzz.py) on the sample's
real-format files (samples/github.py): the BigQuery JSON export (gzip), The Stack's Parquet, the
same export rows as `bq extract --destination_format AVRO` writes them, and checkout files (code
in three languages and a LICENSE, each beside the six checkout's LICENSE and code).
`FUZZ_ITERATIONS=10000` is the long run."""

from __future__ import annotations

import gzip
import io
import json
import os

import pytest

from pipeline import files
from pipeline.document import Document
from pipeline.filters import Filter
from samples.github import STACK_PATH, build
from sources.github import rules
from sources.github.checkout import _CommonDir, _detect_license_file, _repo_task, read_tree_file
from sources.github.read import is_export
from sources.github.source import GitHubSource
from tests.fixtures import fuzz
from tests.fixtures.helpers import run_source

EXPORTS = ("bigquery/github_repos-000000000000.json.gz", "bigquery/github_repos-000000000001.json.gz")
CHECKOUT = ("mirrors/benjaminp/six/LICENSE", "mirrors/benjaminp/six/six.py")  # beside every mutant
SEEDS = (*EXPORTS, STACK_PATH, *CHECKOUT, "mirrors/pallets/markupsafe/markupsafe/_speedups.c",
         "mirrors/dpkg/dpkg/sh/dpkg-error.sh", "mirrors/dpkg/dpkg/buildflags.mk")
AVRO = "bigquery/github_repos-000000000000.avro"
# An export's rows up to this size: the sample's 3.6 MB of rows, gzipped again after each mutation
# inside, cost 0.3 s a mutant; the 82 rows under 8 KB (with the sample's rows made to fail: the
# missing fields, the broken line, the binary row, the legacy code page) are 300 KB. The 2 MB
# bundle's `file_too_large` comes from the huge-field mutations instead.
ROW_BYTES = 8000
MAX_SECONDS = 5.0


def _trimmed(data: bytes) -> bytes:
    lines = gzip.decompress(data).splitlines(keepends=True)
    return gzip.compress(b"".join(line for line in lines if len(line) <= ROW_BYTES or b"legacy/" in line), mtime=0)


def _avro(export: bytes) -> bytes:
    """The export's rows in BigQuery's Avro layout: every column a nullable union, deflate blocks."""
    import fastavro

    columns = (("repo_name", "string"), ("path", "string"), ("content", "string"), ("binary", "boolean"),
               ("license", "string"))
    schema = fastavro.parse_schema({"type": "record", "name": "Root",
                                    "fields": [{"name": n, "type": ["null", t]} for n, t in columns]})
    rows = []
    for line in gzip.decompress(export).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the sample's broken line has no Avro form
        rows.append({name: record.get(name) for name, _ in columns})
    out = io.BytesIO()
    fastavro.writer(out, schema, rows, codec="deflate", sync_interval=16000)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[tuple[str, bytes]]:
    root = tmp_path_factory.mktemp("github-sample")
    build(str(root), "", seed=1234)
    found = [(rel, _trimmed(data) if rel in EXPORTS else data)
             for rel, data in fuzz.seed_files(str(root), lambda path: os.path.relpath(path, root) in SEEDS)]
    # the dpkg and markupsafe checkouts are in the sample where this machine has them
    assert {*EXPORTS, STACK_PATH, *CHECKOUT} <= {rel for rel, _ in found}
    return found + [(AVRO, _avro(dict(found)[EXPORTS[0]]))]


def _writable(record):
    """What the job writes must be UTF-8: no lone surrogate in a document."""
    if isinstance(record, Document):
        json.dumps([record.id, record.text, record.meta], ensure_ascii=False).encode("utf-8")
    return record


def read_checkout(paths: list[str]):
    """Checkout files as the job reads them (GitHubSource.expand_read's tree branch, without Beam):
    the mirror root, each folder's license from its license files, each file's repo and license."""
    combine = _CommonDir()
    root = combine.extract_output(combine.merge_accumulators([combine.add_input(None, p) for p in paths]))
    found: dict[str, list] = {}
    for path in filter(rules.is_license_file, paths):
        for folder, named in _detect_license_file(path):
            found.setdefault(folder, []).append(named)
    licensed = {folder: rules.combine_licenses(named) for folder, named in found.items()}
    for path in paths:
        yield read_tree_file(*_repo_task(path, root, licensed), GitHubSource().config.max_file_bytes)


def mutant_reader(workdir: str):
    """The reader of one mutant under `workdir`: an export by `GitHubSource.read`; any other file
    (a checkout file, or an export no longer told as one) with the checkout files beside it."""
    source = GitHubSource()

    def read(path: str):
        if is_export(path, source.record_limit):
            records = source.read(path)
        else:
            folder = os.path.join(workdir, os.path.relpath(path, workdir).split(os.sep)[0])
            records = read_checkout([p for p in files.expand_inputs(folder) if not is_export(p, source.record_limit)])
        for record in records:
            yield _writable(record)
    return read


def test_fuzz_github_reader(seeds, tmp_path):
    # every Filter step: license, file kind, extension, header, quality (DedupFiles is a Beam
    # transform, run by the job test below)
    filters = [f for _, f in GitHubSource().steps() if isinstance(f, Filter)]
    context = [(rel, data) for rel, data in seeds if rel in CHECKOUT]
    report = fuzz.fuzz(mutant_reader(str(tmp_path)), filters, seeds, str(tmp_path), count=fuzz.iterations(300),
                       seed=24, max_seconds=MAX_SECONDS, context=context)
    print("\n" + report.summary("github"), "; dropped:", dict(report.dropped.most_common()))
    assert report.failures == []
    # a reader that swallows the harness's timer (an `except Exception`) would hide a hang
    assert report.slowest[0] < MAX_SECONDS, report.slowest
    assert report.documents > report.mutants and sum(report.errors.values()) > 0


def test_fuzz_github_job_keeps_its_accounting(seeds, tmp_path):
    """The whole job (exports and checkouts told apart, the exact dedup) on 30 mutants."""
    context = [(rel, data) for rel, data in seeds if rel in CHECKOUT]
    fuzz.write_mutants(seeds, 30, seed=7, workdir=str(tmp_path / "raw"), context=context)
    stats = run_source(GitHubSource(), files.expand_inputs(str(tmp_path / "raw")), str(tmp_path / "out"))
    assert stats["documents_out"] > 0 and stats["dropped"]["duplicate"] > 0 and stats["errors"]


# --- what the fuzzing (and reading the readers for it) found ----------------------------------
def _row(**fields) -> bytes:
    base = {"repo_name": "o/r", "path": "a.py", "content": "def a():\n    return 1\n", "license": "mit"}
    return (json.dumps({**base, **fields}) + "\n").encode()


def test_an_export_whose_first_record_is_broken_is_still_an_export(tmp_path):
    """113 of 2,000 mutants of the sample's `.json.gz` exports (seed 3) were told checkout files,
    as the first record alone decided: a cut or corrupted first line, a renamed field, a gzip
    stream broken before the first line's end. Each was then one `binary` drop, its rows lost
    (15 of 2,000 are now: the ones whose gzip header is gone)."""
    rows = [_row(path=f"m{i}.py", content=f"def m{i}():\n    return {i}\n") for i in range(20)]
    cases = {"cut.json.gz": gzip.compress(rows[0][:40] + b"\n" + b"".join(rows[1:])),
             "renamed.json.gz": gzip.compress(rows[0].replace(b"repo_name", b"repo_nbme") + b"".join(rows[1:])),
             "000000000000": gzip.compress(b"".join(rows))[:30]}  # a bq shard cut in its first row
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert is_export(str(tmp_path / name), GitHubSource().record_limit), name
    kinds = {name: [getattr(r, "kind", "doc") for r in GitHubSource().read(str(tmp_path / name))] for name in cases}
    assert kinds["cut.json.gz"] == ["bad_json"] + ["doc"] * 19
    assert kinds["renamed.json.gz"] == ["missing_field"] + ["doc"] * 19
    assert kinds["000000000000"] == ["truncated_input"]
    # a checkout's own JSON-lines data (no repo names in its first records) stays a checkout file
    (tmp_path / "fixtures.jsonl").write_bytes(b"".join(json.dumps({"n": i}).encode() + b"\n" for i in range(9))
                                              + rows[0])
    assert not is_export(str(tmp_path / "fixtures.jsonl"), GitHubSource().record_limit)


def test_a_license_nested_600_deep_is_one_flat_list(tmp_path):
    """A `license` of `[[[...["mit"]...]]]`: the license filter's recursion overflowed the stack
    (RecursionError out of a Filter), and so would Beam's deepcopy of the meta."""
    import copy

    line = _row(license=None).replace(b'"license": null', b'"license": ' + b"[" * 600 + b'"mit"' + b"]" * 600)
    (tmp_path / "x.json").write_bytes(line)
    (doc,) = GitHubSource().read(str(tmp_path / "x.json"))
    assert doc.meta["license"] == ["mit"] and copy.deepcopy(doc.meta) == doc.meta
    assert rules.LicenseFilter()(doc) == (True, "")


def test_a_license_with_an_undecodable_byte_is_written_as_utf8(tmp_path):
    """An invalid byte in a row's license field reached meta as a lone surrogate, which the job
    writes as invalid UTF-8 (the repo and path were already made safe, the license was not)."""
    (tmp_path / "x.json").write_bytes(_row(license="mit").replace(b'"mit"', b'"mit\xff"')
                                      + _row(license=["MIT", "\ud800"]))
    first, second = GitHubSource().read(str(tmp_path / "x.json"))
    assert first.meta["license"] == "mit?" and second.meta["license"] == ["MIT", "?"]
    for doc in (first, second):
        doc.to_json().encode("utf-8")


def test_a_license_field_of_a_megabyte_is_not_parsed_as_an_expression():
    """A 1 MB license field took 2.3 s to normalise (4 MB ran past the harness's 5 s), 2,000
    nested parentheses 1.3 s: such a field is no SPDX expression; it is cut and unknown."""
    huge = "MIT OR " + "word " * 200_000
    assert rules.normalize_license(huge) == huge.lower()[:rules.MAX_EXPRESSION]
    assert rules.license_reason(rules.normalize_license("(" * 2000 + "mit" + ")" * 2000)) == "license_unknown"
    assert rules.normalize_license("(Apache-2.0 OR MIT) AND BSD-3-Clause") == "apache-2.0"  # parsed as before
