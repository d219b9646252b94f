"""pipeline.langid: fastText lid.176 as a Filter (real model from the setup assets)."""

from __future__ import annotations

import pickle

import pytest

from pipeline.document import Document
from pipeline.filters import run_filters
from pipeline.langid import LanguageId, fasttext_line, lid_model_path

ENGLISH = ("Hundreds of people have been forced to vacate their homes in the Southern Highlands\n"
           "as strong winds today pushed a huge bushfire towards the town.")
GERMAN = "Der schnelle braune Fuchs springt über den faulen Hund.\nEr ist sehr müde heute."
RUSSIAN = "Аппетит приходит и уходит, а кушать хочется всегда.\nБоюсь, что земной шар пробный."


def doc(text: str) -> Document:
    return Document(id="commoncrawl/x", text=text, source="commoncrawl")


@pytest.fixture(scope="module")
def english():
    f = LanguageId(("en",), 0.5)
    f.setup()
    return f


def test_english_is_kept_with_language_meta(english):
    d = doc(ENGLISH)
    assert english(d) == (True, "")
    assert d.meta["language"] == "en" and d.meta["language_score"] >= 0.5


def test_other_languages_are_not_english(english):
    for text, code in [(GERMAN, "de"), (RUSSIAN, "ru")]:
        d = doc(text)
        assert english(d) == (False, "not_english")
        assert d.meta["language"] == code


def test_wanted_language_below_threshold_is_its_own_reason():
    strict = LanguageId(("en",), threshold=0.999)
    d = doc(ENGLISH)
    assert strict(d) == (False, "language_score_low")
    assert d.meta["language"] == "en"


def test_language_list_is_configurable():
    german = LanguageId(("de", "ru"), 0.5)
    kept, rejected = run_filters([german], [doc(GERMAN), doc(RUSSIAN), doc(ENGLISH)])
    assert [d.meta["language"] for d in kept] == ["de", "ru"]
    assert [r.reason for r in rejected] == ["language_not_selected"]


def test_newlines_do_not_change_the_prediction(english):
    one_line = english.predict(ENGLISH.replace("\n", " "))
    assert english.predict(ENGLISH) == one_line


def test_fasttext_line_gives_fasttext_the_words_of_the_collapsed_text(english):
    # every character Python's split() and fastText's tokenizer disagree on: \0 splits only for
    # fastText, the others only for Python
    odd = "\x00\x1c\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
    texts = [ENGLISH, GERMAN + "\r\n\t\x0b\x0c  " + RUSSIAN, " \n\n "]
    texts += [ENGLISH.replace(" ", c, 3) for c in odd]
    for text in texts:
        line = fasttext_line(text)
        assert "\n" not in line
        collapsed = " ".join(text.split())
        assert english._model.get_line(line) == english._model.get_line(collapsed), repr(text)
        labels, probs = english._model.predict(collapsed, k=1)
        assert english.predict(text) == (labels[0].replace("__label__", ""), float(min(1.0, probs[0])))


def test_model_is_not_pickled_and_loads_again(english):
    blob = pickle.dumps(english)
    assert len(blob) < 2000  # the 900 KB model stays behind
    clone = pickle.loads(blob)
    assert clone._model is None
    clone.setup()
    assert clone(doc(GERMAN)) == (False, "not_english")


def test_model_path_falls_back_to_the_setup_asset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/models here
    assert lid_model_path().endswith("lid.176.ftz")
    missing = LanguageId(model_path=str(tmp_path / "nope.ftz"))
    with pytest.raises(FileNotFoundError, match="nope.ftz"):
        missing.setup()
