"""The report's inputs, read for `scripts/report.py` as far as they can be: `read_json` (a file
missing or damaged is None), `Scan` (clean/rejected shards for the histograms, a damaged shard or
line skipped and counted) and `doc_meta` (a document's meta, or {} when it has none)."""

from __future__ import annotations

import glob
import gzip
import html
import json
import os
import zlib

MAX_DOCS_SCANNED = 200_000  # per source, for the histograms


def read_json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Scan:
    """Reads clean/rejected shards for the histograms, at most MAX_DOCS_SCANNED documents a
    pattern. A shard that cannot be read to its end (a copy cut short, a disk that filled up) or
    a line that is not a JSON object costs only itself: the documents before the fault are used,
    and `note()` says what was skipped, so one bad file never takes the whole report down."""

    def __init__(self):
        self.bad_files: list[str] = []
        self.bad_lines = 0

    def docs(self, pattern: str):
        seen = 0
        for path in sorted(glob.glob(pattern)):
            try:
                with gzip.open(path, "rt", encoding="utf-8") as f:
                    for line in f:
                        try:
                            doc = json.loads(line)
                        except ValueError:
                            doc = None
                        if not isinstance(doc, dict):
                            self.bad_lines += 1
                            continue
                        yield doc
                        seen += 1
                        if seen >= MAX_DOCS_SCANNED:
                            return
            except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
                self.bad_files.append(f"{os.path.basename(path)} ({type(e).__name__})")

    def note(self) -> str:
        parts = []
        if self.bad_files:
            parts.append(f"{len(self.bad_files)} unreadable shard(s) skipped from the fault on: "
                         + ", ".join(self.bad_files))
        if self.bad_lines:
            parts.append(f"{self.bad_lines} line(s) that are not JSON objects skipped")
        return f'<p class="missing">{html.escape("; ".join(parts))}.</p>' if parts else ""


def doc_meta(doc: dict) -> dict:
    meta = doc.get("meta")
    return meta if isinstance(meta, dict) else {}
