"""`make demo-cluster` gives what `make demo` gives: the same data stages, once on this machine's
disk with the DirectRunner and once on the cluster in a box (every input, model and output in the
local S3 store, the jobs on workers that see only their own folder), end byte-identical.

Reduced to Wikipedia and CommonCrawl, the chain every model URL goes through (lid.176 from the
store; `make lm` and `make classifier` reading the store and writing their models there; the
CommonCrawl job loading all three on its worker), the tokenizer trained on both and the token
shards (train, val, mix.json) written from them on the workers (tests/tokens/test_tokens.py
varies the token job's bucket count and runner locally); the whole
sample takes `make demo-cluster --compare data` (about 3.5 minutes here)."""

from __future__ import annotations

import os
import subprocess
import sys

from scripts import demo, demo_cluster
from scripts.cluster import ROOT

SOURCES = ("wikipedia", "commoncrawl")


def test_demo_cluster_ends_byte_identical_to_the_local_demo(tmp_path, capsys):
    local = tmp_path / "local"
    subprocess.run([sys.executable, "-m", "samples.build", "--output", str(local / "raw"),
                    "--sources", ",".join(SOURCES)], cwd=ROOT, check=True, capture_output=True)
    ran = []
    for name, cmd in demo.stages(str(local)):
        if cmd is not None and demo_cluster.selected(name, SOURCES):
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            assert proc.returncode == 0, f"{name}: {proc.stderr[-3000:]}"
            ran.append(name)
    assert ran == ["corpus wikipedia", "lm", "classifier", "corpus commoncrawl", "tokenizer", "tokens"]
    store = tmp_path / "store"
    code = demo_cluster.main(["--sources", ",".join(SOURCES), "--compare", str(local), "--download", str(store)])
    said = capsys.readouterr()
    assert code == 0, said.out[-3000:] + said.err[-3000:]
    assert f"outputs identical to {local}'s" in said.out
    for name in ran:
        assert f"{name} ok" in said.out
    # the token job's work folder (encoded buckets, shard plans) is gone from the store
    left = [os.path.join(d, n) for d, _, names in os.walk(store) for n in names]
    assert any(p.endswith("mix.json") for p in left) and not any(".work" in p for p in left)
