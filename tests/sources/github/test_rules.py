"""GitHub rules (sources/github/rules.py): one test per license family, license detection and
normalisation, file kind, extensions and the quality heuristics."""

from __future__ import annotations

import os

import pytest

from pipeline.filters import run_filters
from sources.github import rules
from tests.fixtures.github import COMMON, MIT_TEXT, doc


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


@pytest.mark.parametrize("raw, expected", [
    (["MIT", "Apache-2.0"], "mit"), (["MIT", "GPL-3.0-only"], "gpl-3.0"), ([], None),
    ("Apache-2.0 WITH LLVM-exception", "apache-2.0"), ("GPL-2.0-only WITH Classpath-exception-2.0", "gpl-2.0"),
    ("(MIT OR Apache-2.0) AND Unicode-DFS-2016", "unicode-dfs-2016"), ("(MIT OR Apache-2.0)", "mit"),
    ("(MIT OR Apache-2.0) AND BSD-3-Clause", "mit"), ("MIT OR Apache-2.0 AND GPL-3.0", "mit"),
])
def test_normalize_license_lists_exceptions_and_parentheses(raw, expected):
    """SPDX as The Stack and package metadata write it: lists, WITH exceptions, parentheses."""
    assert rules.normalize_license(raw) == expected


@pytest.mark.parametrize("path, folder", [
    ("r/LICENSE", "r"), ("r/LICENSE.md", "r"), ("r/COPYING.LESSER", "r"), ("r/LICENSE-APACHE", "r"),
    ("r/licence.txt", "r"), ("r/MIT-LICENSE", "r"), ("r/LICENSES/MIT.txt", "r"), ("r/LICENSE.html", "r"),
    ("r/src/license.py", None), ("r/License.java", None), ("r/pkg/license_test.go", None), ("r/copying.c", None),
    ("r/lib/licensee/license.rb", None), ("r/README.md", None),
])
def test_license_folder(path, folder):
    assert rules.license_folder(path) == folder


# --- file kind, extensions, quality, header removal ------------------------------------------------
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


def test_header_filter_drops_license_only_files():
    d = doc("/* Copyright 2020 X. All rights reserved. */\n", path="empty.c", language="c")
    assert rules.HeaderFilter()(d) == (False, "empty_after_header")
