"""pipeline/localcache.py: a model URL becomes a local file once per process, kept under the sha256
of its bytes; another process finds the copy without downloading again; a changed object is a new
copy; an unreadable one is a message naming it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from pipeline import localcache
from tests.fixtures.s3_server import s3_store


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(localcache.tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    monkeypatch.setattr(localcache, "_copies", {})
    yield tmp_path / "llama-models"


def test_a_url_is_copied_once_under_its_content_hash(cache, tmp_path):
    model = os.urandom(3 * localcache.CHUNK // 2)  # more than one chunk
    with s3_store() as store:
        url = store.bucket("models-cache") + "/lm/en.arpa.bin"
        store.client.put_object(Bucket="models-cache", Key="lm/en.arpa.bin", Body=model)
        local = localcache.local_copy(url)
        assert local == str(cache / hashlib.sha256(model).hexdigest() / "en.arpa.bin")
        with open(local, "rb") as f:
            assert f.read() == model
        assert localcache.local_copy(url) == local  # this process: from memory
        os.utime(local, (1, 1))
        # another process on the machine (a second worker): the same file, not downloaded again
        code = ("import sys; from pipeline.options import use_filesystems; from pipeline.localcache import local_copy;"
                "use_filesystems(sys.argv[2:]); print(local_copy(sys.argv[1]))")
        env = dict(os.environ, TMPDIR=str(tmp_path))
        other = subprocess.run([sys.executable, "-c", code, url, *store.flags], capture_output=True, text=True,
                               env=env, check=True).stdout.strip()
        assert other == local and os.stat(local).st_mtime == 1
        # the object changed: a new copy under the new bytes' hash, the old one left for whoever reads it
        store.client.put_object(Bucket="models-cache", Key="lm/en.arpa.bin", Body=b"retrained")
        changed = subprocess.run([sys.executable, "-c", code, url, *store.flags], capture_output=True, text=True,
                                 env=env, check=True).stdout.strip()
        assert changed == str(cache / hashlib.sha256(b"retrained").hexdigest() / "en.arpa.bin")
        assert os.path.exists(local)
        assert not [n for n in os.listdir(cache) if n.startswith(".partial-")]


def test_local_paths_stay_and_unreadable_models_are_named(cache, tmp_path):
    path = tmp_path / "lid.ftz"
    path.write_bytes(b"x")
    assert localcache.local_copy(str(path)) == str(path)
    with pytest.raises(FileNotFoundError, match=r"fastText model missing: .*nothing\.ftz"):
        localcache.require_file(str(tmp_path / "nothing.ftz"), "fastText model")
    with pytest.raises(FileNotFoundError, match="not a readable file"):
        localcache.require_file(str(tmp_path), "fastText model")
    with s3_store() as store:
        store.bucket("models-named")
        with pytest.raises(FileNotFoundError, match=r"KenLM model missing: s3://models-named/en\.arpa\.bin; run"):
            localcache.require_file("s3://models-named/en.arpa.bin", "KenLM model", "run `make lm`")
