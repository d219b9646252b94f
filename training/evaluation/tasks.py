"""The benchmarks of the paper's section 3, each a name, a data folder, a prompt format and a
scoring rule, in the column order of its tables.

Rules (section 3): multiple choice picks the completion with the highest log-likelihood divided
by its number of characters (`char_norm`, Gao et al. 2021), except OpenBookQA and BoolQ, which
use P(completion | context) / P(completion | "Answer:") (`uncond`, Brown et al. 2020);
WinoGrande compares the same continuation after each option (`raw`, partial evaluation), MMLU the
letters A-D (`raw`, all one character long); NaturalQuestions and TriviaQA generate greedily and
score exact match after normalisation (`exact_match`).
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass
from typing import Callable

from training.evaluation import formats
from training.evaluation.data import read_rows, subfolders
from training.evaluation.formats import BadItem, Item


@dataclass(frozen=True)
class Task:
    name: str
    title: str  # the column of the paper's table
    folder: str
    build: Callable[[dict, int], Item] | None
    rule: str  # char_norm | uncond | raw | exact_match
    shots: int = 0  # the paper's setting (MMLU 5-shot, the rest zero-shot by default)
    table: str = "common sense"
    chance: float = 0.0  # accuracy of a uniform random pick (1 / choices)


TASKS: dict[str, Task] = {t.name: t for t in (
    # Table 3: common-sense reasoning, zero-shot.
    Task("boolq", "BoolQ", "boolq/none/validation", formats.boolq, "uncond", chance=0.5),
    Task("piqa", "PIQA", "piqa/plain_text/validation", formats.piqa, "char_norm", chance=0.5),
    Task("siqa", "SIQA", "social_i_qa/none/validation", formats.siqa, "char_norm", chance=1 / 3),
    Task("hellaswag", "HellaSwag", "hellaswag/none/validation", formats.hellaswag, "char_norm", chance=0.25),
    Task("winogrande", "WinoGrande", "winogrande/winogrande_xl/validation", formats.winogrande, "raw", chance=0.5),
    Task("arc_easy", "ARC-e", "ai2_arc/ARC-Easy/validation", formats.arc, "char_norm", chance=0.25),
    Task("arc_challenge", "ARC-c", "ai2_arc/ARC-Challenge/validation", formats.arc, "char_norm", chance=0.25),
    Task("openbookqa", "OBQA", "openbookqa/main/validation", formats.openbookqa, "uncond", chance=0.25),
    # Tables 4 and 5: closed-book question answering, exact match (0/1/5/64-shot by --shots).
    Task("nq_open", "NaturalQuestions", "nq_open/none/validation", formats.nq_open, "exact_match", table="closed-book QA"),
    Task("triviaqa", "TriviaQA", "trivia_qa/rc.wikipedia.nocontext/validation", formats.triviaqa, "exact_match",
         table="closed-book QA"),
    # Table 9: MMLU, 5-shot (the shots are each subject's dev split, as in Hendrycks et al. 2021).
    Task("mmlu", "MMLU", "hails/mmlu_no_train", None, "raw", shots=5, table="MMLU", chance=0.25),
)}


def resolve(names: list[str]) -> list[Task]:
    """Tasks by name ("all": every one); an unknown name is a ValueError naming the known ones."""
    if names == ["all"]:
        return list(TASKS.values())
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise ValueError(f"unknown task {', '.join(map(repr, unknown))}: the tasks are {', '.join(TASKS)} (or all)")
    return [TASKS[n] for n in names]


def build_items(task: Task, rows: list[dict], skipped: collections.Counter) -> list[Item]:
    """One Item per row that makes one; the others counted in `skipped` by reason."""
    items = []
    for i, row in enumerate(rows):
        try:
            items.append(task.build(row, i))
        except (BadItem, KeyError, TypeError, AttributeError) as exc:
            skipped[str(exc) if isinstance(exc, BadItem) else f"malformed row ({type(exc).__name__})"] += 1
    return items


def with_shots(items: list[Item], pool: list[Item], shots: int, seed: int) -> list[Item]:
    """Each generation item (items[i] is pool[i]) preceded by `shots` other items of the split
    with their answers, drawn by a generator seeded by (seed, i): the same prompts every run."""
    if shots <= 0:
        return items
    out = []
    for i, item in enumerate(items):
        rng = random.Random(seed * 1_000_003 + i)
        picks = [j for j in rng.sample(range(len(pool)), min(shots + 1, len(pool))) if j != i][:shots]
        chosen = [pool[j] for j in picks]
        prefix = formats.FEWSHOT_DELIMITER.join(formats.with_answer(s) for s in chosen)
        out.append(Item(item.id, [prefix + formats.FEWSHOT_DELIMITER + item.contexts[0]], item.choices, item.gold))
    return out


def mmlu_items(task: Task, limit: int, shots: int, skipped: collections.Counter, root: str | None) -> list[Item]:
    """Every subject's test questions after its first `shots` dev examples; with a limit, the
    first questions of each subject in turn, so that a small limit still covers many subjects."""
    per_subject = []
    for subject in subfolders(task.folder, root):
        dev = read_rows(f"{task.folder}/{subject}/dev", root)[:shots]
        try:
            prefix = formats.mmlu_prompt(subject, dev)
        except BadItem:
            prefix = formats.mmlu_prompt(subject, [])
        rows = read_rows(f"{task.folder}/{subject}/test", root)
        built = Task(task.name, task.title, task.folder, lambda row, i, p=prefix: formats.mmlu(row, i, p), task.rule)
        per_subject.append(build_items(built, rows, skipped))
    ordered = [item for group in _round_robin(per_subject) for item in group] if limit else \
        [item for group in per_subject for item in group]
    return ordered[:limit] if limit else ordered


def _round_robin(groups: list[list[Item]]):
    for i in range(max((len(g) for g in groups), default=0)):
        yield [g[i] for g in groups if i < len(g)]


def load_items(task: Task, limit: int = 0, shots: int | None = None, seed: int = 1234,
               root: str | None = None) -> tuple[list[Item], collections.Counter]:
    """The task's items (the first `limit` rows when limit > 0) and the rows skipped, by reason."""
    skipped: collections.Counter = collections.Counter()
    shots = task.shots if shots is None else shots
    if task.name == "mmlu":
        return mmlu_items(task, limit, shots, skipped, root), skipped
    rows = read_rows(task.folder, root)
    items = build_items(task, rows[:limit] if limit else rows, skipped)
    if task.rule == "exact_match" and shots:
        pool = build_items(task, rows, collections.Counter()) if limit else items
        items = with_shots(items, pool, shots, seed)
    return items, skipped
