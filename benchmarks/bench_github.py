"""GitHub: files/s and MB/s per core, the Beam job (DirectRunner, in-memory, 1 core) beside a
plain loop doing the same steps (read exports and checkouts, the five filters, exact dedup).

Both are timed in CPU seconds of this process (`time.process_time`): per core by construction,
and far less noisy than wall time on a shared machine."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from benchmarks.common import Row
from pipeline import files
from pipeline.document import Document
from pipeline.filters import run_filters
from samples.github import build
from sources.github import rules
from sources.github.checkout import _repo_task, read_tree_file
from sources.github.read import is_export
from sources.github.source import GitHubSource, content_key
from tests.fixtures.helpers import run_source


def _make(directory: str, copies: int) -> list[str]:
    """`copies` builds of the sample side by side (each copy its own repos and export files)."""
    for n in range(copies):
        build(os.path.join(directory, f"copy{n:02d}"), "", seed=n)
    return files.expand_inputs(directory)


def plain_loop(paths: list[str], source: GitHubSource) -> tuple[int, int]:
    """The same work without Beam: returns (files read, bytes of text read)."""
    exports = [p for p in paths if is_export(p, source.record_limit)]
    tree = [p for p in paths if p not in set(exports)]
    docs = [r for p in exports for r in source.read(p) if isinstance(r, Document)]
    licensed: dict[str, list] = {}
    for p in tree:
        if rules.is_license_file(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                licensed.setdefault(rules.license_folder(p), []).append((os.path.basename(p), rules.detect_license(f.read())))
    licenses = {folder: rules.combine_licenses(found) for folder, found in licensed.items()}
    root = os.path.commonpath([os.path.dirname(p) for p in tree])
    docs += [read_tree_file(*_repo_task(p, root, licenses), source.config.max_file_bytes) for p in tree]
    chars = sum(len(d.text) for d in docs)
    steps = source.steps()  # the job's own chain; its last step, the exact dedup, as a dict below
    assert steps[-1][0] == "DedupFiles"
    kept, _ = run_filters(steps[:-1], docs)
    seen: dict[str, str] = {}
    for d in kept:
        key = content_key(d)
        seen[key] = min(seen.get(key, d.id), d.id)
    return len(docs), chars


def _timed(copies: int, tmp: str) -> tuple[dict, float, tuple[int, int], float]:
    """(job stats, job seconds, plain-loop (files, chars), plain-loop seconds) on `copies` samples."""
    base = os.path.join(tmp, f"x{copies}")
    paths = _make(os.path.join(base, "raw"), copies)
    t0 = time.process_time()
    loop = plain_loop(paths, GitHubSource())
    floor = time.process_time() - t0
    t0 = time.process_time()
    stats = run_source(GitHubSource(), paths, os.path.join(base, "out"))
    return stats, time.process_time() - t0, loop, floor


def run(quick: bool = True) -> list[Row]:
    copies = 4 if quick else 16
    tmp = tempfile.mkdtemp(prefix="bench_github_")
    try:
        _, small_s, _, _ = _timed(1, tmp)
        stats, ours, (n_files, n_chars), floor = _timed(copies, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    docs, mb = stats["documents_in"], stats["chars_in"] / 1e6
    note = f"{docs} files, {mb:.1f} M chars (sample x{copies}); Beam in-memory runner, CPU s, incl. writing"
    note += f"; a x1 job before it (warm-up, imports) took {small_s:.1f} CPU s: Beam's start-up dominates small runs"
    return [
        Row("github job", "files/s per core", docs / ours, "plain loop", n_files / floor, notes=note),
        Row("github job", "MB/s per core (chars)", mb / ours, "plain loop", n_chars / 1e6 / floor, notes=note),
    ]


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
