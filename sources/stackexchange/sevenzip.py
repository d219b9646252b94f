"""One member of a .7z archive as a stream, read from wherever the archive is.

py7zr reads the archive through any seekable file object (a local file or Beam's object-store
stream, which reads by ranges) and, given a writer factory, hands the decompressed bytes to a
writer as it goes. A thread decompresses into a bounded queue and the caller reads the other
end, so neither the archive nor the member (stackoverflow.com's Posts.xml is over 100 GB) is
copied to disk or held in memory: at most `QUEUE_CHUNKS` decompressed chunks wait.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from typing import IO, Iterator

QUEUE_CHUNKS = 16
_DONE = object()


class Cancelled(Exception):
    """The reader went away: the decompressing thread stops at its next write."""


class _QueueWriter:
    """py7zr's writer (the `Py7zIO` interface): each write goes into the queue."""

    def __init__(self, chunks: queue.Queue, cancelled: threading.Event):
        self.chunks = chunks
        self.cancelled = cancelled
        self.written = 0

    def write(self, data: bytes | bytearray) -> int:
        while True:
            if self.cancelled.is_set():
                raise Cancelled()
            try:
                self.chunks.put(bytes(data), timeout=0.2)
                break
            except queue.Full:
                continue
        self.written += len(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.written

    def close(self) -> None:
        pass


class _Factory:
    def __init__(self, writer: _QueueWriter):
        self.writer = writer

    def create(self, filename: str) -> _QueueWriter:
        return self.writer


class _QueueReader(io.RawIOBase):
    """The reading end; an error of the decompressing thread is raised where the data stops."""

    def __init__(self, chunks: queue.Queue):
        self.chunks = chunks
        self.pending = b""
        self.finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending and not self.finished:
            item = self.chunks.get()
            if item is _DONE:
                self.finished = True
            elif isinstance(item, BaseException):
                self.finished = True
                raise item
            else:
                self.pending = item
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def member_names(archive: IO[bytes] | str) -> list[str]:
    import py7zr

    _rewind(archive)
    with py7zr.SevenZipFile(archive, mode="r") as seven:
        return seven.getnames()


def _rewind(archive: IO[bytes] | str) -> None:
    """py7zr reads a file object from where it stands: an archive opened once and read twice
    (names, then a member) starts again from its first byte."""
    if not isinstance(archive, str):
        archive.seek(0)


@contextlib.contextmanager
def open_member(archive: IO[bytes] | str, name: str) -> Iterator[IO[bytes]]:
    """A buffered binary stream of member `name`. Reading it raises what decompression raised
    (a truncated or corrupt archive) once the bytes before the damage have been read."""
    import py7zr

    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    cancelled = threading.Event()
    _rewind(archive)

    def decompress():
        try:
            with py7zr.SevenZipFile(archive, mode="r") as seven:
                seven.extract(targets=[name], factory=_Factory(_QueueWriter(chunks, cancelled)))
            outcome = _DONE
        except Cancelled:
            return
        except Exception as exc:  # handed to the reader, which raises it
            outcome = exc
        while not cancelled.is_set():
            try:
                chunks.put(outcome, timeout=0.2)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=decompress, name="7z-member", daemon=True)
    thread.start()
    try:
        yield io.BufferedReader(_QueueReader(chunks), buffer_size=1 << 20)
    finally:
        cancelled.set()
        thread.join()
