"""The locks under requirements/ (made by `make lock`) against pyproject.toml and the running .venv."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from scripts import lockcheck

ROOT = Path(__file__).resolve().parents[2]
REQ = ROOT / "requirements"
LOCKS = ("cpu.lock", "gpu.lock")


def freeze() -> dict[str, Version]:
    """`pip freeze --all` of the running interpreter, the editable project aside."""
    out = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True).stdout
    pins = {}
    for line in out.splitlines():
        if line.startswith(("#", "-e ")) or not line.strip():
            continue
        name, sep, version = line.partition("==")
        assert sep, f"pip freeze line not pinned: {line!r}"
        if canonicalize_name(name) == lockcheck.PROJECT:  # pip writes the editable project so, too,
            continue  # in a git checkout without a remote when run from pytest
        pins[canonicalize_name(name)] = Version(version)
    return pins


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(), reason="runs in the project's .venv (make test)")
def test_venv_is_exactly_the_lock():
    frozen = freeze()
    torch = frozen.get("torch")
    assert torch is not None, "torch is not installed"
    # The CPU build carries the local tag +cpu (cpu.lock); the default index's build none (gpu.lock).
    lock = REQ / ("cpu.lock" if torch.local == "cpu" else "gpu.lock")
    want = {**lockcheck.read_lock(lock), **lockcheck.read_lock(REQ / "nodeps.lock")}
    missing = {n: str(v) for n, v in want.items() if n not in frozen}
    extra = {n: str(v) for n, v in frozen.items() if n not in want}
    moved = {n: f"{frozen[n]} installed, {v} locked" for n, v in want.items()
             if n in frozen and frozen[n] != v and frozen[n].public != v.public}
    assert not (missing or extra or moved), f"{lock.name}: missing {missing}, not locked {extra}, other version {moved} (rm .venv/.setup-* && make setup)"


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_satisfies_pyproject(lock):
    problems = lockcheck.unsatisfied(lockcheck.project_requirements(), lockcheck.read_lock(REQ / lock))
    assert not problems, f"{lock} does not satisfy pyproject.toml (run `make lock`): {problems}"


def test_lock_check_fails_on_a_requirement_the_lock_misses(tmp_path):
    text = (ROOT / "pyproject.toml").read_text()
    pins = lockcheck.read_lock(REQ / "cpu.lock")
    numpy = pins["numpy"]
    for changed, expect in [
        (text.replace('"numpy>=1.26"', f'"numpy>{numpy}"'), f"numpy>{numpy}: the lock has numpy=={numpy}"),
        (text.replace('"torch>=2.4"', '"torch>=99"'), "torch>=99: the lock has torch=="),
        (text.replace('"pytest>=8"', '"pytest>=8", "a-package-nobody-locked"'), "a-package-nobody-locked: not in the lock"),
    ]:
        assert changed != text
        path = tmp_path / "pyproject.toml"
        path.write_text(changed)
        problems = lockcheck.unsatisfied(lockcheck.project_requirements(path), pins)
        assert len(problems) == 1 and problems[0].startswith(expect), problems
    # The unchanged file passes, and so does the command-line check the README names.
    assert lockcheck.unsatisfied(lockcheck.project_requirements(), pins) == []


def test_every_locked_package_has_hashes():
    for name in (*LOCKS, "nodeps.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (REQ / name).read_text())
        for entry in entries:
            if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", entry):
                assert "--hash=sha256:" in entry, f"{name}: {entry.splitlines()[0]} has no hash"


def test_locks_agree_and_workers_use_them():
    cpu, gpu = (lockcheck.read_lock(REQ / n) for n in LOCKS)
    workers = lockcheck.read_lock(REQ / "workers.txt")
    assert cpu["torch"].local == "cpu" and gpu["torch"].local is None and cpu["torch"].public == gpu["torch"].public
    # The GPU lock is the CPU lock plus torch's CUDA libraries, every shared package at one version.
    assert {n: v for n, v in gpu.items() if n in cpu and n != "torch" and v != cpu[n]} == {}
    assert set(cpu) - set(gpu) == set()
    # Workers: the run-time dependencies at the locked versions, without the test extra.
    assert {n: v for n, v in workers.items() if gpu.get(n) != v} == {}
    assert "pytest" not in workers and "apache-beam" in workers and "torch" in workers
    # One requirement a line, no hashes: Beam's stager hands each line to `pip download` alone.
    lines = [ln for ln in (REQ / "workers.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[^\s]+", ln) for ln in lines), lines[:5]
    for req in lockcheck.project_requirements(extras=()):
        assert canonicalize_name(req.name) in workers, f"{req} not in workers.txt"


def test_mistral_common_is_locked_apart_and_python_matches():
    nodeps = lockcheck.read_lock(REQ / "nodeps.lock")
    assert list(nodeps) == ["accelerate", "lm-eval", "mistral-common"]
    for name in nodeps:
        assert name not in lockcheck.read_lock(REQ / "cpu.lock")
    for name in (*LOCKS, "nodeps.lock"):
        header = (REQ / name).read_text().splitlines()[1]
        m = re.search(r"make lock \(Python (\d+\.\d+),", header)
        assert m, f"{name}: no Python in its header: {header!r}"
        assert m.group(1) == "%d.%d" % sys.version_info[:2], f"{name} was made for Python {m.group(1)}"
    assert Requirement("numpy<2.4").specifier.contains(lockcheck.read_lock(REQ / "cpu.lock")["numpy"]) is False, (
        "numpy is below 2.4 now: mistral-common's own requirement could be kept (requirements/nodeps.in)")
