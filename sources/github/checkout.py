"""Reading a checkout ("mirror"): the mirror root, each file's repo and license from the license
files and `.git` entries above it, and each file read as one Document (links and special files
never followed, counted as drops)."""

from __future__ import annotations

import functools
import os
import posixpath
import stat
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from pipeline.document import Document, ErrorRecord
from pipeline.filters import ERRORS
from sources.github import rules
from sources.github.read import NAME, _safe, decode_content, tree_doc_id

LICENSE_READ_BYTES = 256 * 1024  # the longest license texts (GPL-3.0, MPL-2.0) are ~35 KB


def local_file_kind(path: str) -> str | None:
    """None for a regular local file (or a remote object); `symlink` for a link, `special_file`
    for a FIFO, socket or device (opening a FIFO blocks forever)."""
    if "://" in path:
        return None
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return "symlink"
    return None if stat.S_ISREG(mode) else "special_file"


def read_tree_file(path: str, repo: str, rel_path: str, license_id: str | None, max_file_bytes: int) -> Document:
    kind = local_file_kind(path)
    if kind is None:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            data = f.read(max_file_bytes + 1)
        text, problem = decode_content(data, max_file_bytes)
    else:  # never followed: its target is another file of the input (read there) or outside it
        text, problem = "", kind
    meta = {"repo": repo, "path": rel_path, "license": license_id}
    if problem:
        meta["problem"] = problem
    return Document(id=tree_doc_id(repo, rel_path), text=text, source=NAME, meta=meta)


class _ReadTreeFile(beam.DoFn):
    def __init__(self, max_file_bytes: int):
        self.max_file_bytes = max_file_bytes

    def process(self, task: tuple[str, str, str, str | None]):
        try:
            yield read_tree_file(*task, self.max_file_bytes)
        except Exception as exc:
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(NAME, task[0], "read_failed", exc))


class _CommonDir(beam.CombineFn):
    """The deepest folder holding every input file (the mirror root)."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, path):
        return _common(acc, posixpath.dirname(path))

    def merge_accumulators(self, accs):
        out = None
        for acc in accs:
            out = acc if out is None else (out if acc is None else _common(out, acc))
        return out

    def extract_output(self, acc):
        return acc or ""


def _common(a: str | None, b: str) -> str:
    if a is None:
        return b
    parts_a, parts_b = a.split("/"), b.split("/")
    n = 0
    while n < min(len(parts_a), len(parts_b)) and parts_a[n] == parts_b[n]:
        n += 1
    return "/".join(parts_a[:n]) or "/"


def _detect_license_file(path: str) -> Iterator[tuple[str, tuple[str, str]]]:
    try:
        if "://" not in path and not os.path.isfile(path):  # a FIFO named LICENSE would block
            raise OSError(f"not a regular file: {path}")
        with FileSystems.open(path, compression_type="uncompressed") as f:
            text = f.read(LICENSE_READ_BYTES).decode("utf-8", "replace")
        if text.startswith("#!"):  # a script named like one (`license-check`), not a license text
            return
        license_id = rules.detect_license(text)
    except Exception:  # an unreadable license file is an unknown license, not a crash
        license_id = "unknown"
    yield rules.license_folder(path), (posixpath.basename(path), license_id)


@functools.lru_cache(maxsize=65536)
def _has_git(folder: str) -> bool:
    """A `.git` entry in the folder: a local folder or file, or in an object store a `.git` object
    (a submodule's file) or the `.git/HEAD` every git folder holds."""
    if "://" not in folder:
        return os.path.exists(os.path.join(folder, ".git"))
    try:
        return any(FileSystems.exists(FileSystems.join(folder, name)) for name in (".git", ".git/HEAD"))
    except Exception:  # an unreadable store here is the reader's to report, not a crash
        return False


def _repo_task(path: str, root: str, licensed: dict) -> tuple[str, str, str, str | None]:
    """(path, repo name, path in repo, license id or None) for a checkout file."""
    folder = posixpath.dirname(path)
    rel = posixpath.relpath(folder, root) if root else folder
    parts = [] if rel == "." else rel.split("/")
    candidates = [root] + [posixpath.join(root, *parts[:k]) for k in range(1, len(parts) + 1)]
    repo_root = next((c for c in candidates if c in licensed or _has_git(c)),
                     candidates[1] if len(candidates) > 1 else root)
    repo = posixpath.relpath(repo_root, root) if repo_root != root else posixpath.basename(root.rstrip("/"))
    # The nearest license above the file governs it: vendored code (third_party/x/COPYING,
    # node_modules/y/LICENSE) keeps its own license, and a nested checkout (its own `.git`)
    # without a license file has none, instead of inheriting the outer repo's.
    license_id = licensed.get(repo_root)
    for folder in candidates[candidates.index(repo_root) + 1:]:
        if folder in licensed:
            license_id = licensed[folder]
        elif _has_git(folder):
            license_id = None
    return path, _safe(repo), _safe(posixpath.relpath(path, repo_root)), license_id
