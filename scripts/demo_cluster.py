"""`make demo-cluster`: the demo's data stages on a cluster in a box (`scripts/cluster.py`).

Builds the sample locally, uploads it and the language-ID model to a local S3-protocol store,
then runs the same commands as `make demo` (the 7 corpus jobs, `lm`, `classifier`, `tokenizer`,
`tokens`) with `--data`/`--output` an `s3://` URL, every model an `s3://` URL, and the Beam jobs
(corpus, tokens) on SDK workers in their own empty folders. `--compare DIR` then checks the
store's outputs against a `make demo` data folder: clean shards byte-identical, stats.json counts
equal, the same tokenizer model, token shards, val/*.bin and mix.json byte-identical. Stops the store and the workers however it ends.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

from pipeline.assets import asset_path
from scripts import demo
from scripts.cluster import LocalCluster
from sources import registry

DATA_STAGES = ("lm", "classifier", "tokenizer", "tokens")
BEAM_STAGES = ("tokens",)  # besides the corpus jobs: run on the workers
# stats.json fields that differ between runs by nature: wall time and where the input was.
VOLATILE_STATS = ("seconds", "input")


def takes_lid_model(source: str) -> bool:
    return any(f.name == "lid_model" for f in dataclasses.fields(registry.get(source).Config))


def selected(name: str, sources: tuple[str, ...]) -> bool:
    """Whether a demo stage is one of the data stages for `sources` (`lm` and `classifier` go
    with CommonCrawl, whose job needs their models)."""
    if name.startswith("corpus "):
        return name.split(" ", 1)[1] in sources
    if name in ("lm", "classifier"):
        return "commoncrawl" in sources
    return name in DATA_STAGES


def cluster_stages(cluster: LocalCluster, lid_url: str, sources: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """The demo's data stages for `sources`, pointed at the store: Beam jobs get the cluster's
    runner and store flags, the other commands the store flags."""
    out = []
    for name, cmd in demo.stages(cluster.data_url):
        if cmd is None or not selected(name, sources):
            continue
        if name.startswith("corpus "):
            source = name.split(" ", 1)[1]
            cmd = [*cmd, *(["--lid-model", lid_url] if takes_lid_model(source) else []), *cluster.beam_args()]
        elif name in BEAM_STAGES:
            cmd = [*cmd, *cluster.beam_args()]
        else:
            cmd = [*cmd, *cluster.store_args()]
        out.append((name, cmd))
    return out


def run_stage(name: str, cmd: list[str]) -> tuple[int, float]:
    print(f"[demo-cluster] {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.time()
    code = subprocess.run(cmd).returncode
    seconds = time.time() - t0
    print(f"[demo-cluster] {name}: {'done' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f}s", flush=True)
    return code, seconds


def _shards(folder: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        return {}
    return {n: os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".jsonl.gz")}


def _same_bytes(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def _stats(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        stats = json.load(f)
    config = stats.get("config", {})
    # model locations differ (a local path there, an s3:// URL here); the settings must not
    stats["config"] = {k: v for k, v in config.items() if not k.endswith(("_model", "_dir"))}
    return _names_only({k: v for k, v in stats.items() if k not in VOLATILE_STATS})


def _names_only(value):
    """A stats value with every file location (an `s3://` URL here, a local path there, such as
    where the perplexity cutoffs came from) cut to the file's name."""
    if isinstance(value, dict):
        return {k: _names_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_names_only(v) for v in value]
    if isinstance(value, str) and ("://" in value or value.startswith(os.sep)):
        return value.rstrip("/").rsplit("/", 1)[-1]
    return value


def compare_source(ours: str, theirs: str, source: str) -> list[str]:
    """Differences of one source's clean folder: shard names and bytes, stats.json."""
    a, b = os.path.join(ours, "clean", source), os.path.join(theirs, "clean", source)
    if not (os.path.isdir(a) and os.path.isdir(b)):
        return [f"clean/{source}: missing {'here' if not os.path.isdir(a) else 'there'}"]
    mine, other = _shards(a), _shards(b)
    if sorted(mine) != sorted(other):
        return [f"clean/{source}: shards {sorted(mine)} here, {sorted(other)} there"]
    problems = [f"clean/{source}/{n}: different bytes ({_lines(mine[n])} vs {_lines(other[n])} documents)"
                for n in mine if not _same_bytes(mine[n], other[n])]
    sa, sb = os.path.join(a, "stats.json"), os.path.join(b, "stats.json")
    if not (os.path.exists(sa) and os.path.exists(sb)):
        problems.append(f"clean/{source}/stats.json: missing {'here' if not os.path.exists(sa) else 'there'}")
    else:
        x, y = _stats(sa), _stats(sb)
        problems += [f"clean/{source}/stats.json: {k} is {x.get(k)!r} here, {y.get(k)!r} there"
                     for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
    return problems


def _lines(path: str) -> int:
    with gzip.open(path, "rb") as f:
        return sum(1 for _ in f)


def _token_files(root: str) -> dict[str, str]:
    """tokens/train-*.bin, tokens/val/*.bin and tokens/mix.json under a data root, by name."""
    folder = os.path.join(root, "tokens")
    names = [n for n in (os.listdir(folder) if os.path.isdir(folder) else [])
             if n == "mix.json" or (n.startswith("train-") and n.endswith(".bin"))]
    if os.path.isdir(os.path.join(folder, "val")):
        names += [f"val/{n}" for n in os.listdir(os.path.join(folder, "val")) if n.endswith(".bin")]
    return {f"tokens/{n}": os.path.join(folder, *n.split("/")) for n in sorted(names)}


def compare_tokens(ours: str, theirs: str) -> list[str]:
    """Differences of the token job's outputs, byte for byte ([] when neither root has any)."""
    mine, other = _token_files(ours), _token_files(theirs)
    problems = [f"{n}: only {'here' if n in mine else 'there'}" for n in sorted(set(mine) ^ set(other))]
    return problems + [f"{n}: different bytes" for n in mine if n in other and not _same_bytes(mine[n], other[n])]


def compare(ours: str, theirs: str) -> list[str]:
    """What differs between two data roots (`ours` from the store, `theirs` from `make demo`):
    clean shards byte for byte, stats.json counts, the tokenizer model, the token files byte for
    byte. [] when nothing does."""
    sources = set()
    for root in (ours, theirs):
        clean = os.path.join(root, "clean")
        if os.path.isdir(clean):
            sources |= {d for d in os.listdir(clean) if os.path.isdir(os.path.join(clean, d))}
    problems = [p for source in sorted(sources) for p in compare_source(ours, theirs, source)]
    if not sources:
        problems.append("no clean/ folder on either side")
    model_a, model_b = (os.path.join(r, "tokenizer", "tokenizer.model") for r in (ours, theirs))
    if os.path.exists(model_a) != os.path.exists(model_b):
        problems.append(f"tokenizer/tokenizer.model: only {'here' if os.path.exists(model_a) else 'there'}")
    elif os.path.exists(model_a) and not _same_bytes(model_a, model_b):
        problems.append("tokenizer/tokenizer.model: different bytes")
    return problems + compare_tokens(ours, theirs)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo-cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--compare", default="", metavar="DIR",
                        help="a `make demo` data folder to check the outputs against (e.g. data)")
    parser.add_argument("--download", default="", metavar="DIR",
                        help="copy the store's data folder here at the end (default: a temp folder)")
    parser.add_argument("--keep-going", action="store_true", help="run the stages after a failed one too")
    parser.add_argument("--sources", default=",".join(registry.available()),
                        help="comma-separated sources to build and run (default: all)")
    args = parser.parse_args(argv)
    args.sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    return args


def run_all(cluster: LocalCluster, tmp: str, args: argparse.Namespace) -> dict[str, tuple[int, float]]:
    """Sample, uploads, then every stage; stage -> (exit status, seconds)."""
    results = {"sample": run_stage("sample", [sys.executable, "-m", "samples.build", "--output", f"{tmp}/raw",
                                              "--sources", ",".join(args.sources)])}
    if results["sample"][0]:
        return results
    t0 = time.time()
    n = cluster.upload(f"{tmp}/raw", f"{cluster.data_url}/raw")
    lid_url = f"s3://{cluster.bucket}/models/lid.176.ftz"
    cluster.upload(asset_path("lid.176.ftz"), lid_url)
    print(f"[demo-cluster] upload: {n} raw files and lid.176.ftz in {time.time() - t0:.0f}s", flush=True)
    for name, cmd in cluster_stages(cluster, lid_url, args.sources):
        results[name] = run_stage(name, cmd)
        if results[name][0] and not args.keep_going:
            break
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    start = time.time()
    try:
        with tempfile.TemporaryDirectory(prefix="demo-cluster-") as tmp, LocalCluster() as cluster:
            print(f"[demo-cluster] store on {cluster.endpoint}, workers on 127.0.0.1:{cluster.pool_port}, "
                  f"logs in {cluster.tmp}", flush=True)
            results = run_all(cluster, tmp, args)
            out = args.download or os.path.join(tmp, "out")
            if args.download or args.compare:
                cluster.download(cluster.data_url, out)
            problems = compare(out, args.compare) if args.compare else []
    except KeyboardInterrupt:
        print("\n[demo-cluster] interrupted: the store and the workers are stopped", file=sys.stderr)
        return 130
    failed = [name for name, (code, _) in results.items() if code]
    print("[demo-cluster] " + ", ".join(f"{n} {'FAILED' if c else 'ok'} {s:.0f}s" for n, (c, s) in results.items()))
    for problem in problems:
        print(f"[demo-cluster] differs from {args.compare}: {problem}", file=sys.stderr)
    if args.compare and not problems:
        print(f"[demo-cluster] outputs identical to {args.compare}'s")
    print(f"[demo-cluster] finished in {time.time() - start:.0f}s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
