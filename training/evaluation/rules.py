"""The scoring rules of the paper's section 3, on log-likelihoods and answers already computed."""

from __future__ import annotations

import re
import string


def argmax(scores: list[float]) -> int:
    """The first index of the highest score (ties go to the earlier choice, as numpy's argmax)."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def char_norm_pick(logliks: list[float], choices: list[str]) -> int:
    """Gao et al. (2021), the harness's `acc_norm`: log-likelihood over the choice's characters."""
    return argmax([ll / max(1, len(c)) for ll, c in zip(logliks, choices)])


def uncond_pick(logliks: list[float], unconditional: list[float]) -> int:
    """Brown et al. (2020): log P(choice | context) - log P(choice | "Answer:")."""
    return argmax([ll - u for ll, u in zip(logliks, unconditional)])


def raw_pick(logliks: list[float]) -> int:
    return argmax(logliks)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The usual answer normalisation of SQuAD's evaluation script (Rajpurkar et al. 2016), used
    for NaturalQuestions and TriviaQA exact match: lower case, no punctuation, no articles, single
    spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: list[str]) -> bool:
    """Normalised prediction equal to a normalised answer; an empty one matches nothing (NQ has
    answers such as "---" that normalise to nothing, and a model that says nothing knows none)."""
    pred = normalize_answer(prediction)
    return bool(pred) and any(pred == normalize_answer(a) for a in answers)
