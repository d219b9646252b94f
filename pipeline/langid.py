"""Language identification with fastText's `lid.176` model, as a `Filter`.

CCNet (`cc_net/split_by_lang.py`) and the LLaMA paper identify the language of each page with
fastText's `lid.176` on the text with newlines replaced by spaces, and keep English; the
threshold 0.5 is CCNet's default `--threshold` for `split_by_lang`. The filter writes
`meta["language"]` and `meta["language_score"]` on every document it sees (kept or dropped).

Drop reasons:
- `not_english` (when only English is kept) or `language_not_selected` (any other list):
  the top language is not one of `languages`;
- `language_score_low`: the top language is wanted but its probability is below `threshold`.

The model loads in `setup()` (once per worker) and is never pickled with the filter, so the
filter ships to Beam workers as a few bytes.
"""

from __future__ import annotations

import os
import re

from pipeline.document import Document
from pipeline.filters import Filter

DEFAULT_MODEL = os.path.join("data", "models", "lid.176.ftz")
# CCNet `split_by_lang.py`: `threshold: float = 0.5` (pages whose best language is below are dropped).
DEFAULT_THRESHOLD = 0.5
# Enough text to decide the language; fastText's prediction barely changes past a few KB and
# a multi-megabyte page would cost time for nothing.
MAX_CHARS = 20_000
# fastText's tokenizer (Dictionary::readWord) splits on ' ', \n, \r, \t, \v, \f and \0; Python's
# str.split() on those but \0, and on these others (every c with chr(c).isspace()). A text with
# none of these characters tokenizes the same for fastText whether its whitespace is collapsed
# with " ".join(text.split()) or its newlines are just turned into spaces.
_SPLIT_DIFFERS = re.compile("[\x00\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def lid_model_path(path: str = "") -> str:
    """The lid.176 model to use: `path` if given, else data/models/, else the setup asset."""
    if path:
        return path
    if os.path.exists(DEFAULT_MODEL):
        return DEFAULT_MODEL
    from pipeline.assets import asset_path

    return asset_path("lid.176.ftz")


def fasttext_line(text: str) -> str:
    """`text` as one line that fastText reads as the same words as `" ".join(text.split())`
    (what CCNet predicts on), at a fraction of the cost: the newlines turned into spaces, or,
    when the text holds whitespace the two tokenizers disagree on, the words joined by spaces."""
    if _SPLIT_DIFFERS.search(text):
        return " ".join(text.split())
    return text.replace("\n", " ")


def predict_line(model, line: str, k: int) -> list[tuple[float, str]]:
    """(probability, label) pairs of the `k` best labels of one line (no newline in it): the
    model's own call, without the Python wrapper's scan for newlines and its numpy array."""
    return model.f.predict(line + "\n", k, 0.0, "strict")


def load_fasttext(path: str):
    """`fasttext.load_model` without its stderr warning about the model type."""
    import fasttext

    from pipeline.localcache import local_copy, require_file

    require_file(path, "fastText model")
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext.load_model(local_copy(path))


class LanguageId(Filter):
    """Keeps documents whose fastText language is in `languages` with probability >= `threshold`."""

    name = "language_id"

    def __init__(self, languages: tuple[str, ...] = ("en",), threshold: float = DEFAULT_THRESHOLD,
                 model_path: str = ""):
        self.languages = tuple(languages)
        self.threshold = threshold
        self.model_path = model_path
        self._model = None
        self._reason = "not_english" if self.languages == ("en",) else "language_not_selected"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None  # loaded again by setup() on the worker
        return state

    def model_files(self) -> list[str]:
        return [lid_model_path(self.model_path)]

    def setup(self) -> None:
        if self._model is None:
            self._model = load_fasttext(lid_model_path(self.model_path))

    def predict(self, text: str) -> tuple[str, float]:
        """(language code, probability) of the best label for `text`."""
        if self._model is None:
            self.setup()
        best = predict_line(self._model, fasttext_line(text[:MAX_CHARS]), 1)  # one line: no newlines
        if not best:
            return "unknown", 0.0
        prob, label = best[0]
        return label.replace("__label__", ""), float(min(1.0, prob))

    def filter(self, doc: Document):
        language, score = self.predict(doc.text)
        doc.meta["language"] = language
        doc.meta["language_score"] = round(score, 4)
        if language not in self.languages:
            return False, self._reason
        if score < self.threshold:
            return False, "language_score_low"
        return True
