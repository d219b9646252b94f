"""Books tests' helpers: writing raw files, binding volumes into an omnibus."""

from __future__ import annotations

import os


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def omnibus(*volumes: str) -> str:
    """Volumes bound into one book, each whole, as an omnibus edition prints them."""
    return "\n\n\n".join(volumes)
