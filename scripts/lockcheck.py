"""The locks under requirements/ against pyproject.toml and against the running environment.

    python -m scripts.lockcheck                      pyproject's requirements the cpu lock misses
    python -m scripts.lockcheck --extra LOCK...      installed packages no lock names (setup drops them)

Used by `make setup` and by tests/project/test_lock.py.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "requirements"
PROJECT = "llama-corpus"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def read_lock(path: Path) -> dict[str, Version]:
    """{canonical name: version} of a lock or a `name==version` file (hash lines skipped)."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        m = _PIN.match(line)
        if m:
            pins[canonicalize_name(m.group(1))] = Version(m.group(2))
    return pins


def project_requirements(pyproject: Path = ROOT / "pyproject.toml", extras=("test",)) -> list[Requirement]:
    """pyproject's dependencies and those of the given extras, as parsed requirements."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project.get("optional-dependencies", {}).get(extra, [])]
    return reqs


def unsatisfied(reqs: list[Requirement], pins: dict[str, Version]) -> list[str]:
    """Each requirement the locked versions do not satisfy, with what the lock has."""
    env = {"extra": ""}
    problems = []
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        have = pins.get(name)
        if have is None:
            problems.append(f"{req}: not in the lock")
        # A local tag (torch's +cpu) is a build of the public version it carries.
        elif not req.specifier.contains(Version(have.public), prereleases=True) and not req.specifier.contains(have, prereleases=True):
            problems.append(f"{req}: the lock has {name}=={have}")
    return problems


def installed() -> dict[str, Version]:
    """{canonical name: version} of the running interpreter's environment, the project aside."""
    out = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        if name and name != PROJECT:
            out[name] = Version(dist.version)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extra", nargs="+", metavar="LOCK", help="print installed packages none of these locks names")
    ap.add_argument("--lock", default=str(REQ / "cpu.lock"))
    args = ap.parse_args(argv)
    if args.extra:
        named = {}
        for lock in args.extra:
            named.update(read_lock(Path(lock)))
        print(" ".join(sorted(set(installed()) - set(named))))
        return 0
    problems = unsatisfied(project_requirements(), read_lock(Path(args.lock)))
    for p in problems:
        print(f"{args.lock}: {p}", file=sys.stderr)
    if problems:
        print("run `make lock`", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
