"""The cost of remote I/O made visible: the CommonCrawl job on the cluster in a box (input, models
and output in the local S3 store, the job on an external SDK worker that copies its models from
the store) beside the same job on the DirectRunner with everything on local disk, one worker
each, the same input and models, in one run.

Wall time is the whole command (start-up, staging, the job, the stats); peak RSS is each worker
process's high-water mark (VmHWM, polled), the launcher's beside it.

    python -m benchmarks.bench_cluster [--full]
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.cc_input import sentences
from benchmarks.cc_input import small_input as write_input
from benchmarks.cc_input import small_models as models
from benchmarks.common import Row
from tokens.stages import peak_rss_mb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class PeakWatcher:
    """Polls the high-water RSS of the processes `pids()` names while a command runs."""

    def __init__(self, pids):
        self.pids, self.peaks, self._stop = pids, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in self.pids():
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), peak_rss_mb(pid))
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_job(cmd: list[str], worker_pids) -> dict:
    """Runs the corpus command; its wall time, the workers' and the launcher's peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakWatcher(lambda: [proc.pid, *worker_pids(proc.pid)]) as watch:
        out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:6])} failed: {err[-3000:]}")
    workers = [mb for pid, mb in watch.peaks.items() if pid != proc.pid and mb > 0]
    return {"seconds": seconds, "worker_peak_mb": max(workers, default=float("nan")),
            "launcher_peak_mb": watch.peaks.get(proc.pid, float("nan")), "workers": len(workers)}


def run(quick: bool = True) -> list[Row]:
    from pipeline.assets import asset_path
    from samples.commoncrawl import fortunes
    from scripts.cluster import LocalCluster

    assets = os.path.dirname(asset_path("lid.176.ftz"))
    n = 500 if quick else 5_000
    with tempfile.TemporaryDirectory() as tmp:
        foreign = fortunes("de", random.Random(0)) + fortunes("ru", random.Random(0))
        paths = write_input(os.path.join(tmp, "in"), n, 1, sentences(assets), foreign)
        mb = sum(os.path.getsize(p) for p in paths) / 1e6
        lm_dir, classifier = models(tmp, assets, os.path.join(tmp, "in"))
        job = [sys.executable, "-m", "sources.run", "--source", "commoncrawl"]
        local = run_job([*job, "--input", os.path.join(tmp, "in"), "--output", os.path.join(tmp, "out"),
                         "--lm-dir", lm_dir, "--classifier-model", classifier, "--lid-model", asset_path("lid.176.ftz"),
                         "--direct_running_mode=multi_processing", "--direct_num_workers=1"], _descendants)
        with LocalCluster(bucket="bench-cluster") as cluster:
            store = f"s3://{cluster.bucket}"
            cluster.upload(os.path.join(tmp, "in"), f"{store}/in")
            cluster.upload(lm_dir, f"{store}/models")
            cluster.upload(asset_path("lid.176.ftz"), f"{store}/models/lid.176.ftz")
            pool = cluster.services[-1].proc.pid
            remote = run_job([*job, "--input", f"{store}/in", "--output", f"{store}/out", "--lm-dir", f"{store}/models",
                              "--classifier-model", f"{store}/models/{os.path.basename(classifier)}",
                              "--lid-model", f"{store}/models/lid.176.ftz", *cluster.beam_args()],
                             lambda _: [pid for pid in _descendants(pool)])
            stats = json.loads(cluster.client().get_object(
                Bucket=cluster.bucket, Key="out/clean/commoncrawl/stats.json")["Body"].read())
        with open(os.path.join(tmp, "out", "clean", "commoncrawl", "stats.json")) as f:
            local_stats = json.load(f)
    assert stats["documents_out"] == local_stats["documents_out"], (stats, local_stats)  # the same job
    note = (f"{n} pages, {mb:.2f} MB WET.gz; one worker each; cluster: S3 store + external worker that "
            f"installs the staged sdist and copies its models from the store")
    return [
        Row("commoncrawl job, cluster in a box", "wall seconds", remote["seconds"], "DirectRunner, local disk",
            local["seconds"], higher_is_better=False, notes=note),
        Row("commoncrawl job, cluster in a box", "peak RSS MB per worker", remote["worker_peak_mb"],
            "DirectRunner, local disk", local["worker_peak_mb"], higher_is_better=False,
            notes=f"launcher {remote['launcher_peak_mb']:.0f} MB vs {local['launcher_peak_mb']:.0f} MB; "
                  f"the highest of {remote['workers']} processes under the pool (boot, its pip install of "
                  f"the sdist, the SDK worker) vs {local['workers']} under the DirectRunner's launcher"),
    ]


if __name__ == "__main__":
    for row in run(quick="--full" not in sys.argv):
        print(row)
