"""Model files on the worker's own disk: fastText, KenLM and SentencePiece load a local file,
while on a cluster the file lives in object storage (`gs://`, `s3://`).

`local_copy(path)` returns a local path for any path: a local one as it is, an object-store one
copied once per process into `$TMPDIR/llama-models/<sha256 of its bytes>/<name>` (a second process
on the same machine finds the copy by the object's size and etag and does not download again).
`require_file(path, what, hint)` is the check a job makes before it starts: one clear
`FileNotFoundError` naming the path, whatever went wrong (no such object, no such bucket, access
refused, an endpoint that does not answer).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid

from apache_beam.io.filesystems import FileSystems

CHUNK = 8 * 1024 * 1024
_lock = threading.Lock()
_copies: dict[str, str] = {}  # URL -> local path, this process


def is_remote(path: str) -> bool:
    return "://" in path


def cache_root() -> str:
    return os.path.join(tempfile.gettempdir(), "llama-models")


def local_copy(path: str) -> str:
    """A local file with the bytes of `path` (which may be a URL); see the module docstring."""
    if not is_remote(path):
        return path
    with _lock:
        if path not in _copies:
            _copies[path] = _fetch(path)
        return _copies[path]


def _fetch(url: str) -> str:
    """Downloads `url` into the cache (atomically: a half-copied file is never found) unless a
    copy of the same object is there already."""
    root = cache_root()
    os.makedirs(root, exist_ok=True)
    stamp = _stamp(url)
    index = os.path.join(root, "index-" + hashlib.sha256(f"{url}\n{stamp}".encode()).hexdigest()[:32] + ".json")
    if stamp and os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            known = json.load(f)["path"]
        if os.path.exists(known):
            return known
    name = url.rstrip("/").rsplit("/", 1)[-1] or "model"
    partial = os.path.join(root, f".partial-{uuid.uuid4().hex}")
    digest = hashlib.sha256()
    try:
        with FileSystems.open(url, compression_type="uncompressed") as src, open(partial, "wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
        folder = os.path.join(root, digest.hexdigest())
        os.makedirs(folder, exist_ok=True)
        final = os.path.join(folder, name)
        os.replace(partial, final)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    if stamp:
        tmp = index + f".{uuid.uuid4().hex[:8]}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"url": url, "path": final}, f)
        os.replace(tmp, index)
    return final


def _stamp(url: str) -> str:
    """What identifies the object's current bytes without reading them: size and checksum
    (S3's etag, GCS's crc32c); "" when the store gives none (then the copy is never reused)."""
    try:
        filesystem = FileSystems.get_filesystem(url)
        size, checksum = filesystem.size(url), filesystem.checksum(url)
    except Exception:  # the download that follows reports the real problem
        return ""
    return f"{size}:{checksum}" if checksum else ""


def require_file(path: str, what: str, hint: str = "") -> None:
    """Raises one `FileNotFoundError` naming `what` and `path` when the file cannot be read."""
    problem = unreadable(path)
    if problem:
        raise FileNotFoundError(f"{what} {problem}: {path}" + (f"; {hint}" if hint else ""))


def unreadable(path: str) -> str:
    """Why `path` cannot be read ("missing", or the store's own words), or "" when it can."""
    if not is_remote(path):
        if not os.path.exists(path):
            return "missing"
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            return "not a readable file"
        return ""
    try:
        return "" if FileSystems.exists(path) else "missing"
    except Exception as exc:  # no such bucket, access refused, endpoint unreachable, no filesystem
        return f"unreadable ({store_error(exc)})"


def store_error(exc: BaseException) -> str:
    """One line for what an object store raised (Beam wraps the client's error in its own)."""
    inner = getattr(exc, "exception_details", None)
    if isinstance(inner, dict) and inner:
        exc = next(iter(inner.values()))
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def copy_file(src: str, dst: str) -> None:
    """Copies `src` to `dst` (either may be a URL), streaming; `dst` appears only when complete."""
    from pipeline.files import atomic_write

    with FileSystems.open(src, compression_type="uncompressed") as f, atomic_write(dst) as out:
        shutil.copyfileobj(f, out, CHUNK)
