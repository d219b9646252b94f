"""Seeded, bounded samples for `make lm` and `make classifier`, and the streamed readers they draw
from (clean Wikipedia shards, raw CommonCrawl pages), all through Beam's FileSystems, so the data
may be a local folder or an object-store URL (`s3://`, `gs://`).

`SeededSample` is a bottom-k sample: each item gets a seeded 64-bit hash of its key (a document id,
or a document id and line number), and the sample is the items of lowest hash that fit the caps
(a number of items, a total size). It holds only what it keeps, so memory is bounded by the caps,
not by the input; the same seed and keys give the same sample whatever the order or number of the
files; and once the caps are met, an item whose hash is past the cut-off is refused before any
work is spent on it (`wants`). `items()` gives what was kept in the order it was offered, so with
caps above the input the sample is the input itself, in its own order.
"""

from __future__ import annotations

import gzip
import heapq
import json
import zlib
from typing import Iterator

from apache_beam.io.filesystems import FileSystems

from pipeline.files import LongLine, capped_lines, stable_hash64

# A clean document is one JSON line; corpus jobs cap a document far below this (books at 64 MB),
# so a longer line was not written by them and is read past, never held whole.
MAX_LINE_BYTES = 256 * 2**20
NO_CUTOFF = 2**64  # above every 64-bit hash
SEED = 1234  # the default seed of `make lm` and `make classifier` (the classifier's fastText seed before)


class SeededSample:
    """The items of lowest seeded hash that fit `max_items` and `max_size` (either may be None)."""

    def __init__(self, seed: int, max_items: int | None = None, max_size: int | None = None):
        self.seed = seed
        self.max_items = max_items
        self.max_size = max_size
        self.size = 0  # total size of what is kept
        self.offered = 0
        self.cutoff = NO_CUTOFF  # the lowest hash ever let go: no item at or past it can be kept
        self._heap: list[tuple[int, int, int, object]] = []  # (-hash, -order, size, item): largest hash first

    def __len__(self) -> int:
        return len(self._heap)

    def position(self, key: str) -> int:
        return stable_hash64(f"{self.seed}/{key}")

    def wants(self, key: str) -> bool:
        """Whether an item of this key could be kept now (False: skip the work of making it)."""
        return self.position(key) < self.cutoff

    def offer(self, key: str, item: object, size: int = 1) -> bool:
        """Adds `item` if it belongs in the sample, letting go of those of highest hash that no
        longer fit; returns whether `item` is kept."""
        order = self.offered
        self.offered += 1
        h = self.position(key)
        if h >= self.cutoff:
            return False
        heapq.heappush(self._heap, (-h, -order, size, item))
        self.size += size
        while self._heap and self._over():
            neg_h, neg_order, dropped_size, _ = heapq.heappop(self._heap)
            self.size -= dropped_size
            self.cutoff = min(self.cutoff, -neg_h)
            if neg_order == -order:
                return False
        return True

    def _over(self) -> bool:
        return ((self.max_items is not None and len(self._heap) > self.max_items)
                or (self.max_size is not None and self.size > self.max_size))

    def complete(self) -> bool:
        """True when nothing offered was let go (the sample is the whole input)."""
        return self.cutoff == NO_CUTOFF

    def items(self) -> list:
        """What is kept, in the order it was offered."""
        return [entry[3] for entry in sorted(self._heap, key=lambda e: -e[1])]


def clean_shards(directory: str) -> list[str]:
    """The clean shards (`*.jsonl.gz`) of a source's output folder, sorted; [] when there are none.
    A store that cannot be listed (refused, unreachable) raises `OSError` naming the folder."""
    from pipeline.localcache import store_error

    try:
        found = FileSystems.match([FileSystems.join(directory, "*.jsonl.gz")])[0].metadata_list
    except Exception as exc:  # Beam wraps what the store said in its own BeamIOError
        raise OSError(f"cannot list {directory}: {store_error(exc)}") from None
    return sorted(m.path for m in found)


def clean_docs(path: str) -> Iterator[tuple[str, str]]:
    """(id, text) of each clean document of one shard, streamed. A line that is not a clean
    document is skipped; a shard that cannot be opened or inflated raises `OSError` naming it."""
    for doc_id, text, _ in clean_docs_with_language(path):
        yield doc_id, text


def clean_docs_with_language(path: str) -> Iterator[tuple[str, str, str]]:
    """(id, text, language) of each clean document of one shard, as `clean_docs`; the language
    is the document's `meta["language"]` ("" when it has none)."""
    number = 0
    try:
        with FileSystems.open(path, compression_type="uncompressed") as raw, gzip.GzipFile(fileobj=raw) as gz:
            for number, line in enumerate(capped_lines(gz, MAX_LINE_BYTES), 1):
                doc = None if isinstance(line, LongLine) else _parse(line)
                if doc is not None:
                    yield doc
    except (OSError, EOFError, zlib.error) as exc:
        raise OSError(f"cannot read {path} (after line {number}): {exc}") from None


def _parse(line: bytes) -> tuple[str, str, str] | None:
    try:
        doc = json.loads(line.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("text"), str):
        meta = doc.get("meta")
        language = meta.get("language") if isinstance(meta, dict) else None
        return str(doc.get("id", "")), doc["text"], language if isinstance(language, str) else ""
    return None


def raw_pages(raw_dir: str) -> Iterator[tuple[str, str]]:
    """(id, text) of each CommonCrawl page (WET/WARC files or folders at `raw_dir`), streamed;
    nothing when `raw_dir` names no file. Damaged records are skipped (the corpus job counts them)."""
    from pipeline.document import Document
    from pipeline.files import expand_inputs
    from pipeline.warc import read_warc

    try:
        paths = expand_inputs(raw_dir)
    except FileNotFoundError:
        return
    for path in paths:
        for record in read_warc(path, "commoncrawl"):
            if isinstance(record, Document):
                yield record.id, record.text
