"""Benchmark accuracies during training (`--eval-tasks`), for the paper's Figure 2: the tasks'
evolution against training tokens, beside the validation loss.

Every process scores the same items (the model may be sharded: its forward passes are
collective), the main process records them."""

from __future__ import annotations

import os
import time

from training.evaluation.loading import Tokenizer
from training.evaluation.run import evaluate_task
from training.evaluation.tasks import resolve


def task_names(spec: str) -> list[str]:
    return [t.strip() for t in spec.split(",") if t.strip()]


def check_config(spec: str, tokenizer_model: str) -> str | None:
    """What is wrong with --eval-tasks before the run starts (None: nothing)."""
    try:
        resolve(task_names(spec))
    except ValueError as exc:
        return f"--eval-tasks: {exc}"
    if not os.path.exists(tokenizer_model):
        return f"--eval-tasks needs the tokenizer the shards were made with, and {tokenizer_model} does not exist"
    return None


def task_accuracies(model, spec: str, tokenizer_model: str, limit: int, bf16: bool, step: int,
                    tokens: int) -> tuple[dict, str]:
    """(metrics row, log line): {"step", "tokens", "task_acc": {task: accuracy}}."""
    t0 = time.perf_counter()
    tok = Tokenizer(tokenizer_model)
    acc, items = {}, {}
    for task in resolve(task_names(spec)):
        summary, _ = evaluate_task(model, tok, task, limit=limit, bf16=bf16)
        if summary["accuracy"] is not None:
            acc[task.name], items[task.name] = summary["accuracy"], summary["items"]
    line = (f"step {step} | tasks " + " ".join(f"{k} {v:.3f}" for k, v in acc.items())
            + f" | {sum(items.values())} items in {time.perf_counter() - t0:.1f}s")
    return {"step": step, "tokens": tokens, "task_acc": acc}, line
