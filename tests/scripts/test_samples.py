"""`make sample` is deterministic: the same seed gives byte-identical raw files for every source."""

from __future__ import annotations

import hashlib
import os

from samples.build import main as build_samples


def _digests(root: str) -> dict[str, str]:
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_samples_are_byte_identical_across_builds(tmp_path):
    build_samples(["--output", str(tmp_path / "one")])
    build_samples(["--output", str(tmp_path / "two")])
    one, two = _digests(str(tmp_path / "one")), _digests(str(tmp_path / "two"))
    assert {p.split(os.sep)[0] for p in one} == {"commoncrawl", "c4", "github", "wikipedia", "books", "arxiv",
                                                 "stackexchange", "commoncrawl-negatives"}
    assert one == two
