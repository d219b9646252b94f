"""The CommonCrawl job's output as digests: a check that a change to the job's code leaves its
output byte-identical for the same models and input.

Runs `sources.run --source commoncrawl` (the DirectRunner, in this process's checkout) over
`--input` with the models in `--models`, then prints one line per clean and rejected shard
(sha256 of its decompressed bytes, so gzip's header time does not count) and the stats' counts.
Run it from two checkouts (before and after a change) with the same models and compare:

    python -m scripts.cc_output_digest --input DATA/raw/commoncrawl --models DATA/models --work /tmp/a > a.txt
    (cd ../other-checkout && python -m scripts.cc_output_digest ... --work /tmp/b) > b.txt
    diff a.txt b.txt
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import subprocess
import sys


def digests(out: str) -> list[str]:
    """`kind/shard sha256 lines` for every output shard under `out`, and the stats' counts."""
    lines = []
    for kind in ("clean", "rejected", "errors"):
        for path in sorted(glob.glob(os.path.join(out, kind, "commoncrawl", "*.jsonl.gz"))):
            with gzip.open(path, "rb") as f:
                data = f.read()
            n_lines = data.count(b"\n")
            lines.append(f"{kind}/{os.path.basename(path)} {hashlib.sha256(data).hexdigest()} {n_lines} lines")
    with open(os.path.join(out, "clean", "commoncrawl", "stats.json")) as f:
        stats = json.load(f)
    for key in ("documents_in", "documents_out", "dropped", "errors"):
        lines.append(f"{key} {json.dumps(stats.get(key), sort_keys=True)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cc_output_digest", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="folder of WET/WARC files")
    parser.add_argument("--models", required=True, help="folder with en.sp.model, en.arpa.bin, wiki_classifier.bin")
    parser.add_argument("--work", required=True, help="output folder for the job (written)")
    args = parser.parse_args(argv)
    cmd = [sys.executable, "-m", "sources.run", "--source", "commoncrawl", "--input", args.input,
           "--output", args.work, "--keep-rejected", "--lm-dir", args.models,
           "--classifier-model", os.path.join(args.models, "wiki_classifier.bin")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"error: the job failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return 2
    print("\n".join(digests(args.work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
