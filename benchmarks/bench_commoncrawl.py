"""CommonCrawl (CCNet) job: WET text per CPU-second of the Beam job beside the CCNet floor, both
at the marginal rate, each stage beside its own floor, and the line-dedup shuffle's bytes.

Input and models: `benchmarks.cc_input` (a segment's language mix, ~45% English; SentencePiece
+ KenLM and the Wikipedia-reference classifier trained on the whole sample Wikipedia). "MB of
WET text" counts the pages' text (the conversion records' blocks, UTF-8), not the gzip files.

Whole job: every run is its own process, and its CPU-seconds are all of that process's (user +
system, from the parent's RUSAGE_CHILDREN): imports, model loading and Beam's start-up included.
Each is run at 1x and 2x the input; the marginal rate is the extra input over the extra
CPU-seconds, so the fixed start-up cancels. The floor (CCNet's unavoidable work, one plain loop
over the same files, in its own process the same way): read each WET record (warcio), fastText
lid.176 on every page, SentencePiece + KenLM on the lines of the English pages, a 64-bit hash of
every line. The job does more than that (line normalisation, the dedup shuffle, the classifier,
writing shards and stats); the goal is within 1.5x of the floor.

Stages: in one process, on the 1x input, each step of the job beside the library call it cannot
avoid, CPU-seconds, best of 3, ours and the floor in turns (see `stage_rows`).

    python -m benchmarks.bench_commoncrawl [--full]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile

from benchmarks.common import Row

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_MB_S = 2.3  # issue 23: the Beam job at >= 2.3 MB of WET text per CPU-second


def cpu_seconds_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_run(mode: str, lm_dir: str, model: str, out: str, paths: list[str]) -> dict:
    """One run of `mode` (beam, plain or floor) in its own process: its CPU-seconds and result."""
    cmd = [sys.executable, "-m", "benchmarks.cc_child", mode, lm_dir, model, out, *paths]
    env = dict(os.environ, PYTHONPATH=ROOT)
    before = cpu_seconds_children()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run failed: {proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["cpu_s"] = cpu_seconds_children() - before
    return result


def best_runs(modes: list[str], sizes: dict[str, list[str]], lm_dir: str, model: str, tmp: str,
              repeat: int) -> dict[tuple[str, str], dict]:
    """Each (mode, size) `repeat` times, interleaved (noise hits all alike); the least CPU kept."""
    best: dict[tuple[str, str], dict] = {}
    for attempt in range(repeat):
        for size, paths in sizes.items():
            for mode in modes:
                out = os.path.join(tmp, f"out-{mode}-{size}-{attempt}")
                run = child_run(mode, lm_dir, model, out, paths)
                if (mode, size) not in best or run["cpu_s"] < best[(mode, size)]["cpu_s"]:
                    best[(mode, size)] = run
    return best


def job_rows(runs: dict, mb: dict[str, float], n: int) -> list[Row]:
    def marginal(mode: str) -> float:
        return (mb["2x"] - mb["1x"]) / max(1e-9, runs[(mode, "2x")]["cpu_s"] - runs[(mode, "1x")]["cpu_s"])

    beam, plain, floor = marginal("beam"), marginal("plain"), marginal("floor")
    whole = {m: mb["2x"] / runs[(m, "2x")]["cpu_s"] for m in ("beam", "plain", "floor")}
    start_up = {m: runs[(m, "1x")]["cpu_s"] - mb["1x"] / marginal(m) for m in ("beam", "floor")}
    cpu = ", ".join(f"{m} {runs[(m, '1x')]['cpu_s']:.1f}/{runs[(m, '2x')]['cpu_s']:.1f}" for m in ("beam", "plain", "floor"))
    note = (f"{n:,} -> {2 * n:,} pages, {mb['1x']:.1f} -> {mb['2x']:.1f} MB of WET text, ~45% English; CPU-s of the "
            f"whole process at 1x/2x: {cpu}; goal >= {GOAL_MB_S} and within 1.5x of the floor "
            f"({'met' if beam >= GOAL_MB_S and floor / beam <= 1.5 else 'NOT met'})")
    return [
        Row("commoncrawl job (marginal, 2x-1x)", "MB WET text per CPU-s", beam, "CCNet floor loop", floor, notes=note),
        Row("commoncrawl job, plain loop (marginal)", "MB WET text per CPU-s", plain, "CCNet floor loop", floor,
            notes="the same steps as one Python loop in one process (`CommonCrawl.plain_loop`)"),
        Row("commoncrawl job (whole, 2x input)", "MB WET text per CPU-s", whole["beam"], "CCNet floor loop",
            whole["floor"], notes=f"start-up included: Beam's fixed cost ~{start_up['beam']:.1f} CPU-s, "
                                  f"the floor's ~{start_up['floor']:.1f} (imports, models)"),
        Row("commoncrawl job", "peak RSS MB, 2x input", runs[("beam", "2x")]["peak_rss_mb"], "plain Python loop",
            runs[("plain", "2x")]["peak_rss_mb"], higher_is_better=False,
            notes=f"1x: {runs[('beam', '1x')]['peak_rss_mb']:.0f} vs {runs[('plain', '1x')]['peak_rss_mb']:.0f}; "
                  "the in-memory runner and the loop both hold the whole input"),
    ]


def run(quick: bool = True) -> list[Row]:
    from benchmarks import cc_input
    from benchmarks.cc_stages import stage_rows
    from pipeline.assets import asset_path

    assets = os.path.dirname(asset_path("lid.176.ftz"))
    # Full: 9,000 -> 18,000 pages (~21 -> 41 MB of text, half a real WET file); quick: 500 -> 1,000.
    n = 500 if quick else 9_000
    with tempfile.TemporaryDirectory() as tmp:
        pool = cc_input.texts(assets)
        one, mb1 = cc_input.write_input(os.path.join(tmp, "in1"), n, 1, pool)
        extra, mb_extra = cc_input.write_input(os.path.join(tmp, "in2"), n, 2, pool)
        sizes = {"1x": one, "2x": one + extra}
        mb = {"1x": mb1 / 1e6, "2x": (mb1 + mb_extra) / 1e6}
        lm_dir, model = cc_input.train_models(tmp, assets, os.path.join(tmp, "in1"))
        # best of 3: with 2, a loaded machine once gave a negative start-up (1x slower than 2x)
        runs = best_runs(["beam", "plain", "floor"], sizes, lm_dir, model, tmp, repeat=3)
        for size in sizes:  # the same steps give the same result
            assert runs[("beam", size)]["docs_out"] == runs[("plain", size)]["docs_out"], (size, runs)
        rows = job_rows(runs, mb, n)
        rows += stage_rows(one, lm_dir, model, n_lid_peer=min(n, 2000))
    return rows


if __name__ == "__main__":
    for row in run(quick="--full" not in sys.argv):
        print(f"{row.stage:<40} {row.metric:<28} ours {row.ours:10.3f}  {row.peer_name:<34} {row.peer:10.3f}"
              f"  ratio {row.ratio:5.2f}  {row.notes}")
