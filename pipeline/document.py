"""The records that flow through every stage: `Document` and `ErrorRecord`.

A clean shard line is `{"id", "text", "source", "meta"}` (README, "What is on disk"); a rejected line adds
`drop_reason`; an error line says which input could not be read and why.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


@dataclasses.dataclass(slots=True)
class Document:
    """One document of one source, from reading to writing."""

    id: str
    text: str
    source: str
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self, drop_reason: str | None = None) -> str:
        record: dict[str, Any] = {"id": self.id, "text": self.text, "source": self.source, "meta": self.meta}
        if drop_reason is not None:
            record["drop_reason"] = drop_reason
        return json.dumps(record, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_json(cls, line: str | bytes) -> Document:
        record = json.loads(line)
        return cls(id=record["id"], text=record["text"], source=record["source"], meta=record.get("meta") or {})


@dataclasses.dataclass(slots=True)
class Rejected:
    """A document dropped by a named filter, for `data/rejected/` and the stats."""

    doc: Document
    reason: str


# An excerpt of the raw record is kept with each error so a user can see what was wrong,
# bounded so that a 50 MB bad record does not become a 50 MB error line.
MAX_ERROR_EXCERPT = 4096


@dataclasses.dataclass(slots=True)
class ErrorRecord:
    """A raw record that could not be read or processed (the dead letter)."""

    source: str
    input: str  # file path (and member / offset when known)
    kind: str  # short class of the error, the key in stats.json "errors"
    message: str
    excerpt: str = ""

    @classmethod
    def of(cls, source: str, input: str, kind: str, error: BaseException | str, raw: bytes | str = b"") -> ErrorRecord:
        if isinstance(raw, bytes):
            raw = raw[:MAX_ERROR_EXCERPT].decode("utf-8", errors="backslashreplace")
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(source=source, input=input, kind=kind, message=message[:2000], excerpt=raw[:MAX_ERROR_EXCERPT])

    @property
    def id(self) -> str:
        """A stable key for ordering error shards."""
        digest = hashlib.sha1(f"{self.input}\0{self.kind}\0{self.message}".encode("utf-8", "replace")).hexdigest()
        return f"{self.input}#{digest[:12]}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


def stable_id(source: str, *parts: str) -> str:
    """`<source>/<hex>` from the parts that identify a record in its input (stable across reruns)."""
    digest = hashlib.sha1("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{source}/{digest[:20]}"
