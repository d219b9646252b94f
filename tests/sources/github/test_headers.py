"""GitHub header removal (sources/github/headers.py): one test per header syntax, and a property test."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.github.headers import strip_header
from tests.fixtures.github import GPL_C


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
