"""File plumbing on Beam's `FileSystems` (local paths and `gs://` alike): input listing,
atomic writes, stable hashing."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import uuid
from typing import IO, Iterator, NamedTuple

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

GLOB_CHARS = set("*?[")

log = logging.getLogger("pipeline.files")


def expand_inputs(patterns: list[str] | str) -> list[str]:
    """Every file named by `patterns` (globs of files or folders; folders are walked), sorted.

    Raises `FileNotFoundError` naming the pattern when it matches nothing, so a typo in
    `INPUT=` is a clear message and not an empty corpus, and `ValueError` for a local file name
    that is not UTF-8 (Beam carries paths as UTF-8 strings). A file named twice (`raw/x`,
    `./raw/x`, `/abs/raw/x`) is read once. Hidden files and editor backups are left out of
    folders and globs, never out of a file named on its own.
    """
    if isinstance(patterns, str):
        patterns = patterns.split(",")
    patterns = [p.strip() for p in patterns]
    patterns = [p for p in patterns if p]  # "a, ,b" or a trailing ", " is not the pattern ""
    if not patterns:
        raise FileNotFoundError("no input given")
    found: dict[str, str] = {}  # one spelling of each file, by its normalised path
    for pattern in patterns:
        if _is_dir(pattern):
            expanded = _walk(pattern)
        else:
            expanded = []
            for path in _match(pattern):
                if _is_dir(path):
                    expanded.extend(_walk(path))
                elif path == pattern or "://" in path or not _skipped(path.rstrip("/").rsplit("/", 1)[-1]):
                    expanded.append(path)  # (an object-store match is filtered by _match already)
        if not expanded:
            raise FileNotFoundError(f"input {pattern!r} matches no file")
        for path in expanded:
            key = _normalised(path)
            if key not in found or path < found[key]:
                found[key] = path
    paths = sorted(found.values())
    for path in paths:
        _check_utf8(path)
    return paths


def _skipped(name: str) -> bool:
    """Hidden files (`.DS_Store`, `._x` AppleDouble copies, vim's `.x.swp`, our own `.tmp-*`)
    and editor backups (`x~`, as GNU `ls --ignore-backups` has it; Emacs' `#x#` auto-saves):
    a copy of an input read as another input would count its documents twice."""
    return name.startswith(".") or name.endswith("~") or (name.startswith("#") and name.endswith("#"))


def _walk(directory: str) -> list[str]:
    """Files under a local folder, hidden files and folders and editor backups left out.
    Symlinked subfolders are not followed (they may lead outside the input); each is logged."""
    out = []
    for root, dirs, files in os.walk(directory):
        for d in dirs:
            if not d.startswith(".") and os.path.islink(os.path.join(root, d)):
                log.warning("not following symlinked folder %s (name it in --input to read it)",
                            os.path.join(root, d))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(os.path.join(root, f) for f in files if not _skipped(f))
    return out


def _match(pattern: str) -> list[str]:
    """What a pattern names: files and folders (a local glob matches as the shell does, so
    `raw/*` names the site folders in `raw/` too); an object-store "folder" is its objects."""
    if "://" not in pattern:
        if GLOB_CHARS & set(pattern):
            return glob.glob(pattern, recursive=True)
        return [pattern] if os.path.exists(pattern) else []
    matched = _match_remote(pattern)
    if not matched or GLOB_CHARS & set(pattern):
        # `gs://b/raw/*` names objects in "sub-folders" too; `gs://b/raw/wikipedia` a folder.
        under = _match_remote(pattern.rstrip("/") + "/**")
        matched += [path for path in under if path not in matched]
    # An object store has no folders to skip: what a local walk leaves out with its hidden folder
    # (`.git/objects/...`, `.tmp-*` staging) is left out here by the names below the pattern.
    fixed = pattern[:min([pattern.find(c) for c in GLOB_CHARS if c in pattern] or [len(pattern)])]
    root = fixed.rsplit("/", 1)[0] + "/"
    return [path for path in matched if path == pattern or not _hidden_below(path, root)]


def _hidden_below(path: str, root: str) -> bool:
    below = path[len(root):] if path.startswith(root) else path.rsplit("/", 1)[-1]
    parts = below.split("/")
    return any(part.startswith(".") for part in parts[:-1]) or _skipped(parts[-1])


def _match_remote(pattern: str) -> list[str]:
    """The objects a pattern matches ([] for none). A scheme with no filesystem installed, or a
    store that fails to list, is an error saying so, never "no match"."""
    try:
        filesystem = FileSystems.get_filesystem(pattern)
    except ValueError:
        raise ValueError(f"input {pattern!r}: no filesystem for {pattern.split('://', 1)[0]}:// in this "
                         "environment (gs:// needs apache-beam[gcp], s3:// apache-beam[aws])") from None
    try:
        result = filesystem.match([pattern])[0]
    except BeamIOError as exc:
        details = list((exc.exception_details or {}).values())
        if details and all(isinstance(d, FileNotFoundError) for d in details):
            return []
        raise OSError(f"cannot list input {pattern!r}: {details[0] if details else exc}") from None
    return [m.path for m in result.metadata_list]


def _normalised(path: str) -> str:
    return path if "://" in path else os.path.normpath(os.path.abspath(path))


def _check_utf8(path: str) -> None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        readable = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise ValueError(f"input file name is not UTF-8: {readable!r}; rename it "
                         "(e.g. convmv -f latin1 -t utf8)") from None


def _is_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def stable_hash64(data: str | bytes) -> int:
    """A 64-bit hash that is the same on every worker and every run (unlike `hash()`)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[IO[bytes]]:
    """Write to a hidden temp file beside `path`, rename onto `path` only when complete.

    A job killed mid-write leaves a `.tmp-*` file, never a file that looks finished.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".tmp-{name}-{uuid.uuid4().hex[:8]}")
    if directory and not FileSystems.exists(directory):
        try:
            FileSystems.mkdirs(directory)
        except OSError:  # (BeamIOError is one) another worker made it between the two calls
            if not FileSystems.exists(directory):
                raise
    handle = FileSystems.create(tmp)
    try:
        yield handle
        handle.close()
    except BaseException:
        handle.close()
        FileSystems.delete([tmp])
        raise
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def write_atomic_bytes(path: str, data: bytes) -> None:
    with atomic_write(path) as handle:
        handle.write(data)


def check_writable(directory: str) -> None:
    """Creates `directory` and writes and removes a probe file there; raises `OSError` (Beam's
    `BeamIOError` is one) when that cannot be done."""
    probe = FileSystems.join(directory, f".write-test-{uuid.uuid4().hex[:8]}")
    write_atomic_bytes(probe, b"probe")  # not b"": an S3 upload of no parts is refused (MalformedXML)
    FileSystems.delete([probe])


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        return handle.read()



class LongLine(NamedTuple):
    """Stands for a line longer than a reader's cap, which was read past without being held."""

    head: bytes  # its first bytes (at most 1,024), for the error record


def capped_lines(stream: IO[bytes], limit: int) -> Iterator[bytes | LongLine]:
    """The lines of a binary stream, each at most `limit` bytes before its newline. A longer line
    is read past in `limit`-sized pieces, never held whole, and comes out as one `LongLine`, so
    a reader can count it and go on with the next line. What the stream raises (a truncated
    gzip) reaches the caller, which knows the line number to blame."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            head = line[:1024]
            while line and not line.endswith(b"\n"):
                line = stream.readline(limit)
            yield LongLine(head)
        else:
            yield line


def read_blank_lines(stream: IO[bytes], limit: int) -> bytes:
    """Reads the run of blank lines next in `stream` (up to `limit` bytes of what it holds
    buffered) in one call, and returns them: a run of millions costs a call per buffer, not one
    per line. b"" when the stream cannot peek (its lines are then read one at a time)."""
    peek = getattr(stream, "peek", None)
    if peek is None:
        return b""
    ahead = peek(limit)[:limit]
    blank = ahead[:len(ahead) - len(ahead.lstrip())]
    return stream.read(blank.rfind(b"\n") + 1)
