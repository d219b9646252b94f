"""Config dataclasses <-> command-line flags, one to one.

Field `min_words: int = 3` becomes `--min-words` (type int, default 3, help from the field's
`metadata["help"]`); a `bool` field becomes `--name` / `--no-name`; a `tuple[str, ...]` field
takes a comma-separated list. `metadata["flags"]` spells the flag (and its aliases) another way.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, cls: type, group_title: str | None = None) -> None:
    group = parser.add_argument_group(group_title) if group_title else parser
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        help_text = field.metadata.get("help", "")
        help_text = f"{help_text} (default: {_show(default)})" if help_text else f"default: {_show(default)}"
        names = field.metadata.get("flags", (_flag(field.name),))
        if hint is bool:
            group.add_argument(_flag(field.name), dest=field.name, default=default, help=help_text,
                               action=argparse.BooleanOptionalAction)
        elif typing.get_origin(hint) is tuple:
            group.add_argument(*names, dest=field.name, default=default, help=help_text,
                               type=lambda s: tuple(x.strip() for x in s.split(",") if x.strip()))
        else:
            base = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
            group.add_argument(*names, dest=field.name, default=default, help=help_text,
                               type=base[0] if base[0] in (int, float, str) else str)


def from_args(cls: type, args: argparse.Namespace):
    """Builds `cls` from the parsed flags (fields not on the command line keep their defaults)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**values)


def _show(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return repr(value) if isinstance(value, str) else str(value)
