"""Reading clean shards (`data/clean/<source>/<source>-SSSSS-of-NNNNN.jsonl.gz`), streaming,
for the tokenizer sample and the token job. Local paths and gs:// alike (Beam FileSystems)."""

from __future__ import annotations

import collections
import gzip
import json
import logging
import re
import zlib
from typing import Iterator

from apache_beam.io.filesystems import FileSystems

from pipeline.files import LongLine, capped_lines

log = logging.getLogger("tokenizer.corpus")

# JSON may spell a lone UTF-16 surrogate as an escape ("\ud83d": an emoji cut in half), which
# json.loads keeps in the str; SentencePiece's bindings refuse such a str (trainer: "Unable to
# cast", encoder: TypeError), so one such line would stop the tokenizer or the token job.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Far above any clean document a source writes (books are capped at 64 MB, arXiv papers at 50 MB),
# even JSON-escaped: a longer line was not written by a corpus job, and is never held whole.
MAX_LINE_BYTES = 512 * 2**20


def source_dir(data: str, source: str) -> str:
    return FileSystems.join(data, "clean", source)


def shard_files(data: str, source: str) -> list[str]:
    """The source's clean shards, sorted; [] when the source has not been built."""
    pattern = FileSystems.join(source_dir(data, source), f"{source}-*-of-*.jsonl.gz")
    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # Beam raises when nothing matches
        return []
    return sorted(m.path for m in found)


def iter_docs(path: str, problems: collections.Counter | None = None) -> Iterator[dict]:
    """Clean documents of one shard, one at a time. A line that is not a JSON document with a
    string `id` and `text` is skipped, a line over MAX_LINE_BYTES is skipped unread, and a
    truncated or corrupt shard ends early; all are logged and counted in `problems`
    ("bad_line", "too_large", "unreadable_shard")."""
    problems = problems if problems is not None else collections.Counter()
    with FileSystems.open(path, compression_type="uncompressed") as raw:
        with gzip.GzipFile(fileobj=raw) as gz:
            number = 0
            try:
                for line in capped_lines(gz, MAX_LINE_BYTES):
                    number += 1
                    doc = None if isinstance(line, LongLine) else _parse(line.decode("utf-8", errors="replace"))
                    if doc is None:
                        kind = "too_large" if isinstance(line, LongLine) else "bad_line"
                        log.warning("%s:%d: not a clean document (%s), skipped", path, number, kind)
                        problems[kind] += 1
                        continue
                    yield doc
            except (OSError, EOFError, zlib.error) as exc:
                log.error("%s: unreadable after line %d (%s), rest skipped", path, number, exc)
                problems["unreadable_shard"] += 1


def _parse(line: str) -> dict | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("text"), str) or not isinstance(doc.get("id"), str):
        return None
    if _SURROGATE.search(doc["text"]):
        doc["text"] = without_surrogates(doc["text"])
    return doc


def without_surrogates(text: str) -> str:
    """Lone surrogates become U+FFFD, as they do when written raw (the corpus writers'
    "surrogatepass" bytes, read back with errors="replace"): one text whichever way it was spelt."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def chars_out(data: str, source: str) -> int | None:
    """Characters of clean text the source's job wrote (stats.json `chars_out`), if it says."""
    value = _stats(data, source).get("chars_out")
    return int(value) if isinstance(value, int) and value > 0 else None


def documents_out(data: str, source: str) -> int | None:
    """Documents the source's job wrote (stats.json `documents_out`), if it says."""
    value = _stats(data, source).get("documents_out")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _stats(data: str, source: str) -> dict:
    path = FileSystems.join(source_dir(data, source), "stats.json")
    if not FileSystems.exists(path):
        return {}
    try:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            stats = json.loads(f.read())
    except (ValueError, OSError):
        return {}
    return stats if isinstance(stats, dict) else {}
