"""The report's benchmarks section: the newest run's task accuracies against training tokens beside
its validation loss (the paper's Figure 2), and the table of `make eval` (runs/<run>/eval/
summary.json) laid out like the paper's, each accuracy beside the chance level of its task."""

from __future__ import annotations

import glob
import html
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from scripts.report_inputs import read_json  # noqa: E402
from scripts.report_page import Report, html_table, missing_note  # noqa: E402
from training.evaluation.tasks import TASKS  # noqa: E402


def _rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:  # a line a killed run left cut short: the training section counts it
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows.append(row)
    return rows


def curves(rows: list[dict]) -> tuple[list[tuple[int, float]], dict[str, list[tuple[int, float]]]]:
    """(validation loss by training tokens, {task: accuracy by training tokens})."""
    tokens = {r["step"]: r["tokens"] for r in rows if isinstance(r.get("tokens"), (int, float))}
    val = [(tokens[r["step"]], r["val_loss"]) for r in rows
           if isinstance(r.get("val_loss"), (int, float)) and r["step"] in tokens]
    acc: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if isinstance(r.get("task_acc"), dict) and r["step"] in tokens:
            for task, value in r["task_acc"].items():
                if isinstance(value, (int, float)):
                    acc.setdefault(task, []).append((tokens[r["step"]], value))
    return val, acc


def near_chance(accuracy: float, chance: float, items: int) -> bool:
    """Within two binomial standard errors of a uniform random pick's accuracy."""
    return abs(accuracy - chance) <= 2 * math.sqrt(chance * (1 - chance) / max(1, items))


def _figure(report: Report, val, acc) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].plot([p[0] for p in val], [p[1] for p in val], marker="o", color="#4c72b0")
    axes[0].set_ylabel("validation loss")
    for i, (task, points) in enumerate(sorted(acc.items())):
        line, = axes[1].plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", label=task)
        chance = TASKS[task].chance if task in TASKS else 0.0
        if chance:
            axes[1].axhline(100 * chance, color=line.get_color(), linestyle=":", linewidth=1)
    axes[1].set_ylabel("accuracy (%), dotted: chance")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("training tokens")
        ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter())  # 150k, 1.5M, ...
    return report.figure(fig, "benchmarks_during_training")


def _table(summary: dict) -> str:
    rows = [r for r in (summary.get("tasks") or {}).values() if isinstance(r, dict) and r.get("items")]
    if not rows:
        return missing_note("results of `make eval` (runs/<run>/eval/summary.json)")
    header = ["", *(f"{r.get('title', r.get('task'))}" + (f" ({r['shots']}-shot)" if r.get("shots") else "") for r in rows)]
    cells, chance, near = ["accuracy (%)"], ["chance (%)"], []
    for r in rows:
        task = TASKS.get(r.get("task", ""))
        cells.append("-" if r.get("accuracy") is None else f"{100 * r['accuracy']:.1f}")
        chance.append(f"{100 * task.chance:.1f}" if task and task.chance else "-")
        if task and task.chance and r.get("accuracy") is not None:
            near.append(near_chance(r["accuracy"], task.chance, r["items"]))
    items = ["items", *(str(r["items"]) for r in rows)]
    verdict = ""
    if near:
        verdict = (f"<p>{sum(near)} of {len(near)} multiple-choice accuracies are within two standard errors of "
                   f"chance. A model of this size trained on this few tokens is expected to sit near chance; the "
                   f"paper's Tables 3-9 come from 7B-65B models trained on 1-1.4T tokens.</p>")
    return html_table(header, [cells, chance, items]) + verdict


def benchmarks(report: Report, runs: str) -> None:
    paths = sorted(glob.glob(os.path.join(runs, "*", "metrics.jsonl")), key=os.path.getmtime)
    if not paths:
        report.section("benchmarks", "Benchmarks", missing_note("no runs/<run>/metrics.jsonl"))
        return
    run_dir = os.path.dirname(paths[-1])
    run = os.path.basename(run_dir)
    val, acc = curves(_rows(paths[-1]))
    body = f"<p>Run <code>{html.escape(run)}</code>.</p>"
    if acc:
        body += ("<p>Accuracies during training (train with <code>--eval-tasks</code>; "
                 "<code>--eval-limit</code> items a task) against training tokens, beside the validation "
                 "loss, as the paper's Figure 2.</p>" + _figure(report, val, acc))
    else:
        body += missing_note(f"task accuracies during training (run {run} was trained without --eval-tasks)")
    summary = read_json(os.path.join(run_dir, "eval", "summary.json"))
    body += "<h3>make eval</h3>" + _table(summary if isinstance(summary, dict) else {})
    report.section("benchmarks", "Benchmarks (the paper's section 3)", body)
