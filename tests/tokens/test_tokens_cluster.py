"""The token job with DATA in an object store, on the cluster in a box (`scripts/cluster.py`):
workers in their own empty folders, every file through the store. Its files must be the bytes
the DirectRunner writes from the same inputs on a local disk."""

from __future__ import annotations

import os

import pytest

from scripts.cluster import LocalCluster
from scripts.demo_cluster import compare_tokens
from tests.fixtures.tokens import build_corpus
from tokenizer import train
from tokens import run as tokens

SEQ_LEN = 64
FLAGS = ["--seq-len", str(SEQ_LEN), "--shard-tokens", str((SEQ_LEN + 1) * 40), "--val-tokens", "300",
         "--buckets", "3"]


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(bucket="test-tokens") as box:  # stopped also when a test failed
        yield box


def test_token_job_on_store_and_workers_writes_the_local_runs_bytes(cluster, tmp_path):
    local = str(tmp_path / "local")
    build_corpus(local)
    train.run(local, train.TokenizerConfig(vocab_size=400, sample_chars=120_000, num_threads=1))
    url = f"s3://{cluster.bucket}/tokdata"
    for folder in ("clean", "tokenizer"):
        assert cluster.upload(os.path.join(local, folder), f"{url}/{folder}") > 0
    # the command as a user types it, with Beam's object-store and runner flags
    assert tokens.main(["--data", url, *FLAGS, *cluster.beam_args()]) == 0
    assert tokens.main(["--data", local, *FLAGS, "--runner=DirectRunner", "--direct_running_mode=in_memory"]) == 0
    store = str(tmp_path / "store")
    cluster.download(f"{url}/tokens", os.path.join(store, "tokens"))
    names = sorted(os.path.relpath(os.path.join(d, n), store) for d, _, ns in os.walk(store) for n in ns)
    assert "tokens/mix.json" in names and "tokens/val/books.bin" in names  # and nothing left of .work:
    assert sum(n.startswith("tokens/train-") for n in names) > 5 and not any(".work" in n for n in names)
    assert compare_tokens(store, local) == []
    with open(os.path.join(local, "tokens", "train-00002.bin"), "r+b") as f:
        f.write(b"\xff\xff")  # the comparison sees one changed token
    assert compare_tokens(store, local) == ["tokens/train-00002.bin: different bytes"]
