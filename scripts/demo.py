"""`make demo`: the whole recipe on the sample data, as far as it is built.

Each stage runs the same command a user would type. A stage whose code does not exist yet is
not in the chain (and says so); nothing pretends.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time

from sources.registry import ALL_SOURCES, available

DEMO_RUN = os.path.join("runs", "demo")
# Items a task in the demo's benchmarks, during training (these tasks, at each validation) and
# after (`make eval`'s default: the common-sense tasks of the paper's Table 3). About 12
# CPU-seconds in all on the demo's tiny model, `make eval`'s start included.
DEMO_EVAL_LIMIT = 16
DEMO_TRAIN_TASKS = "hellaswag,arc_easy"
# Table 1's order, but Wikipedia first and CommonCrawl last: Wikipedia's output feeds
# CommonCrawl's KenLM model and classifier (`make lm`, `make classifier`).
CORPUS_ORDER = tuple(sorted(ALL_SOURCES, key=lambda name: (name == "commoncrawl") - (name == "wikipedia")))


def built(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def stages(data: str) -> list[tuple[str, list[str] | None]]:
    py = sys.executable
    out: list[tuple[str, list[str] | None]] = [("sample", [py, "-m", "samples.build", "--output", f"{data}/raw"])]
    sources = available()
    for name in CORPUS_ORDER:
        if name == "commoncrawl" and name in sources:
            out.append(("lm", [py, "-m", "sources.commoncrawl.lm", "--data", data]))
            out.append(("classifier", [py, "-m", "sources.commoncrawl.classifier", "--data", data,
                                       "--negatives", f"{data}/raw/commoncrawl-negatives"]))
        models = ["--lm-dir", f"{data}/models", "--classifier-model", f"{data}/models/wiki_classifier.bin"]
        out.append((f"corpus {name}", [py, "-m", "sources.run", "--source", name, "--output", data, "--keep-rejected",
                                       *(models if name == "commoncrawl" else [])] if name in sources else None))
    # The sample is a few MB: a 4,000-piece vocabulary and 256-token sequences fit it (the paper's
    # 32,000 and 2,048 need a real corpus; both are the defaults of `make tokenizer` / `make tokens`).
    out.append(("tokenizer", [py, "-m", "tokenizer.train", "--data", data, "--vocab-size", "4000"]
                if built("tokenizer.train") else None))
    out.append(("tokens", [py, "-m", "tokens.run", "--data", data, "--seq-len", "256"]
                if built("tokens.run") else None))
    # Benchmarks on a few items (DEMO_EVAL_LIMIT): the tiny model scores near chance, but the
    # accuracies' evolution, the files and the table are those of a real run.
    out.append(("train tiny", [py, "-m", "training.train", "--model", "tiny", "--run-name", "demo", "--data", data,
                               "--demo", "--eval-tasks", DEMO_TRAIN_TASKS, "--eval-limit", str(DEMO_EVAL_LIMIT)]
                if built("training.train") else None))
    out.append(("eval", [py, "-m", "training.evaluation", "--run-name", "demo", "--data", data,
                         "--limit", str(DEMO_EVAL_LIMIT)] if built("training.evaluation") else None))
    out.append(("report", [py, "-m", "scripts.report", "--data", data] if built("scripts.report") else None))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    args = parser.parse_args(argv)
    start = time.time()
    for name, cmd in stages(args.data):
        if cmd is None:
            print(f"[demo] {name}: not built yet, skipped", flush=True)
            continue
        if name == "train tiny" and os.path.isdir(DEMO_RUN):
            # `make train` resumes a run; the demo trains afresh on the data it has just built.
            print(f"[demo] removing {DEMO_RUN} of an earlier demo", flush=True)
            shutil.rmtree(DEMO_RUN)
        print(f"[demo] {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.time()
        try:
            proc = subprocess.run(cmd)
        except KeyboardInterrupt:  # Ctrl-C reaches the stage too; every stage rewrites its outputs
            print(f"\n[demo] interrupted during {name}: run `make demo` again to redo it", file=sys.stderr)
            return 130
        if proc.returncode != 0:
            print(f"[demo] {name} failed (exit {proc.returncode})", file=sys.stderr)
            return proc.returncode
        print(f"[demo] {name}: done in {time.time() - t0:.0f}s", flush=True)
    print(f"[demo] finished in {time.time() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
