"""What the GitHub tests share: a document, an export record, license texts and export rows."""

from __future__ import annotations

import json

from pipeline.document import Document

COMMON = "/usr/share/common-licenses"


def doc(text="int main(void) { return 0; }\n", path="src/main.c", license="mit", **meta):
    return Document(id=f"github/o/r/{path}", text=text, source="github",
                    meta={"repo": "o/r", "path": path, "license": license, **meta})


MIT_TEXT = ("MIT License\n\nCopyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge, to any "
            "person obtaining a copy\nof this software and associated documentation files (the \"Software\")...")


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


def record(**fields):
    return (json.dumps(fields) + "\n").encode()


THE_STACK = {"hexsha": "0a1b", "size": 36, "ext": "py", "lang": "Python", "max_stars_repo_path": "src/add.py",
             "max_stars_repo_name": "o/stack", "max_stars_repo_licenses": ["MIT", "Apache-2.0"],
             "max_stars_count": 3, "content": "def add(a, b):\n    return a + b\n", "avg_line_length": 17.0,
             "max_line_length": 18, "alphanum_fraction": 0.6}


REDPAJAMA = {"text": "def sub(a, b):\n    return a - b\n", "meta": {
    "content_hash": "e3b0", "source": "github", "repo_name": "o/redpajama", "path": "sub.py", "license": "bsd-3-clause",
    "binary": False, "copies": "1", "ref": "refs/heads/master", "mode": "33188", "language": [{"name": "Python"}]}}
