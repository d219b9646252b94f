"""The cluster in a box (`scripts/cluster.py`): jobs run on worker processes that see only their
own empty folder and the store, and every process the cluster starts is gone when it is left,
however it is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import apache_beam as beam
import pytest

from pipeline.options import beam_options
from scripts.cluster import ROOT, ClusterError, LocalCluster, Service, alive
from scripts.demo_cluster import compare


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(bucket="test-cluster") as box:  # stopped also when a test failed
        yield box


def run_where_am_i(cluster: LocalCluster, lines: list[str], tmp_path, tag: str) -> list[dict]:
    """Uploads `lines`, runs a read-map-write job on the cluster, returns the worker's reports."""

    def where_am_i(line: str) -> str:
        """Runs on a worker: what it sees around it, and where its copy of the project's code is.
        (Nested, so pickled by value: the workers have the shipped packages, not tests/.)"""
        import pipeline

        return json.dumps({"line": line, "pid": os.getpid(), "cwd": os.getcwd(), "listing": sorted(os.listdir(".")),
                           "tmp": os.environ.get("TMPDIR"), "home": os.environ.get("HOME"),
                           "code": pipeline.__file__})

    src = tmp_path / f"{tag}-in"
    src.mkdir()
    (src / "a.txt").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    (src / "b.txt").write_text("\n".join(lines[len(lines) // 2:]) + "\n")
    base = f"s3://{cluster.bucket}/{tag}"
    assert cluster.upload(str(src), f"{base}/in") == 2
    with beam.Pipeline(options=beam_options(cluster.beam_args())) as p:
        (p | beam.io.ReadFromText(f"{base}/in/*.txt") | beam.Map(where_am_i)
           | beam.io.WriteToText(f"{base}/out/where", file_name_suffix=".jsonl"))
    assert cluster.download(f"{base}/out", str(tmp_path / f"{tag}-out")) >= 1
    out = tmp_path / f"{tag}-out"
    return [json.loads(line) for f in sorted(out.iterdir()) for line in f.read_text().splitlines()]


def test_a_job_reads_and_writes_the_store_on_workers_that_see_only_their_own_folder(cluster, tmp_path):
    lines = [f"line {i}" for i in range(20)]
    reports = run_where_am_i(cluster, lines, tmp_path, "where")
    assert sorted(r["line"] for r in reports) == sorted(lines)  # every line went through the store and back
    started = set(cluster.pids())
    for r in reports:
        assert r["pid"] != os.getpid() and r["pid"] in started  # a process the cluster started, not this one
        assert r["cwd"] not in (os.getcwd(), ROOT)
        assert os.path.dirname(r["cwd"]) == cluster.worker_root()
        assert r["tmp"] == r["home"] == r["cwd"]
        assert "data" not in r["listing"] and ".cache" not in r["listing"]
        assert set(r["listing"]) <= {"semi_persistent", "site"}
        # the project's code is the sdist the job shipped (--setup_file), installed in its own folder
        assert r["code"].startswith(os.path.join(r["cwd"], "site") + os.sep)


def test_everything_stops_when_the_block_ends_or_raises(tmp_path):
    for fail in (False, True):
        seen: list[int] = []
        try:
            with LocalCluster(bucket="stop-test") as box:
                tmp = box.tmp
                workers = {r["pid"] for r in run_where_am_i(box, ["x", "y"], tmp_path, f"stop{fail}")}
                seen = box.pids()
                assert workers <= set(seen) and len(seen) >= 3  # store, pool, worker(s)
                assert all(alive(pid) for pid in seen)
                if fail:
                    raise RuntimeError("boom")
        except RuntimeError as exc:
            assert fail and str(exc) == "boom"
        assert seen and not [pid for pid in seen if alive(pid)]
        assert not os.path.exists(tmp)


# A process started from a background job inherits SIGINT ignored (POSIX shells do that without job
# control), and Python then installs no KeyboardInterrupt handler: the command under test gets the
# terminal's Ctrl-C handling back, as it has when a user runs it.
HOLD = textwrap.dedent("""
    import json, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from scripts.cluster import LocalCluster
    with LocalCluster(bucket="signal-test") as box:
        print(json.dumps({"pids": box.pids(), "tmp": box.tmp}), flush=True)
        time.sleep(120)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_stops_everything(sig):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-c", HOLD], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        started = json.loads(proc.stdout.readline())
        assert len(started["pids"]) >= 2 and all(alive(pid) for pid in started["pids"])
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert not [pid for pid in started["pids"] if alive(pid)]
    assert not os.path.exists(started["tmp"])


def test_a_server_that_dies_at_start_is_named_with_the_end_of_its_log(tmp_path):
    cmd = [sys.executable, "-c", "import sys; print('cannot bind: port taken', flush=True); sys.exit(3)"]
    service = Service("toy server", cmd, str(tmp_path / "toy.log"), str(tmp_path / "toy"), dict(os.environ), 1)
    with pytest.raises(ClusterError, match=r"(?s)toy server exited with status 3.*cannot bind: port taken"):
        service.start(timeout=30)
    service.stop()
    assert service.pids() == []


def test_a_corpus_job_on_the_cluster_matches_the_direct_runner(cluster, tmp_path):
    from samples.build import main as build_samples

    build_samples(["--sources", "wikipedia", "--output", str(tmp_path / "local" / "raw")])
    cluster.upload(str(tmp_path / "local" / "raw" / "wikipedia"), f"{cluster.data_url}/raw/wikipedia")
    job = [sys.executable, "-m", "sources.run", "--source", "wikipedia"]
    t0 = time.time()
    subprocess.run([*job, "--output", str(tmp_path / "local")], cwd=ROOT, check=True, capture_output=True)
    on_cluster = subprocess.run([*job, "--output", cluster.data_url, *cluster.beam_args()], cwd=ROOT,
                                capture_output=True, text=True)
    assert on_cluster.returncode == 0, on_cluster.stderr[-3000:]
    cluster.download(f"{cluster.data_url}/clean", str(tmp_path / "store" / "clean"))
    assert os.listdir(tmp_path / "store" / "clean" / "wikipedia")
    assert compare(str(tmp_path / "store"), str(tmp_path / "local")) == []
    assert time.time() - t0 < 120


def _data_root(root, shard: bytes, documents_out: int, model: bytes) -> str:
    (root / "clean" / "toy").mkdir(parents=True)
    (root / "clean" / "toy" / "toy-00000-of-00001.jsonl.gz").write_bytes(shard)
    stats = {"source": "toy", "documents_in": 3, "documents_out": documents_out, "seconds": 1.5, "input": str(root),
             "config": {"lid_model": str(root / "lid.ftz"), "min_chars": 0},
             "perplexity_cutoffs": {"head": 310.6, "from": str(root / "models" / "en.cutoffs.json")}}
    (root / "clean" / "toy" / "stats.json").write_text(json.dumps(stats))
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "tokenizer.model").write_bytes(model)
    return str(root)


def test_compare_names_each_difference_and_ignores_time_and_places(tmp_path):
    import gzip

    shard = gzip.compress(b'{"id": "toy/1"}\n', mtime=0)
    base = _data_root(tmp_path / "a", shard, 2, b"model")
    assert compare(base, _data_root(tmp_path / "b", shard, 2, b"model")) == []  # seconds, input, model path differ
    assert compare(base, _data_root(tmp_path / "c", gzip.compress(b'{"id": "toy/2"}\n', mtime=0), 1, b"other")) == [
        "clean/toy/toy-00000-of-00001.jsonl.gz: different bytes (1 vs 1 documents)",
        "clean/toy/stats.json: documents_out is 2 here, 1 there",
        "tokenizer/tokenizer.model: different bytes"]
    (tmp_path / "d").mkdir()
    assert compare(base, str(tmp_path / "d")) == ["clean/toy: missing there", "tokenizer/tokenizer.model: only here"]
    for root, shard in ((tmp_path / "a", b"\x01\x00"), (tmp_path / "b", b"\x02\x00")):
        (root / "tokens" / "val").mkdir(parents=True)
        (root / "tokens" / "train-00000.bin").write_bytes(shard)
        (root / "tokens" / "val" / "toy.bin").write_bytes(b"\x03\x00")
        (root / "tokens" / "mix.json").write_text("{}")
    (tmp_path / "a" / "tokens" / "train-00001.bin").write_bytes(b"\x04\x00")
    assert compare(base, str(tmp_path / "b")) == ["tokens/train-00001.bin: only here",
                                                  "tokens/train-00000.bin: different bytes"]
