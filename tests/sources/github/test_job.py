"""The GitHub job end to end: checkouts and exports together, the real sample, alternate export layouts."""

from __future__ import annotations

import gzip
import json
import os
import re

from pipeline import files
from samples.github import STACK_ROWS, build
from sources.github import rules
from sources.github.source import GitHubSource
from tests.fixtures.github import COMMON, GPL_C, MIT_TEXT, REDPAJAMA, THE_STACK, record
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source

# A kept file must not open with a license notice comment (shebang or code may come first).
STRONG_HEADER = re.compile(r"^\s*(#|//|/\*|\*|--|<!--)\s*(copyright|licensed under|spdx)", re.I | re.M)


PY_MIT = "# Copyright (c) 2020 A\n# Licensed under the MIT license.\n\ndef add(a, b):\n    return a + b\n"
PY_APACHE = "# Copyright 2021 B\n# Licensed under the Apache License, Version 2.0.\n\ndef add(a, b):\n    return a + b\n"


def test_end_to_end_mirrors_and_export(tmp_path):
    mirrors = tmp_path / "raw"
    for repo, license_name, repo_files in [
        ("zeta/lib", "Apache-2.0", {"util.py": PY_APACHE, "img.png": "\x89PNG\x00\x00"}),
        ("alpha/lib", None, {"LICENSE": MIT_TEXT, "add.py": PY_MIT, "notes.txt": "notes\n"}),
        ("gnu/tool", "GPL-3", {"main.c": GPL_C}),
        ("nolicense/x", None, {"x.py": "def x():\n    return 1\n"}),
    ]:
        base = mirrors / "mirrors" / repo
        os.makedirs(base)
        if license_name:
            (base / "COPYING").write_bytes(open(os.path.join(COMMON, license_name), "rb").read())
        for name, text in repo_files.items():
            (base / name).write_bytes(text.encode("latin-1" if name.endswith(".png") else "utf-8"))
    with gzip.open(mirrors / "github-000.json.gz", "wb") as f:
        f.write(record(repo_name="b/exported", path="k.go", content="package k\n\nfunc K() int { return 1 }\n",
                       license="bsd-3-clause"))
        f.write(record(repo_name="b/exported", path="lgpl.py", content="x = 1\n", license="lgpl-2.1"))
        f.write(record(repo_name="b/exported", path="missing.py", license="mit"))
    inputs = sorted(str(p) for p in mirrors.rglob("*") if p.is_file())
    stats = run_source(GitHubSource(), inputs, str(tmp_path / "out"))
    assert stats["documents_in"] == 12 and stats["documents_out"] == 2
    assert stats["errors"] == {"missing_field": 1}
    assert stats["dropped"] == {"license_gpl": 2, "license_lgpl": 1, "license_none": 1, "license_file": 2,
                                "binary": 1, "extension_not_allowed": 1, "duplicate": 1}
    docs = {d["id"]: d for d in clean_docs(str(tmp_path / "out"), "github")}
    assert sorted(docs) == ["github/alpha/lib/add.py", "github/b/exported/k.go#" + next(
        i.split("#")[1] for i in docs if i.startswith("github/b/"))]
    kept = docs["github/alpha/lib/add.py"]
    assert kept["text"] == "def add(a, b):\n    return a + b\n"
    assert kept["meta"] == {"repo": "alpha/lib", "path": "add.py", "license": "mit", "language": "python"}
    rejected = {r["id"]: r for r in read_jsonl_gz(str(tmp_path / "out" / "rejected" / "github" / "*.jsonl.gz"))}
    assert rejected["github/zeta/lib/util.py"]["drop_reason"] == "duplicate"
    assert rejected["github/zeta/lib/util.py"]["meta"]["duplicate_of"] == "github/alpha/lib/add.py"


def test_sample_build_and_job(tmp_path):
    """The real sample: every license family present is counted, kept files carry the meta and
    no kept file still opens with a license comment."""
    build(str(tmp_path / "raw"), "", seed=1234)
    stats = run_source(GitHubSource(), files.expand_inputs(str(tmp_path / "raw")), str(tmp_path / "out"))
    for reason in ("license_gpl", "license_lgpl", "license_mpl", "license_isc", "license_unknown", "license_none",
                   "duplicate", "binary", "not_utf8", "file_too_large", "mean_line_length", "max_line_length"):
        assert stats["dropped"].get(reason, 0) >= 1, reason
    # two BigQuery rows missing a field and The Stack shard's null-content row; one broken line
    assert stats["errors"] == {"missing_field": 3, "bad_json": 1}
    docs = clean_docs(str(tmp_path / "out"), "github")
    assert len(docs) == stats["documents_out"] > 50
    stack_shard = "train-00000-of-00001.parquet"
    errors = read_jsonl_gz(str(tmp_path / "out" / "errors" / "github" / "*.jsonl.gz"))
    assert [e["kind"] for e in errors if stack_shard in e["input"]] == ["missing_field"]
    stack = {(d["meta"]["repo"], d["meta"]["path"]): d["meta"]["license"] for d in docs
             if d["meta"]["repo"] in {row[2] for row in STACK_ROWS}}
    assert stack == {(repo, path): rules.normalize_license(licenses)
                     for _, _, repo, path, licenses, _ in STACK_ROWS if "LGPL-2.1-or-later" not in licenses}
    rejected = read_jsonl_gz(str(tmp_path / "out" / "rejected" / "github" / "*.jsonl.gz"))
    assert [r["drop_reason"] for r in rejected if r["meta"]["repo"] == "miurahr/multivolumefile"] == ["license_lgpl"]
    for d in docs:
        assert set(d["meta"]) == {"repo", "path", "license", "language"}
        assert d["meta"]["license"] in rules.PERMISSIVE
        head = "\n".join(d["text"].splitlines()[:3])
        assert not STRONG_HEADER.search(head), (d["id"], head)


GITHUB_CODE = {"repo_name": "o/github-code", "path": "mul.py", "code": "def mul(a, b):\n    return a * b\n",
               "language": "Python", "license": "apache-2.0", "size": 32}


def test_alternate_export_layouts_end_to_end(tmp_path):
    """The Stack / StarCoder rows (`max_stars_*`, a license list), RedPajama's github JSONL (`text`,
    fields under `meta`) and codeparrot's github-code (`code`) are read, not one dropped 'file'."""
    raw = tmp_path / "raw"
    raw.mkdir()
    gpl_row = dict(THE_STACK, max_stars_repo_path="gpl.py", content="def gpl():\n    return 3\n",
                   max_stars_repo_licenses=["MIT", "GPL-3.0-only"])
    (raw / "the-stack-00000.jsonl").write_bytes((json.dumps(THE_STACK) + "\n" + json.dumps(gpl_row) + "\n").encode())
    with gzip.open(raw / "redpajama-github.jsonl.gz", "wb") as f:
        f.write((json.dumps(REDPAJAMA) + "\n").encode())
    (raw / "github-code.json").write_bytes((json.dumps(GITHUB_CODE) + "\n").encode())
    stats = run_source(GitHubSource(), files.expand_inputs(str(raw)), str(tmp_path / "out"))
    assert stats["documents_in"] == 4 and stats["errors"] == {} and stats["dropped"] == {"license_gpl": 1}
    docs = {d["meta"]["repo"]: d for d in clean_docs(str(tmp_path / "out"), "github")}
    assert {r: (d["meta"]["path"], d["meta"]["license"]) for r, d in docs.items()} == {
        "o/stack": ("src/add.py", "mit"), "o/redpajama": ("sub.py", "bsd-3-clause"),
        "o/github-code": ("mul.py", "apache-2.0")}
    assert docs["o/redpajama"]["text"] == REDPAJAMA["text"]
