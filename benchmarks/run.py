"""`make bench`: runs every `benchmarks/bench_*.py` and writes benchmarks/RESULTS.md.

Each figure sits beside the floor or peer measured in the same run, as a ratio (the machine is
shared and noisy; absolute times drift). The file is regenerated, never hand-edited.

Each benchmark runs in a process of its own: what one imports or leaves behind (transformers'
tokenizer converters after lm-eval's model, a torch allocator after the corpus models) must not
change the next one's figures or make it fail, as it did when they shared one process.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import os
import pkgutil
import platform
import subprocess
import sys
import time
import traceback

import benchmarks
from benchmarks.common import GPU_SECTION, Row

HERE = os.path.dirname(os.path.abspath(__file__))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def table(rows: list[tuple[str, Row]]) -> str:
    out = ["| stage | metric | ours | floor / peer | theirs | ratio | notes |",
           "|---|---|---|---|---|---|---|"]
    for _, r in rows:
        out.append(f"| {r.stage} | {r.metric} | {_fmt(r.ours)} | {r.peer_name} | {_fmt(r.peer)} | "
                   f"{_fmt(r.ratio)}x | {r.notes} |")
    return "\n".join(out)


def _gpu_section(path: str) -> str:
    """The GPU section the last `python -m benchmarks.bench_gpu --results PATH` wrote into the
    file, kept when a machine without a GPU regenerates the rest."""
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except OSError:
        return ""
    start, end = old.find(GPU_SECTION[0]), old.find(GPU_SECTION[1])
    return "\n" + old[start:end + len(GPU_SECTION[1])] + "\n" if 0 <= start < end else ""


ROWS_MARK = "[bench-rows] "  # the child's last line: its rows as JSON


def run_isolated(name: str, full: bool) -> tuple[list[Row], str]:
    """Runs benchmarks/<name>.py in a child process: (its rows, the failure's traceback or "")."""
    code = f"import sys; from benchmarks.run import child; sys.exit(child({name!r}, {full!r}))"
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                          cwd=os.path.dirname(HERE))
    lines = proc.stdout.splitlines()
    marks = [line for line in lines if line.startswith(ROWS_MARK)]
    sys.stdout.write("".join(line + "\n" for line in lines if not line.startswith(ROWS_MARK)))
    if not marks:
        return [], f"the benchmark's process ended with status {proc.returncode} and no rows"
    result = json.loads(marks[-1][len(ROWS_MARK):])
    return [Row(**row) for row in result["rows"]], result["failure"]


def child(name: str, full: bool) -> int:
    """In the child: run one benchmark, print its rows (and a failure's traceback) as one line."""
    rows, failure = [], ""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        rows = [dataclasses.asdict(row) for row in module.run(quick=not full)]
    except Exception:
        failure = traceback.format_exc(limit=3)
    print(ROWS_MARK + json.dumps({"rows": rows, "failure": failure}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="larger inputs (slower; default: quick)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (e.g. c4,books)")
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    rows: list[tuple[str, Row]] = []
    failures = []
    start = time.time()
    for name in names:
        short = name[len("bench_"):]
        if only and short not in only:
            continue
        print(f"[bench] {short} ...", flush=True)
        t0 = time.time()
        found, failure = run_isolated(name, args.full)
        rows += [(short, row) for row in found]
        if failure:
            failures.append((short, failure))
            print(f"[bench] {short} failed:\n{failure}", file=sys.stderr)
        print(f"[bench] {short}: {time.time() - t0:.0f}s", flush=True)
    text = "\n".join([
        "# Benchmark results",
        "",
        f"Regenerated by `make bench` ({'full' if args.full else 'quick'} mode) on {time.strftime('%Y-%m-%d')}; "
        "do not edit by hand.",
        f"Machine: {machine()}. Total time {time.time() - start:.0f}s.",
        "Ratio = ours / theirs for throughput (higher is better), theirs / ours for times and memory.",
        "",
        table(rows),
        "",
        *(f"- benchmark `{n}` failed: `{tb.strip().splitlines()[-1]}`" for n, tb in failures),
        "",
    ])
    text += _gpu_section(args.output)
    with open(args.output, "w") as f:
        f.write(text)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
