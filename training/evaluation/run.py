"""Scores tasks on a model: per-item records, per-task accuracy, the files and the table."""

from __future__ import annotations

import json
import os

import torch

from training.evaluation import formats, rules
from training.evaluation.scoring import greedy, loglikelihoods, make_group, make_groups
from training.evaluation.tasks import Task, load_items


def score_choices(model, tok, task: Task, items: list, device: torch.device, budget: int, bf16: bool) -> list[dict]:
    """One record per multiple-choice item: the choices with their summed log-likelihoods and
    token counts (and unconditional ones for `uncond`), the prediction, the gold, correct."""
    max_len = model.args.max_seq_len
    groups, where = [], []  # where[item] = [(group index, continuation index) per choice]
    for item in items:
        conts = item.continuations()
        if len(item.contexts) == 1:
            where.append([(0, 0)] * len(conts))
            for group, indices in make_groups(tok, item.contexts[0], conts, max_len):
                groups.append(group)
                for j, i in enumerate(indices):
                    where[-1][i] = (len(groups) - 1, j)
        else:  # one context per choice (WinoGrande)
            where.append([])
            for ctx, cont in zip(item.contexts, conts):
                groups.append(make_group(tok, ctx, [cont], max_len))
                where[-1].append((len(groups) - 1, 0))
    uncond_at = len(groups)
    if task.rule == "uncond":
        groups += [make_group(tok, formats.ANSWER_CONTEXT, item.continuations(), max_len) for item in items]
    scores = loglikelihoods(model, groups, device, budget, bf16)
    records = []
    for k, item in enumerate(items):
        lls = [scores[g][j] for g, j in where[k]]
        choices = [{"text": c, "loglik": ll, "tokens": n} for c, (ll, n) in zip(item.choices, lls)]
        logliks = [ll for ll, _ in lls]
        if task.rule == "uncond":
            unc = [ll for ll, _ in scores[uncond_at + k]]
            for choice, u in zip(choices, unc):
                choice["loglik_unconditional"] = u
            pred = rules.uncond_pick(logliks, unc)
        elif task.rule == "char_norm":
            pred = rules.char_norm_pick(logliks, item.choices)
        else:
            pred = rules.raw_pick(logliks)
        records.append({"id": item.id, "choices": choices, "prediction": pred, "gold": item.gold,
                        "correct": pred == item.gold})
    return records


def score_answers(model, tok, items: list, device: torch.device, bf16: bool) -> list[dict]:
    answers = greedy(model, tok, [item.contexts[0] for item in items], device, formats.ANSWER_STOPS, bf16=bf16)
    return [{"id": item.id, "prediction": answer, "gold": item.gold, "correct": rules.exact_match(answer, item.gold)}
            for item, answer in zip(items, answers)]


def evaluate_task(model, tok, task: Task, limit: int = 0, shots: int | None = None, seed: int = 1234,
                  device: torch.device | None = None, budget: int = 8192, bf16: bool = True,
                  root: str | None = None) -> tuple[dict, list[dict]]:
    """(summary row, per-item records) of one task."""
    device = device or next(model.parameters()).device
    items, skipped = load_items(task, limit, shots, seed, root)
    was_training = model.training
    model.eval()
    try:
        if task.rule == "exact_match":
            records = score_answers(model, tok, items, device, bf16)
        else:
            records = score_choices(model, tok, task, items, device, budget, bf16)
    finally:
        model.train(was_training)
    correct = sum(r["correct"] for r in records)
    summary = {"task": task.name, "title": task.title, "rule": task.rule,
               "shots": task.shots if shots is None else shots, "items": len(records),
               "accuracy": correct / len(records) if records else None,
               "skipped": sum(skipped.values()), "skipped_reasons": dict(skipped)}
    return summary, records


def _write_atomic(path: str, text: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def write_results(out_dir: str, results: dict[str, tuple[dict, list[dict]]], meta: dict) -> str:
    """eval/<task>.jsonl (one record a line) and eval/summary.json (merged with earlier tasks')."""
    os.makedirs(out_dir, exist_ok=True)
    for name, (_, records) in results.items():
        _write_atomic(os.path.join(out_dir, f"{name}.jsonl"), "".join(json.dumps(r) + "\n" for r in records))
    path = os.path.join(out_dir, "summary.json")
    summary = {"tasks": {}}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            try:
                summary = json.load(f)
            except ValueError:
                pass
    summary.update(meta)
    summary.setdefault("tasks", {}).update({name: row for name, (row, _) in results.items()})
    _write_atomic(path, json.dumps(summary, indent=2) + "\n")
    return path


def table(name: str, rows: list[dict]) -> str:
    """The paper's layout: one column per benchmark, accuracy in percent, one line per model."""
    heads = [r["title"] + (f" ({r['shots']}-shot)" if r["shots"] else "") for r in rows]
    cells = ["-" if r["accuracy"] is None else f"{100 * r['accuracy']:.1f}" for r in rows]
    widths = [max(len(h), len(c)) for h, c in zip(heads, cells)]
    first = max(len(name), 5)
    line = lambda label, xs: f"{label:<{first}} | " + " | ".join(f"{x:>{w}}" for x, w in zip(xs, widths))  # noqa: E731
    counts = [str(r["items"]) + (f" (-{r['skipped']})" if r["skipped"] else "") for r in rows]
    return "\n".join([line("", heads), line(name, cells), line("items", counts)])
