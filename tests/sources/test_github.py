"""GitHub source: one test per rule, per license family, per header syntax, and bad input."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import files
from pipeline.document import Document, ErrorRecord
from pipeline.filters import run_filters
from sources.github import rules
from sources.github.source import GitHubConfig, GitHubSource, _repo_task, decode_content, is_export
from samples.github import STACK_ROWS, build
from sources.github.headers import strip_header
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source

COMMON = "/usr/share/common-licenses"
# A kept file must not open with a license notice comment (shebang or code may come first).
STRONG_HEADER = re.compile(r"^\s*(#|//|/\*|\*|--|<!--)\s*(copyright|licensed under|spdx)", re.I | re.M)


def doc(text="int main(void) { return 0; }\n", path="src/main.c", license="mit", **meta):
    return Document(id=f"github/o/r/{path}", text=text, source="github",
                    meta={"repo": "o/r", "path": path, "license": license, **meta})


# --- licenses ---------------------------------------------------------------------------------
@pytest.mark.parametrize("license_id, reason", [
    ("mit", None), ("apache-2.0", None), ("bsd-2-clause", None), ("bsd-3-clause", None),
    ("gpl-2.0", "license_gpl"), ("gpl-3.0", "license_gpl"), ("lgpl-2.1", "license_lgpl"),
    ("lgpl-3.0", "license_lgpl"), ("agpl-3.0", "license_agpl"), ("mpl-2.0", "license_mpl"),
    ("epl-1.0", "license_epl"), ("isc", "license_isc"), ("unlicense", "license_unlicense"),
    ("cc0-1.0", "license_cc0"), ("artistic-2.0", "license_artistic"), ("wtfpl", "license_unknown"),
    ("other", "license_unknown"), (None, "license_none"), ("", "license_none"),
])
def test_license_family(license_id, reason):
    keep, why = rules.LicenseFilter()(doc(license=license_id))
    assert (keep, why) == ((True, "") if reason is None else (False, reason))


@pytest.mark.parametrize("raw, expected", [
    ("Apache 2.0", "apache-2.0"), ("MIT License", "mit"), ("BSD-3-Clause", "bsd-3-clause"),
    ("GPL-3.0-or-later", "gpl-3.0"), ("LGPL-2.1+", "lgpl-2.1"), ("GPL-2.0-only", "gpl-2.0"),
    ("Apache-2.0 OR BSD-3-Clause", "apache-2.0"), ("MPL-1.1 OR GPL-2.0-only", "mpl-1.1"),
    ("MIT AND GPL-2.0-only", "gpl-2.0"), ("null", None), (None, None),
])
def test_normalize_license(raw, expected):
    assert rules.normalize_license(raw) == expected


@pytest.mark.parametrize("name, expected", [
    ("Apache-2.0", "apache-2.0"), ("GPL-2", "gpl-2.0"), ("GPL-3", "gpl-3.0"), ("LGPL-2.1", "lgpl-2.1"),
    ("LGPL-3", "lgpl-3.0"), ("MPL-2.0", "mpl-2.0"), ("BSD", "bsd-3-clause"), ("CC0-1.0", "cc0-1.0"),
])
def test_detect_license_from_real_license_texts(name, expected):
    with open(os.path.join(COMMON, name), encoding="utf-8") as f:
        assert rules.detect_license(f.read()) == expected


MIT_TEXT = ("MIT License\n\nCopyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge, to any "
            "person obtaining a copy\nof this software and associated documentation files (the \"Software\")...")
BSD2_TEXT = ("Copyright (c) 2019, A\nAll rights reserved.\n\nRedistribution and use in source and binary forms, with "
             "or without\nmodification, are permitted provided that the following conditions are met:\n\n1. "
             "Redistributions of source code must retain the above copyright notice.\n2. Redistributions in binary "
             "form must reproduce the above copyright notice.\n\nTHIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS")


@pytest.mark.parametrize("text, expected", [
    (MIT_TEXT, "mit"), (BSD2_TEXT, "bsd-2-clause"),
    ("                    GNU AFFERO GENERAL PUBLIC LICENSE\n                       Version 3", "agpl-3.0"),
    ("ISC License\n\nPermission to use, copy, modify, and/or distribute this software for any purpose\nwith or "
     "without fee is hereby granted, provided that the above copyright notice", "isc"),
    ("This is free and unencumbered software released into the public domain.", "unlicense"),
    ("All the code here is mine. Do not copy.", "unknown"),
])
def test_detect_license_short_texts(text, expected):
    assert rules.detect_license(text) == expected


def test_combine_licenses_is_conservative():
    assert rules.combine_licenses([("LICENSE-MIT", "mit"), ("LICENSE-APACHE", "apache-2.0")]) == "apache-2.0"
    assert rules.combine_licenses([("LICENSE", "mit"), ("COPYING", "gpl-3.0")]) == "gpl-3.0"


# --- file kind, extensions, quality -----------------------------------------------------------------
def test_decode_content_problems():
    assert decode_content(b"x = 1\n", 100) == ("x = 1\n", None)
    assert decode_content(b"\xef\xbb\xbfx = 1\n", 100) == ("x = 1\n", None)  # BOM dropped
    assert decode_content(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 100)[1] == "binary"
    assert decode_content(b"caf\xe9 = 1\n", 100)[1] == "not_utf8"
    assert decode_content(b"x" * 101, 100) == ("", "file_too_large")
    assert decode_content(b"  \n", 100) == ("", "empty")


def test_file_kind_filter_drops_flags_and_license_files():
    assert rules.FileKindFilter()(doc(problem="binary")) == (False, "binary")
    assert rules.FileKindFilter()(doc(path="LICENSE.md")) == (False, "license_file")
    flagged = doc()
    assert rules.FileKindFilter()(flagged) == (True, "") and "problem" not in flagged.meta


@pytest.mark.parametrize("path, language", [
    ("a/b.py", "python"), ("Makefile", "makefile"), ("x/Dockerfile", "dockerfile"), ("k.C", "c++"),
    ("lib.rs", "rust"), ("q.sql", "sql"), ("README.md", "markdown"), ("run.sh", "shell"),
])
def test_extension_allowed_sets_language(path, language):
    d = doc(path=path)
    assert rules.ExtensionFilter()(d) == (True, "") and d.meta["language"] == language


@pytest.mark.parametrize("path", ["data.csv", "image.png", "LICENSE", "notes.txt", "pkg.json"])
def test_extension_not_allowed(path):
    assert rules.ExtensionFilter()(doc(path=path)) == (False, "extension_not_allowed")


def test_max_line_length():
    q = rules.QualityFilter()
    assert q(doc("x = 1\n" * 50 + "y = '" + "a" * 994 + "'\n"))[0]  # exactly 1,000
    assert q(doc("x = 1\n" * 50 + "y = '" + "a" * 995 + "'\n")) == (False, "max_line_length")


def test_mean_line_length():
    assert rules.QualityFilter()(doc(("v" * 150 + "\n") * 20)) == (False, "mean_line_length")


def test_alphanumeric_fraction():
    assert rules.QualityFilter()(doc("{[(<>)]} -- == ++ ;;\n" * 30)) == (False, "alphanumeric_fraction")
    assert rules.QualityFilter()(doc("def f(x):\n    return x + 1\n"))[0]


def test_minified_javascript_is_dropped():
    minified = "!function(e,t){" + ";".join(f"var a{i}=e.b{i}(t,{i})" for i in range(200)) + "}(window);\n"
    d = doc(minified, path="dist/app.min.js")
    _, rejected = run_filters([rules.ExtensionFilter(), rules.HeaderFilter(), rules.QualityFilter()], [d])
    assert [r.reason for r in rejected] == ["max_line_length"]


# --- headers ------------------------------------------------------------------------------------
GPL_C = """/*
 * Copyright (C) 2001 Someone <a@b.c>
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License version 2.
 */
#include <stdio.h>
#define ANSWER 42

int main(void) { return ANSWER; }
"""


def test_header_c_block_removed_include_kept():
    assert strip_header(GPL_C, "c") == "#include <stdio.h>\n#define ANSWER 42\n\nint main(void) { return ANSWER; }\n"


def test_header_c_spdx_line_and_block():
    text = "// SPDX-License-Identifier: MIT\n/*\n * linux/kernel/fork.c\n *\n *  Copyright (C) 1991  Linus\n */\n\n#include <x.h>\n"
    assert strip_header(text, "c") == "#include <x.h>\n"


def test_header_go_keeps_package_doc():
    text = ("// Copyright 2009 The Go Authors. All rights reserved.\n// Use of this source code is governed by a "
            "BSD-style\n// license that can be found in the LICENSE file.\n\n// Package fmt formats.\npackage fmt\n")
    assert strip_header(text, "go") == "// Package fmt formats.\npackage fmt\n"


def test_header_python_keeps_shebang_coding_and_docstring():
    text = ("#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# Copyright 2020 Google LLC\n#\n# Licensed under the "
            "Apache License, Version 2.0 (the \"License\");\n# you may not use this file except in compliance.\n\n"
            "\"\"\"Tools for X.\"\"\"\nimport os\n")
    assert strip_header(text, "python") == "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\"\"\"Tools for X.\"\"\"\nimport os\n"


def test_header_python_license_docstring_removed_doc_docstring_kept():
    license_doc = '"""\nCopyright (c) 2015 A\nReleased under the MIT license.\n"""\nimport os\n'
    assert strip_header(license_doc, "python") == "import os\n"
    api_doc = '"""\nrequests.api\n\nThis module implements the API.\n\n:copyright: (c) 2012 by K.\n:license: Apache2.\n"""\nimport os\n'
    assert strip_header(api_doc, "python") == '"""\nrequests.api\n\nThis module implements the API.\n"""\nimport os\n'
    closing = '"""Tools.\n\n:license: MIT."""\nimport os\n'  # the field holds the closing quotes: kept
    assert strip_header(closing, "python") == closing


def test_header_shell_keeps_shebang_and_directive():
    text = ("#!/bin/sh\n#\n# Copyright (c) 2010 R\n#\n# This program is free software; you can redistribute it\n"
            "# under the terms of the GNU General Public License.\n#\n# shellcheck shell=sh\n\nset -e\necho hi\n")
    assert strip_header(text, "shell") == "#!/bin/sh\n# shellcheck shell=sh\n\nset -e\necho hi\n"


def test_header_sql_line_and_block_comments():
    text = "-- Copyright 2021 X\n-- Licensed under the MIT license.\n\n/* Copyright 2022 Y */\nSELECT 1;\n"
    assert strip_header(text, "sql") == "SELECT 1;\n"


def test_header_lisp_keeps_description_and_author():
    text = (";;; foo.el --- Frobnicate things  -*- lexical-binding: t -*-\n\n;; Copyright (C) 2020  Me\n\n"
            ";; Author: Me <me@x.org>\n\n;; This program is free software; you can redistribute it and/or modify\n"
            ";; it under the terms of the GNU General Public License.\n\n(defun foo () 1)\n")
    assert strip_header(text, "emacs-lisp") == (";;; foo.el --- Frobnicate things  -*- lexical-binding: t -*-\n\n"
                                               ";; Author: Me <me@x.org>\n\n(defun foo () 1)\n")


def test_header_html_comment_removed_doctype_kept():
    text = "<!DOCTYPE html>\n<!--\n  Copyright 2019 X. Licensed under the MIT License.\n-->\n<html><body>Hi</body></html>\n"
    assert strip_header(text, "html") == "<!DOCTYPE html>\n<html><body>Hi</body></html>\n"


@pytest.mark.parametrize("text, language", [
    ("#include <stdio.h>\n/* Copyright 2020 X */\nint x;\n", "c"),
    ("#define X 1\nint y = X;\n", "c++"),
    ("#!/usr/bin/env bash\necho hello\n", "shell"),
    ("#!/usr/bin/env python3\nimport sys\n", "python"),
    ("# Title\n\nCopyright and license are discussed below.\n", "markdown"),
    ("# Compute the thing.\nimport os\n", "python"),
    ("/* Copyright 2020 X", "c"),  # unterminated: left alone
    ("/* Copyright 2020 X */ int x;\n", "c"),  # code on the closing line: left alone
    ("// A helper for strings.\nfunction f() {}\n", "javascript"),
])
def test_header_must_keep(text, language):
    assert strip_header(text, language) == text


def test_header_filter_drops_license_only_files():
    d = doc("/* Copyright 2020 X. All rights reserved. */\n", path="empty.c", language="c")
    assert rules.HeaderFilter()(d) == (False, "empty_after_header")


# --- reading: bad input counted, never a crash ------------------------------------------------------
def record(**fields):
    return (json.dumps(fields) + "\n").encode()


def test_parse_record_bad_inputs():
    s = GitHubSource(GitHubConfig(max_file_bytes=1000))
    good = s.parse_record(record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit"), "e.json:1")
    assert isinstance(good, Document) and good.meta == {"repo": "o/r", "path": "a.py", "license": "mit"}
    assert good.id.startswith("github/o/r/a.py#")
    again = s.parse_record(record(repo_name="o/r", path="a.py", content="x = 1\n"), "other.json:1")
    assert again.id != good.id  # the same repo/path in another export file: still a unique id
    moved = s.parse_record(record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit"),
                           "gs://bucket/raw/e.json:1")
    assert moved.id == good.id  # the same file elsewhere (local, gs://): the same id
    errors = [s.parse_record(line, "e.json:2") for line in (
        record(path="a.py", content="x"), record(repo_name="o/r", path="a.py"),
        record(repo_name="o/r", path="a.py", content=None), b"{not json\n", b"[1, 2]\n")]
    assert [e.kind for e in errors] == ["missing_field"] * 3 + ["bad_json"] * 2
    flagged = [s.parse_record(line, "e.json:3").meta.get("problem") for line in (
        record(repo_name="o/r", path="b.bin", content=None, binary=True),
        record(repo_name="o/r", path="b.c", content="ab\u0000cd"),
        b'{"repo_name": "o/r", "path": "c.c", "content": "caf\xe9"}\n',
        record(repo_name="o/r", path="d.c", content="\udcff bad surrogate"),
        record(repo_name="o/r", path="e.c", content="x" * 1001))]
    assert flagged == ["binary", "binary", "not_utf8", "not_utf8", "file_too_large"]


def test_read_export_skips_100mb_record_and_truncated_gzip(tmp_path):
    path = tmp_path / "export.jsonl"
    with open(path, "wb") as f:
        f.write(record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit"))
        f.write(b'{"repo_name": "o/r", "path": "huge.py", "content": "' + b"a" * (100 << 20) + b'"}\n')
        f.write(record(repo_name="o/r", path="b.py", content="y = 2\n", license="mit"))
    out = list(GitHubSource().read(str(path)))
    assert [type(r).__name__ for r in out] == ["Document", "ErrorRecord", "Document"]
    assert out[1].kind == "record_too_large" and len(out[1].excerpt) <= 4096
    data = gzip.compress(record(repo_name="o/r", path="a.py", content="x = 1\n") * 2000)
    truncated = tmp_path / "cut.json.gz"
    truncated.write_bytes(data[: len(data) // 2])
    out = list(GitHubSource().read(str(truncated)))
    assert isinstance(out[-1], ErrorRecord) and out[-1].kind == "truncated_input"
    assert all(isinstance(r, Document) for r in out[:-1])


def test_is_export_sniffs_first_record(tmp_path):
    (tmp_path / "rows.jsonl").write_bytes(record(repo_name="o/r", path="a", content="x"))
    (tmp_path / "package.json").write_text('{\n  "name": "x"\n}\n')
    (tmp_path / "data.jsonl").write_text('{"text": "a training example"}\n')
    limit = GitHubSource().record_limit
    assert is_export(str(tmp_path / "rows.jsonl"), limit)
    assert not is_export(str(tmp_path / "package.json"), limit)
    assert not is_export(str(tmp_path / "data.jsonl"), limit)


def test_repo_root_by_license_file_git_or_first_folder(tmp_path):
    root = str(tmp_path)
    licensed = {f"{root}/psf/requests": "apache-2.0"}
    assert _repo_task(f"{root}/psf/requests/src/api.py", root, licensed) == (
        f"{root}/psf/requests/src/api.py", "psf/requests", "src/api.py", "apache-2.0")
    os.makedirs(tmp_path / "tool" / ".git")
    assert _repo_task(f"{root}/tool/a/b.c", root, licensed)[1:] == ("tool", "a/b.c", None)
    assert _repo_task(f"{root}/loose/x/y.py", root, licensed)[1:] == ("loose", "x/y.py", None)
    # a single repo given as the input: its root is the mirror root
    assert _repo_task(f"{root}/psf/requests/api.py", f"{root}/psf/requests", {f"{root}/psf/requests": "mit"})[1:] == (
        "requests", "api.py", "mit")


def test_tree_file_of_100mb_is_dropped_unread(tmp_path):
    big = tmp_path / "big.c"
    with open(big, "wb") as f:
        f.truncate(100 << 20)  # sparse: no 100 MB written to disk
    d = GitHubSource().read_tree_file(str(big), "o/r", "big.c", "mit")
    assert d.meta["problem"] == "file_too_large" and d.text == ""


# --- end to end --------------------------------------------------------------------------------------
PY_MIT = "# Copyright (c) 2020 A\n# Licensed under the MIT license.\n\ndef add(a, b):\n    return a + b\n"
PY_APACHE = "# Copyright 2021 B\n# Licensed under the Apache License, Version 2.0.\n\ndef add(a, b):\n    return a + b\n"


def test_end_to_end_mirrors_and_export(tmp_path):
    mirrors = tmp_path / "raw"
    for repo, license_name, files in [
        ("zeta/lib", "Apache-2.0", {"util.py": PY_APACHE, "img.png": "\x89PNG\x00\x00"}),
        ("alpha/lib", None, {"LICENSE": MIT_TEXT, "add.py": PY_MIT, "notes.txt": "notes\n"}),
        ("gnu/tool", "GPL-3", {"main.c": GPL_C}),
        ("nolicense/x", None, {"x.py": "def x():\n    return 1\n"}),
    ]:
        base = mirrors / "mirrors" / repo
        os.makedirs(base)
        if license_name:
            (base / "COPYING").write_bytes(open(os.path.join(COMMON, license_name), "rb").read())
        for name, text in files.items():
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


LINES = ["# Copyright 2020 A\n", "# Licensed under the MIT license.\n", "#\n", "# A helper module.\n", "\n",
         "/* Copyright (c) 2001 B */\n", "// SPDX-License-Identifier: BSD-3-Clause\n", '"""Docs.\n', '"""\n',
         ":license: MIT\n", "#include <x.h>\n", "#!/usr/bin/env sh\n", "import os\n", "x = 1  # (c) 2020\n",
         "<!-- Copyright 2020 C -->\n", "-- Copyright 2020 D\n", "/*\n", " */\n", "<!DOCTYPE html>\n", "<p>hi</p>\n"]


@given(st.lists(st.sampled_from(LINES), max_size=12), st.sampled_from(["python", "c", "shell", "sql", "html"]))
@settings(max_examples=300, deadline=None)
def test_header_removal_only_removes_lines_and_is_idempotent(lines, language):
    text = "".join(lines)
    out = strip_header(text, language)
    assert set(out.splitlines()) <= set(text.splitlines())  # lines are removed, never rewritten
    assert strip_header(out, language) == out


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


def test_deeply_nested_json_line_is_one_error_and_the_file_goes_on(tmp_path):
    """A hostile line `[[[[...]]]]` makes json raise RecursionError (not ValueError): it must be
    one bad_json error, not the end of the file (whose later rows were lost, uncounted)."""
    path = tmp_path / "export.jsonl"
    path.write_bytes(record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit")
                     + b"[" * 100_000 + b"]" * 100_000 + b"\n"
                     + record(repo_name="o/r", path="b.py", content="y = 2\n", license="mit"))
    out = list(GitHubSource().read(str(path)))
    assert [type(r).__name__ for r in out] == ["Document", "ErrorRecord", "Document"]
    assert out[1].kind == "bad_json" and out[1].input.endswith("export.jsonl:2")


def test_export_told_by_bytes_bom_and_bq_shard_names(tmp_path):
    """`bq extract --compression GZIP` writes gzip under the name it is given (`*.json`) and a bare
    wildcard gives 12-digit names with no extension; a downloader may have inflated a `.json.gz`;
    Windows tools open a file with a byte-order mark and blank lines happen. All are exports."""
    rows = record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit") + record(
        repo_name="o/r", path="b.py", content="y = 2\n", license="mit")
    variants = {"export.json": gzip.compress(rows), "github-000000000003": gzip.compress(rows),
                "inflated.json.gz": rows, "windows.jsonl": b"\xef\xbb\xbf" + rows, "blank.json": b"\n\n" + rows,
                "000000000007": bz2.compress(rows)}
    limit = GitHubSource().record_limit
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        out = list(GitHubSource().read(str(tmp_path / name)))
        assert is_export(str(tmp_path / name), limit), name
        assert [r.meta["path"] for r in out] == ["a.py", "b.py"], name
    (tmp_path / "Makefile").write_text("all:\n\tcc main.c\n")
    (tmp_path / "20240101000000").write_text("not json\n")  # 14 digits: not a bq shard name
    assert not is_export(str(tmp_path / "Makefile"), limit)
    assert not is_export(str(tmp_path / "20240101000000"), limit)


THE_STACK = {"hexsha": "0a1b", "size": 36, "ext": "py", "lang": "Python", "max_stars_repo_path": "src/add.py",
             "max_stars_repo_name": "o/stack", "max_stars_repo_licenses": ["MIT", "Apache-2.0"],
             "max_stars_count": 3, "content": "def add(a, b):\n    return a + b\n", "avg_line_length": 17.0,
             "max_line_length": 18, "alphanum_fraction": 0.6}
REDPAJAMA = {"text": "def sub(a, b):\n    return a - b\n", "meta": {
    "content_hash": "e3b0", "source": "github", "repo_name": "o/redpajama", "path": "sub.py", "license": "bsd-3-clause",
    "binary": False, "copies": "1", "ref": "refs/heads/master", "mode": "33188", "language": [{"name": "Python"}]}}
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


@pytest.mark.parametrize("raw, expected", [
    (["MIT", "Apache-2.0"], "mit"), (["MIT", "GPL-3.0-only"], "gpl-3.0"), ([], None),
    ("Apache-2.0 WITH LLVM-exception", "apache-2.0"), ("GPL-2.0-only WITH Classpath-exception-2.0", "gpl-2.0"),
    ("(MIT OR Apache-2.0) AND Unicode-DFS-2016", "unicode-dfs-2016"), ("(MIT OR Apache-2.0)", "mit"),
    ("(MIT OR Apache-2.0) AND BSD-3-Clause", "mit"), ("MIT OR Apache-2.0 AND GPL-3.0", "mit"),
])
def test_normalize_license_lists_exceptions_and_parentheses(raw, expected):
    """SPDX as The Stack and package metadata write it: lists, WITH exceptions, parentheses."""
    assert rules.normalize_license(raw) == expected


def test_checkout_symlinks_and_fifos_are_never_followed(tmp_path):
    """A checkout holds symlinks (to a sibling, to outside the input, dangling) and may hold a
    FIFO: none is read (the outside file must not leak into the corpus, a FIFO would block the
    job forever); each is one counted drop, and the real file survives under its own name."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("SECRET = 'from outside the input'\n")
    repo = tmp_path / "raw" / "acme" / "app"
    (repo / "src").mkdir(parents=True)
    (repo / "LICENSE").write_text(MIT_TEXT)
    (repo / "src" / "main.py").write_text("def main():\n    return 'app'\n")
    os.symlink(outside / "secret.py", repo / "src" / "leak.py")
    os.symlink("main.py", repo / "src" / "alias.py")  # sorts before main.py: would win the dedup
    os.symlink(tmp_path / "missing.py", repo / "src" / "dangling.py")
    os.mkfifo(repo / "src" / "pipe.py")
    stats = run_source(GitHubSource(), files.expand_inputs(str(tmp_path / "raw")), str(tmp_path / "out"))
    assert stats["dropped"] == {"license_file": 1, "symlink": 3, "special_file": 1} and stats["errors"] == {}
    docs = clean_docs(str(tmp_path / "out"), "github")
    assert [d["meta"]["path"] for d in docs] == ["src/main.py"]


def test_export_symlink_rows_are_dropped(tmp_path):
    """BigQuery's `files` table has `mode` (INTEGER, 40960 = 0o120000 for a symlink, written as a
    string by JSON exports) and `symlink_target`; a symlink's content is its target path."""
    s = GitHubSource()
    rows = [record(repo_name="o/r", path="include/x.h", content="../src/x.h", mode="40960", license="mit"),
            record(repo_name="o/r", path="y.h", content="../y.h", mode=40960, license="mit"),
            record(repo_name="o/r", path="z.h", content="../z.h", symlink_target="../z.h", license="mit"),
            record(repo_name="o/r", path="w.h", content="int w;\n", mode="33188", symlink_target=None)]
    out = [s.parse_record(row, f"e.json:{n}") for n, row in enumerate(rows)]
    assert [d.meta.get("problem") for d in out] == ["symlink", "symlink", "symlink", None]


def test_checkout_license_is_the_nearest_license_file(tmp_path):
    """Real checkouts vendor code under its own license (third_party/x/COPYING, node_modules/y/
    LICENSE) and nest other checkouts (a submodule's own .git): that code keeps its own license,
    not the outer repo's. Code files named license.* are code, not license texts; Rails'
    MIT-LICENSE and REUSE's LICENSES/<id>.txt are license texts; a `license-check` script is not."""
    raw = tmp_path / "raw"

    def put(rel, text):
        os.makedirs(os.path.dirname(raw / rel), exist_ok=True)
        (raw / rel).write_text(text)

    common = lambda name: open(os.path.join(COMMON, name), encoding="utf-8").read()  # noqa: E731
    put("acme/app/LICENSE", common("BSD"))
    put("acme/app/src/main.py", "def main():\n    return 'app'\n")
    put("acme/app/src/license.py", "def license_text():\n    return 'see the LICENSE file'\n")
    put("acme/app/tools/license-check", "#!/bin/sh\ngrep -L Copyright \"$@\"\n")
    put("acme/app/tools/run.sh", "#!/bin/sh\nexec python -m app \"$@\"\n")
    put("acme/app/third_party/gplthing/COPYING", common("GPL-3"))
    put("acme/app/third_party/gplthing/gpl.c", "int gpl_only(void) { return 3; }\n")
    put("acme/app/node_modules/leftpad/LICENSE", common("GPL-2"))
    put("acme/app/node_modules/leftpad/index.js", "module.exports = function leftpad(s) { return s; };\n")
    put("acme/app/node_modules/mitpad/LICENSE", MIT_TEXT)
    put("acme/app/node_modules/mitpad/index.js", "module.exports = function mitpad(s) { return s + '!'; };\n")
    put("acme/app/vendor/sub/.git", "gitdir: ../../.git/modules/sub\n")  # a submodule checkout
    put("acme/app/vendor/sub/sub.py", "def sub():\n    return 'no license of its own'\n")
    put("rails/rails/MIT-LICENSE", MIT_TEXT)
    put("rails/rails/lib/rails.rb", "module Rails\n  def self.version\n    '7.1'\n  end\nend\n")
    put("kde/reuse/LICENSES/Apache-2.0.txt", common("Apache-2.0"))
    put("kde/reuse/src/k.py", "def k():\n    return 'reuse'\n")
    inputs = files.expand_inputs(str(raw)) + [str(raw / "acme/app/vendor/sub/.git")]  # _walk skips dot files
    stats = run_source(GitHubSource(), inputs, str(tmp_path / "out"))
    assert stats["errors"] == {}
    docs = {d["meta"]["path"]: d["meta"] for d in clean_docs(str(tmp_path / "out"), "github")}
    assert {path: (m["repo"], m["license"]) for path, m in docs.items()} == {
        "src/main.py": ("acme/app", "bsd-3-clause"), "src/license.py": ("acme/app", "bsd-3-clause"),
        "tools/run.sh": ("acme/app", "bsd-3-clause"), "node_modules/mitpad/index.js": ("acme/app", "mit"),
        "lib/rails.rb": ("rails/rails", "mit"), "src/k.py": ("kde/reuse", "apache-2.0")}
    rejected = {r["meta"]["path"]: r["drop_reason"]
                for r in read_jsonl_gz(str(tmp_path / "out" / "rejected" / "github" / "*.jsonl.gz"))}
    assert rejected["third_party/gplthing/gpl.c"] == "license_gpl"
    assert rejected["node_modules/leftpad/index.js"] == "license_gpl"
    assert rejected["vendor/sub/sub.py"] == "license_none"


@pytest.mark.parametrize("path, folder", [
    ("r/LICENSE", "r"), ("r/LICENSE.md", "r"), ("r/COPYING.LESSER", "r"), ("r/LICENSE-APACHE", "r"),
    ("r/licence.txt", "r"), ("r/MIT-LICENSE", "r"), ("r/LICENSES/MIT.txt", "r"), ("r/LICENSE.html", "r"),
    ("r/src/license.py", None), ("r/License.java", None), ("r/pkg/license_test.go", None), ("r/copying.c", None),
    ("r/lib/licensee/license.rb", None), ("r/README.md", None),
])
def test_license_folder(path, folder):
    assert rules.license_folder(path) == folder


# --- Parquet and Avro exports ---------------------------------------------------------------------
def stack_rows(lang="Python", ext="py", n=8, repo="o/stack"):
    """Rows in The Stack v1's layout (its real column names and types, a license list)."""
    return [dict(THE_STACK, hexsha=f"{i:040x}", ext=ext, lang=lang, max_stars_repo_name=repo,
                 max_stars_repo_path=f"src/m{i}.{ext}", max_stars_repo_head_hexsha="f" * 40,
                 content=f"def f{i}(a):\n    return a + {i}\n" if ext == "py" else
                 f"class M{i} {{\n    int f() {{ return {i}; }}\n}}\n") for i in range(n)]


def write_parquet(path, rows, row_group_size=3, compression="snappy", schema=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), str(path), row_group_size=row_group_size,
                   compression=compression)
    return str(path)


def test_the_stack_parquet_through_the_job(tmp_path):
    """The Stack v1 as distributed (`data/<lang>/train-0000N-of-0000M.parquet`, several row groups,
    list-typed licenses, the same file names in every language folder) and a bare-named
    `bq extract --destination_format PARQUET` shard: every row is a document; a null content is a
    counted error; ids do not depend on the folder."""
    raw = tmp_path / "raw"
    py = stack_rows()
    py[2]["content"] = None
    py[5]["max_stars_repo_licenses"] = ["GPL-3.0-only"]
    write_parquet(raw / "data" / "python" / "train-00000-of-00001.parquet", py)
    write_parquet(raw / "data" / "java" / "train-00000-of-00001.parquet", stack_rows("Java", "java", 4),
                  compression="zstd")
    bq = [{"repo_name": "o/bq", "path": f"lib/b{i}.go", "content": f"package b\n\nfunc B{i}() int {{ return {i} }}\n",
           "binary": False, "license": "apache-2.0"} for i in range(5)]
    write_parquet(raw / "bq" / "github_repos-000000000000", bq, row_group_size=2)
    stats = run_source(GitHubSource(), files.expand_inputs(str(raw)), str(tmp_path / "out"))
    assert stats["documents_in"] == 8 + 4 + 5
    assert stats["errors"] == {"missing_field": 1} and stats["dropped"] == {"license_gpl": 1}
    docs = {d["id"]: d for d in clean_docs(str(tmp_path / "out"), "github")}
    assert len(docs) == 15
    kept = {(d["meta"]["repo"], d["meta"]["path"]): d for d in docs.values()}
    assert kept[("o/stack", "src/m7.py")]["text"] == "def f7(a):\n    return a + 7\n"
    assert kept[("o/stack", "src/m7.py")]["meta"]["license"] == "mit"
    assert kept[("o/stack", "src/m1.java")]["meta"]["language"] == "java"
    assert kept[("o/bq", "lib/b4.go")]["meta"]["license"] == "apache-2.0"
    errors = read_jsonl_gz(str(tmp_path / "out" / "errors" / "github" / "*.jsonl.gz"))
    assert [e["input"].rsplit("/", 1)[-1] for e in errors] == ["train-00000-of-00001.parquet:3"]
    assert "content" in errors[0]["message"] and "src/m2.py" in errors[0]["excerpt"]
    # The same file stored elsewhere gives the same ids.
    moved = write_parquet(tmp_path / "elsewhere" / "train-00000-of-00001.parquet", stack_rows("Java", "java", 4))
    again = [d.id for d in GitHubSource().read(moved)]
    assert set(again) <= set(docs) and len(again) == 4


def test_parquet_corrupt_row_group_costs_its_rows_and_truncated_file_one_error(tmp_path):
    """A damaged page costs only its row group (counted, the next group is read on); a download
    cut short (no footer) is one counted error, not a crash."""
    import pyarrow.parquet as pq

    path = write_parquet(tmp_path / "train-00000-of-00001.parquet", stack_rows(n=9), row_group_size=3)
    data = bytearray(open(path, "rb").read())
    meta = pq.ParquetFile(path).metadata
    column = next(meta.row_group(1).column(c) for c in range(meta.num_columns)
                  if meta.row_group(1).column(c).path_in_schema == "content")
    start = column.dictionary_page_offset or column.data_page_offset
    data[start:start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(data))
    out = list(GitHubSource().read(str(damaged)))
    assert [type(r).__name__ for r in out] == ["Document"] * 3 + ["ErrorRecord"] + ["Document"] * 3
    assert out[3].kind == "corrupt_row_group" and out[3].input.endswith("damaged.parquet:4")
    assert "rows 4-6" in out[3].message
    assert [d.meta["path"] for d in out if isinstance(d, Document)] == [f"src/m{i}.py" for i in (0, 1, 2, 6, 7, 8)]
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(bytes(open(path, "rb").read())[: len(data) // 2])
    assert [(e.kind, e.input) for e in GitHubSource().read(str(cut))] == [("truncated_input", str(cut))]
    stats = run_source(GitHubSource(), [str(damaged), str(cut)], str(tmp_path / "out"))
    assert stats["documents_in"] == 8 and stats["documents_out"] == 6
    assert stats["errors"] == {"corrupt_row_group": 1, "truncated_input": 1}


STACK_V2 = {"blob_id": "6c1b3d0e" * 5, "directory_id": "d1" * 20, "path": "/src/app.py", "content_id": "c0" * 20,
            "detected_licenses": ["MIT"], "license_type": "permissive", "repo_name": "o/v2",
            "snapshot_id": "5a" * 20, "revision_id": "9e" * 20, "branch_name": "refs/heads/main",
            "github_id": 123, "star_events_count": 4, "fork_events_count": 1, "gha_license_id": "MIT",
            "gha_language": "Python", "src_encoding": "UTF-8", "language": "Python", "is_vendor": False,
            "is_generated": False, "length_bytes": 28, "extension": "py"}


def test_stack_v2_parquet_without_content_is_one_clear_error(tmp_path):
    """The Stack v2 ships blob ids, not content: the file is one counted error saying to fetch the
    content first (not 'missing content' once per row); once fetched into `content`, its
    `detected_licenses` list is the license."""
    rows = [dict(STACK_V2, path=f"/src/a{i}.py", blob_id=f"{i:040x}") for i in range(5)]
    ids_only = write_parquet(tmp_path / "raw" / "data" / "Python" / "train-00000-of-00001.parquet", rows)
    out = list(GitHubSource().read(ids_only))
    assert [e.kind for e in out] == ["content_not_included"]
    assert "blob_id" in out[0].message and "5 rows" in out[0].message
    stats = run_source(GitHubSource(), [ids_only], str(tmp_path / "out"))
    assert stats["errors"] == {"content_not_included": 1} and stats["documents_out"] == 0
    fetched = [dict(r, content="def app():\n    return 'v2'\n") for r in rows[:1]]
    fetched.append(dict(rows[1], content="def gpl():\n    return 3\n", detected_licenses=["GPL-3.0-only"]))
    path = write_parquet(tmp_path / "fetched.parquet", fetched)
    s = GitHubSource()
    docs = list(s.read(path))
    assert [d.meta["license"] for d in docs] == [["MIT"], ["GPL-3.0-only"]]
    assert [rules.LicenseFilter()(d) for d in docs] == [(True, ""), (False, "license_gpl")]


def test_parquet_binary_content_and_redpajama_conversion(tmp_path):
    """A content column of bytes (BigQuery BYTES, a Spark export) is decoded like a checkout file;
    the hub's parquet conversion of RedPajama keeps `meta` as JSON text."""
    import pyarrow as pa

    schema = pa.schema([("repo_name", pa.string()), ("path", pa.string()), ("content", pa.binary()),
                        ("license", pa.string())])
    rows = [{"repo_name": "o/b", "path": "ok.c", "content": b"int ok(void) { return 1; }\n", "license": "mit"},
            {"repo_name": "o/b", "path": "latin1.c", "content": b"/* caf\xe9 */ int x;\n", "license": "mit"},
            {"repo_name": "o/b", "path": "logo.png", "content": b"\x89PNG\r\n\x1a\n\x00\x00", "license": "mit"}]
    out = list(GitHubSource().read(write_parquet(tmp_path / "bytes.parquet", rows, schema=schema)))
    assert [d.meta.get("problem") for d in out] == [None, "not_utf8", "binary"]
    assert out[0].text == "int ok(void) { return 1; }\n"
    redpajama = [{"text": REDPAJAMA["text"], "meta": json.dumps(REDPAJAMA["meta"]), "red_pajama_subset": "github"}]
    path = write_parquet(tmp_path / "0000.parquet", redpajama)
    assert is_export(path, GitHubSource().record_limit)
    [d] = list(GitHubSource().read(path))
    assert (d.meta["repo"], d.meta["path"], d.meta["license"], d.text) == (
        "o/redpajama", "sub.py", "bsd-3-clause", REDPAJAMA["text"])


def test_parquet_in_a_checkout_and_lfs_pointers(tmp_path):
    """A checkout's own Parquet test data (no repo column) stays a checkout file; a `.parquet` that
    is a Git LFS pointer (a hub dataset cloned without `git lfs`) is a clear counted error."""
    raw = tmp_path / "raw"
    (raw / "pandas" / "pandas" / "tests").mkdir(parents=True)
    (raw / "pandas" / "pandas" / "LICENSE").write_text(open(os.path.join(COMMON, "BSD"), encoding="utf-8").read())
    (raw / "pandas" / "pandas" / "tests" / "test_io.py").write_text("def test_io():\n    assert True\n")
    fixture = write_parquet(raw / "pandas" / "pandas" / "tests" / "simple.parquet", [{"a": 1, "b": "x"}])
    pointer = raw / "the-stack" / "data" / "python" / "train-00000-of-00206.parquet"
    pointer.parent.mkdir(parents=True)
    # (the real first line names the LFS specification's URL)
    pointer.write_text("version spec/v1\noid sha256:" + "ab" * 32 + "\nsize 123456789\n")
    limit = GitHubSource().record_limit
    assert not is_export(fixture, limit) and is_export(str(pointer), limit)
    stats = run_source(GitHubSource(), files.expand_inputs(str(raw)), str(tmp_path / "out"))
    assert stats["errors"] == {"lfs_pointer": 1}
    assert stats["dropped"] == {"license_file": 1, "binary": 1}
    assert [d["meta"]["path"] for d in clean_docs(str(tmp_path / "out"), "github")] == ["tests/test_io.py"]


def test_bigquery_avro_export(tmp_path):
    """`bq extract --destination_format AVRO [--compression DEFLATE]`: nullable-union columns,
    read row by row; a cut file keeps the rows before the cut and counts one error."""
    import fastavro

    nullable = lambda t: ["null", t]  # noqa: E731  (BigQuery's NULLABLE mode)
    schema = fastavro.parse_schema({"type": "record", "name": "Root", "fields": [
        {"name": n, "type": nullable(t)} for n, t in (("repo_name", "string"), ("path", "string"),
                                                      ("content", "string"), ("binary", "boolean"),
                                                      ("license", "string"))]})
    rows = [{"repo_name": "o/avro", "path": f"pkg/m{i}.py", "content": f"def m{i}():\n    return {i}\n" * 40,
             "binary": False, "license": "bsd-3-clause"} for i in range(300)]
    rows[7]["content"] = None
    with open(tmp_path / "github_repos-000000000000.avro", "wb") as f:
        fastavro.writer(f, schema, rows, codec="deflate", sync_interval=4000)
    path = str(tmp_path / "github_repos-000000000000.avro")
    out = list(GitHubSource().read(path))
    assert len(out) == 300 and [e.kind for e in out if isinstance(e, ErrorRecord)] == ["missing_field"]
    assert out[0].meta == {"repo": "o/avro", "path": "pkg/m0.py", "license": "bsd-3-clause"}
    data = open(path, "rb").read()
    cut = tmp_path / "000000000001"  # a bare `bq extract` shard name
    cut.write_bytes(data[: len(data) // 2])
    assert is_export(str(cut), GitHubSource().record_limit)
    out = list(GitHubSource().read(str(cut)))
    assert 0 < len(out) < 300 and out[-1].kind == "truncated_input"
    assert [r.kind for r in out[:-1] if isinstance(r, ErrorRecord)] == ["missing_field"]  # row 8's null
    stats = run_source(GitHubSource(), [path, str(cut)], str(tmp_path / "out"))
    assert stats["errors"] == {"missing_field": 2, "truncated_input": 1}
    # `--compression SNAPPY`: the header names the codec (a string, its length zigzag-encoded).
    # fastavro reads snappy only with cramjam installed; without it, one clear counted error.
    header_at = data.index(b"deflate")
    snappy = tmp_path / "snappy.avro"
    snappy.write_bytes(data[:header_at - 1] + bytes([len(b"snappy") * 2]) + b"snappy" + data[header_at + 7:])
    try:
        import cramjam  # noqa: F401
    except ImportError:
        [error] = list(GitHubSource().read(str(snappy)))
        assert error.kind == "unsupported_codec" and "snappy" in error.message


def test_parquet_string_column_with_invalid_utf8_loses_only_that_file(tmp_path):
    """Parquet's STRING is UTF-8 by specification, but not every writer checks (Spark writes the
    bytes it is given): one latin-1 file in a 1,000-row group must not cost the other 999 rows."""
    import pyarrow as pa

    contents = [f"def f{i}():\n    return {i}\n".encode() for i in range(1000)]
    contents[500] = "def caf\u00e9():\n    return 'latin-1'\n".encode("latin-1")
    table = pa.table({"repo_name": ["o/spark"] * 1000, "path": [f"m{i}.py" for i in range(1000)],
                      "content": pa.array(contents, pa.binary()).view(pa.string()), "license": ["mit"] * 1000})
    import pyarrow.parquet as pq

    path = str(tmp_path / "part-00000-c000.snappy.parquet")
    pq.write_table(table, path, row_group_size=1000)
    out = list(GitHubSource().read(path))
    assert len(out) == 1000 and all(isinstance(d, Document) for d in out)
    assert [d.meta["path"] for d in out if d.meta.get("problem")] == ["m500.py"]
    assert out[500].meta["problem"] == "not_utf8" and out[999].text == "def f999():\n    return 999\n"
