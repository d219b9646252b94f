"""Table 1 of Touvron et al. (2023), "LLaMA: Open and Efficient Foundation Language Models",
and the mixture weights drawn from it: the one place the paper's seven sources are listed.

Each row: the sampling proportion of the source in the pre-training stream, the number of epochs
the 1.4T-token run made over it, and the disk size of the processed source. The tokenizer samples
its training text and the token job mixes its shards at these weights (or a user's weights file).
"""

from __future__ import annotations

import dataclasses
import json
import math


@dataclasses.dataclass(frozen=True)
class PaperRow:
    display: str  # the table's own name for the source
    proportion: float  # sampling proportion, Table 1
    epochs: float  # epochs over the source in the 1.4T-token run, Table 1
    disk_size: str  # processed size on disk, Table 1


# Touvron et al. (2023), Table 1 (Pre-training data), in the table's order.
TABLE1: dict[str, PaperRow] = {
    "commoncrawl": PaperRow("CommonCrawl", 0.670, 1.10, "3.3 TB"),
    "c4": PaperRow("C4", 0.150, 1.06, "783 GB"),
    "github": PaperRow("Github", 0.045, 0.64, "328 GB"),
    "wikipedia": PaperRow("Wikipedia", 0.045, 2.45, "83 GB"),
    "books": PaperRow("Books", 0.045, 2.23, "85 GB"),
    "arxiv": PaperRow("ArXiv", 0.025, 1.06, "92 GB"),
    "stackexchange": PaperRow("StackExchange", 0.020, 1.03, "78 GB"),
}


def display_name(source: str) -> str:
    row = TABLE1.get(source)
    return row.display if row else source


def paper_weights() -> dict[str, float]:
    return {name: row.proportion for name, row in TABLE1.items()}


def load_weights(path: str) -> dict[str, float]:
    """A weights file: a JSON object {source: weight} (any positive scale; normalised later).

    Sources it leaves out get weight 0. Raises ValueError naming a bad entry."""
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: a weights file is a JSON object {{source: weight}}")
    weights = {}
    for name, value in raw.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or not math.isfinite(value):
            raise ValueError(f"{path}: weight of {name!r} must be a number >= 0, got {value!r}")
        weights[name] = float(value)
    if sum(weights.values()) <= 0:
        raise ValueError(f"{path}: all weights are zero")
    return weights


def normalise(weights: dict[str, float], present: list[str] | None = None) -> dict[str, float]:
    """Weights restricted to `present` sources (in the given order) and scaled to sum to 1:
    a source with no data has its share spread over the others in proportion."""
    names = [n for n in (present if present is not None else list(weights)) if weights.get(n, 0) > 0]
    total = sum(weights[n] for n in names)
    if total <= 0:
        raise ValueError("no source with a positive weight has data")
    return {n: weights[n] / total for n in names}
