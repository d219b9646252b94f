"""CCNet's text normaliser (Wenzek et al. 2020, `cc_net/text_normalizer.py`), in one place: the
form a line takes before it is hashed for line dedup (`normalize_for_dedup`) and before it is cut
into SentencePiece pieces for the perplexity LM (`normalize`).
"""

from __future__ import annotations

import re
import unicodedata

# cc_net text_normalizer.UNICODE_PUNCT: `normalize(punct=1)` maps these to ASCII,
# `normalize_for_dedup` removes them.
UNICODE_PUNCT = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!",
    "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...",
    "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%", "►": "-",
}
# cc_net text_normalizer.NON_PRINTING_CHARS: C0 and C1 control characters.
NON_PRINTING = "".join(map(chr, list(range(32)) + list(range(127, 160))))

_PUNCT_TABLE = str.maketrans(UNICODE_PUNCT)
_NON_PRINTING = re.compile("[" + re.escape(NON_PRINTING) + "]")
_PUNCT_OR_NON_PRINTING = re.compile("[" + re.escape("".join(UNICODE_PUNCT) + NON_PRINTING) + "]")
_DIGIT = re.compile(r"\d")
# An ASCII line needs one pass: `\d` matches only 0-9 there, UNICODE_PUNCT has no ASCII key, and
# the ASCII control characters are 0-31 and 127 (both normalisers give the same result this way).
_ASCII_TABLE = str.maketrans({**{str(d): "0" for d in range(10)}, **{chr(c): None for c in [*range(32), 127]}})


def normalize(line: str) -> str:
    """CCNet `text_normalizer.normalize(line)` with its defaults (accent, case, numbers, punct=1)."""
    line = line.strip()
    if not line:
        return line
    line = line.lower()
    if line.isascii():
        return line.translate(_ASCII_TABLE)
    line = strip_accents(line)
    line = _DIGIT.sub("0", line).translate(_PUNCT_TABLE)
    return _NON_PRINTING.sub("", line)


def normalize_for_dedup(line: str) -> str:
    """CCNet's `normalize_for_dedup`: strip, lowercase, digits -> 0, punctuation/control chars out."""
    line = line.strip()
    if not line:
        return line
    line = line.lower()
    if line.isascii():
        return line.translate(_ASCII_TABLE)
    line = _DIGIT.sub("0", line)
    return _PUNCT_OR_NON_PRINTING.sub("", line)


def strip_accents(line: str) -> str:
    """CCNet `text_normalizer.strip_accents` (used before the LM, not for dedup)."""
    if line.isascii():  # nothing to strip: skip the per-character pass
        return line
    return unicodedata.normalize("NFD", line).translate(_MARKS)


MAX_CACHED_CODES = 1 << 16  # a few MB at most, whatever characters the pages hold


class _NonspacingMarks(dict):
    """A `str.translate` table that deletes the characters of category Mn (nonspacing marks) and
    keeps every other, each code point's category looked up once, then cached (up to
    MAX_CACHED_CODES code points, then looked up each time): the same result
    as CCNet's per-character loop, at C speed."""

    def __missing__(self, code: int):
        value = None if unicodedata.category(chr(code)) == "Mn" else code
        if len(self) < MAX_CACHED_CODES:
            self[code] = value
        return value


_MARKS = _NonspacingMarks()
