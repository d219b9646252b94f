"""How each benchmark's rows become prompts: one function a task, each with its source.

Touvron et al. (2023), section 3, evaluates "following Gao et al. (2021)": the prompts are those
of lm-evaluation-harness's task definitions (`lm_eval/tasks/<task>/*.yaml`, `utils.py`), so
numbers here are comparable with that harness's, and its scores of the same pairs agree with
ours (tests/training/test_eval_parity.py). Each function takes one row of the split and returns
an `Item`; a row that cannot make one (no choices, a gold answer out of range or empty) raises
`BadItem`, which the evaluator counts and skips.

The continuation of a multiple-choice prompt is " " + the choice (the harness's
`target_delimiter`); few-shot examples are joined by a blank line (its `fewshot_delimiter`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"
# Greedy answers of NaturalQuestions and TriviaQA stop at the first of these (the harness's
# `generation_kwargs.until` for nq_open and triviaqa).
ANSWER_STOPS = ("\n", ".", ",")
# The unconditional context of Brown et al. (2020), section 2.4 / appendix G: "we normalize by
# the unconditional probability of each completion, by computing P(completion|context) /
# P(completion|answer_context), where answer_context is the string 'Answer: '" (its trailing
# space is the harness's target delimiter here, so the completion tokens are the same).
ANSWER_CONTEXT = "Answer:"


class BadItem(ValueError):
    """A row that cannot be scored; its message is the reason counted."""


@dataclass
class Item:
    id: str
    contexts: list[str]  # one context shared by every choice, or one per choice (WinoGrande)
    choices: list[str] = field(default_factory=list)  # the choice texts (continuations: " " + text)
    gold: int | list[str] = 0  # index of the right choice, or the accepted answers (generation)

    def continuations(self) -> list[str]:
        return [TARGET_DELIMITER + c for c in self.choices]


def _check(item: Item) -> Item:
    if isinstance(item.gold, list):
        if not [g for g in item.gold if g.strip()]:
            raise BadItem("empty gold")
        return item
    if not item.choices or any(not c.strip() for c in item.choices):
        raise BadItem("no choices")
    if not 0 <= item.gold < len(item.choices):
        raise BadItem("gold out of range")
    return item


def _label_index(labels: list[str], key: str) -> int:
    if key not in labels:
        raise BadItem("gold out of range")
    return labels.index(key)


def arc(row: dict, i: int) -> Item:
    """lm-eval `arc_easy.yaml` / `arc_challenge`: "Question: {question}\\nAnswer:"."""
    choices = row.get("choices") or {}
    return _check(Item(row.get("id") or str(i), [f"Question: {row['question']}\nAnswer:"], list(choices.get("text") or []),
                       _label_index(list(choices.get("label") or []), row.get("answerKey", ""))))


def _hellaswag_clean(text: str) -> str:
    """lm-eval `hellaswag/utils.py` preprocess: WikiHow's "[title]" marks and bracketed tags out."""
    text = text.strip().replace(" [title]", ". ")
    return re.sub(r"\[.*?\]", "", text).replace("  ", " ")


def hellaswag(row: dict, i: int) -> Item:
    """lm-eval `hellaswag.yaml`: "{activity_label}: {ctx_a} {ctx_b capitalised}", the endings."""
    ctx = row["ctx_a"] + " " + row["ctx_b"].capitalize()
    endings = [_hellaswag_clean(e) for e in row.get("endings") or []]
    return _check(Item(f"{row.get('source_id', '')}/{row.get('ind', i)}",
                       [_hellaswag_clean(row["activity_label"] + ": " + ctx)], endings, _int(row.get("label"))))


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadItem("gold out of range") from None


def boolq(row: dict, i: int) -> Item:
    """lm-eval `super_glue/boolq/default.yaml`: "{passage}\\nQuestion: {question}?\\nAnswer:", no/yes."""
    answer = row.get("answer")
    if isinstance(answer, str):
        answer = {"true": True, "false": False}.get(answer.lower())
    if not isinstance(answer, bool):
        raise BadItem("gold out of range")
    return _check(Item(str(i), [f"{row['passage']}\nQuestion: {row['question']}?\nAnswer:"], ["no", "yes"], int(answer)))


def piqa(row: dict, i: int) -> Item:
    """lm-eval `piqa.yaml`: "Question: {goal}\\nAnswer:", the two solutions."""
    return _check(Item(str(i), [f"Question: {row['goal']}\nAnswer:"], [row["sol1"], row["sol2"]], _int(row.get("label"))))


def siqa(row: dict, i: int) -> Item:
    """lm-eval `siqa.yaml`: "Q: {context} {question}\\nA:", answers A-C; the label counts from 1."""
    return _check(Item(str(i), [f"Q: {row['context']} {row['question']}\nA:"],
                       [row["answerA"], row["answerB"], row["answerC"]], _int(row.get("label")) - 1))


def winogrande(row: dict, i: int) -> Item:
    """lm-eval `winogrande/preprocess_winogrande.py` (partial evaluation, Trinh & Le 2018): the
    sentence up to "_" with each option is a context; the rest of the sentence, the same for
    both, is the continuation scored."""
    sentence = row.get("sentence", "")
    if "_" not in sentence:
        raise BadItem("no choices")
    cut = sentence.index("_")
    contexts = [sentence[:cut] + row["option1"], sentence[:cut] + row["option2"]]
    rest = sentence[cut + 1:].strip()
    gold = {"1": 0, "2": 1}.get(str(row.get("answer")), -1)
    return _check(Item(str(i), contexts, [rest, rest], gold))


def openbookqa(row: dict, i: int) -> Item:
    """lm-eval `openbookqa.yaml`: the question stem alone, the four answers."""
    choices = row.get("choices") or {}
    return _check(Item(row.get("id") or str(i), [row["question_stem"]], list(choices.get("text") or []),
                       _label_index(list(choices.get("label") or []), row.get("answerKey", ""))))


def nq_open(row: dict, i: int) -> Item:
    """lm-eval `nq_open.yaml`: "Q: {question}?\\nA:", greedy, exact match against any answer."""
    return _check(Item(str(i), [f"Q: {row['question'].rstrip('?')}?\nA:"], [], list(row.get("answer") or [])))


def triviaqa(row: dict, i: int) -> Item:
    """lm-eval `triviaqa/default.yaml`: "Question: {question}?\\nAnswer:" (its question's own "?"
    not doubled), greedy, exact match against any alias."""
    aliases = list((row.get("answer") or {}).get("aliases") or [])
    return _check(Item(row.get("question_id") or str(i), [f"Question: {row['question'].rstrip('?')}?\nAnswer:"],
                       [], aliases))


def mmlu_question(row: dict) -> str:
    """lm-eval `mmlu/default/_default_template_yaml`: the question, "A. ..." to "D. ...", "Answer:"."""
    choices = list(row.get("choices") or [])
    if len(choices) != 4:
        raise BadItem("no choices")
    lines = [row["question"].strip()] + [f"{letter}. {text}" for letter, text in zip("ABCD", choices)]
    return "\n".join(lines) + "\nAnswer:"


def mmlu_prompt(subject: str, shots: list[dict]) -> str:
    """The subject's header and its dev examples with their answers (Hendrycks et al. 2021)."""
    header = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}."
    parts = [mmlu_question(s) + TARGET_DELIMITER + "ABCD"[_int(s["answer"])] for s in shots]
    return FEWSHOT_DELIMITER.join([header] + parts) + FEWSHOT_DELIMITER if parts else header + FEWSHOT_DELIMITER


def mmlu(row: dict, i: int, prefix: str) -> Item:
    """The prompt's few-shot prefix, then the question; the choices are the letters A-D."""
    return _check(Item(f"{row.get('subject', '')}/{i}", [prefix + mmlu_question(row)], list("ABCD"), _int(row.get("answer"))))


def with_answer(item: Item) -> str:
    """A generation item as a few-shot example: its prompt and its first answer."""
    return item.contexts[0] + TARGET_DELIMITER + item.gold[0]
