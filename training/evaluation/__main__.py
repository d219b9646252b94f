"""`python -m training.evaluation --run RUN [--tasks a,b] [--limit n] [--hf DIR]`: the paper's
zero- and few-shot benchmarks (section 3) on a run's newest checkpoint or a transformers LLaMA
folder; writes runs/<run>/eval/<task>.jsonl and runs/<run>/eval/summary.json and prints a table
laid out like the paper's."""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

from training.evaluation.run import evaluate_task, table, write_results
from training.evaluation.tasks import TASKS, resolve

DEFAULT_TASKS = "boolq,piqa,siqa,hellaswag,winogrande,arc_easy,arc_challenge,openbookqa"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation", description=__doc__.splitlines()[0])
    parser.add_argument("--run-name", "--run", dest="run", default="", help="run name: reads runs/<run>/checkpoints/, "
                        "writes runs/<run>/eval/")
    parser.add_argument("--runs-dir", default="runs", help="folder holding the run folders (default: runs)")
    parser.add_argument("--hf", default="", help="a transformers LLaMA folder to evaluate instead of the run's "
                        "checkpoint (e.g. runs/<run>/hf); without --run, results go to <DIR>/eval/")
    parser.add_argument("--data", default="data", help="data root; the tokenizer is <data>/tokenizer/tokenizer.model")
    parser.add_argument("--tokenizer", default="", help="SentencePiece model (default: <data>/tokenizer/tokenizer.model)")
    parser.add_argument("--tasks", default=DEFAULT_TASKS, help=f"comma-separated, or all: {', '.join(TASKS)} "
                        "(default: the common-sense tasks of Table 3)")
    parser.add_argument("--limit", type=int, default=0, help="the first n items of each task (0: all)")
    parser.add_argument("--shots", type=int, default=None, help="few-shot examples for NaturalQuestions/TriviaQA "
                        "(the paper: 0, 1, 5, 64) and MMLU (default: 0, MMLU 5)")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the few-shot draws")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--batch-tokens", type=int, default=8192, help="tokens per packed forward pass")
    parser.add_argument("--no-bf16", dest="bf16", action="store_false", help="float32 on GPU too (default: bf16)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.run and not args.hf:
        parser.error("give --run NAME (its newest checkpoint) or --hf DIR (a transformers LLaMA folder)")
    if args.limit < 0:
        parser.error("--limit must be >= 0")
    try:
        tasks = resolve([t.strip() for t in args.tasks.split(",") if t.strip()])
    except ValueError as exc:
        parser.error(str(exc))
    from training.evaluation.loading import load_hf, load_run

    run_dir = os.path.join(args.runs_dir, args.run) if args.run else args.hf
    try:
        if args.hf:
            model, tok = load_hf(args.hf)
            meta = {"model": os.path.abspath(args.hf)}
        else:
            tokenizer = args.tokenizer or os.path.join(args.data, "tokenizer", "tokenizer.model")
            model, tok, step = load_run(run_dir, tokenizer)
            meta = {"model": os.path.abspath(run_dir), "step": step}
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    want_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if want_cuda else "cpu")
    model.to(device)
    results = {}
    for task in tasks:
        t0 = time.perf_counter()
        try:
            row, records = evaluate_task(model, tok, task, args.limit, args.shots, args.seed, device,
                                         args.batch_tokens, args.bf16)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        row["seconds"] = round(time.perf_counter() - t0, 2)
        results[task.name] = (row, records)
        acc = "-" if row["accuracy"] is None else f"{100 * row['accuracy']:.1f}%"
        print(f"{task.name}: {acc} of {row['items']} items ({row['skipped']} skipped) in {row['seconds']:.1f}s",
              flush=True)
    path = write_results(os.path.join(run_dir, "eval"), results, meta | {"limit": args.limit})
    print(table(args.run or os.path.basename(args.hf.rstrip("/")), [r for r, _ in results.values()]))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
