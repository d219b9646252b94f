"""Source name -> `Source` class: each source is a package `sources/<name>/` whose `source`
module sets `SOURCE = <class>`. A source is listed once its package exists."""

from __future__ import annotations

import importlib

from sources.table1 import TABLE1

# The paper's seven sources in Table 1 order (package name = source name).
ALL_SOURCES = tuple(TABLE1)


def _module(name: str) -> str:
    return f"sources.{name}.source"


def available() -> list[str]:
    """The sources built so far (an unbuilt source is simply absent)."""
    names = []
    for name in ALL_SOURCES:
        try:
            importlib.import_module(_module(name))
        except ModuleNotFoundError as exc:
            if exc.name not in (f"sources.{name}", _module(name)):
                raise
            continue
        names.append(name)
    return names


def get(name: str):
    """The `Source` subclass for `name`; a clear error listing valid names otherwise."""
    valid = available()
    if name not in valid:
        raise KeyError(f"unknown source {name!r}; valid sources: {', '.join(valid) or '(none built yet)'}")
    return importlib.import_module(_module(name)).SOURCE
