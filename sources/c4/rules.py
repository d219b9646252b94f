"""The C4 page-cleaning rules (T5 paper, Raffel et al. 2020, section 2.2) as plain filters,
with a sentence splitter built for the job.

Where the paper and the reference code differ, the reference code is tensorflow/datasets
`text/c4_utils.py` (`clean_page`), itself the Beam job that built C4:

- lines are kept only if they end in terminal punctuation (`.` `?` `!` `"`) and not in an
  ellipsis (`_END_MARKS`, `_ELLIPSIS`);
- lines with fewer than `min_words_per_line` words are dropped: the paper says 3, TFDS's code
  has 5 (`_MIN_WORDS_PER_LINE = 5`); default 3, a flag;
- lines containing "javascript" or a cookie/privacy-policy phrase are dropped;
- citation markers `[1]`, `[edit]`, `[citation needed]` are stripped from lines;
- lines with a word over 1,000 characters are dropped (`_MAX_WORD_LENGTH`; a line rule in
  TFDS and datatrove, so a line rule here too);
- a page with "lorem ipsum" or `{` (in a line that passed the rules above) is dropped;
- a page with fewer than `min_sentences` sentences left is dropped: the paper says 5, TFDS's
  code has 3 (`_MIN_NUM_SENTENCES = 3`); default 5 (as datatrove's `C4QualityFilter`);
- a page containing a word of the LDNOOBW English list is dropped (`BadWords`);
- a page over 190,000 characters is dropped (TFDS `is_valid_length`, `max_length=1.9e5`).

Sentence counting: TFDS uses NLTK punkt, datatrove spaCy's rule-based `sentencizer`; both cost
most of the filter's time. `count_sentences` reproduces the sentencizer's boundaries for
English with one regex scan per line (see its docstring); tests/sources/test_c4.py measures its keep/drop
agreement with datatrove's `C4QualityFilter`.
"""

from __future__ import annotations

import collections
import os
import re

from apache_beam.metrics import Metrics

from pipeline.document import Document
from pipeline.filters import Filter

# --- thresholds (each with its source) ------------------------------------------------------
END_MARKS = (".", "?", "!", '"')  # TFDS `_END_MARKS`; the paper: "! . \" ?"
ELLIPSIS = "..."  # TFDS `_ELLIPSIS`
MIN_WORDS_PER_LINE = 3  # T5 paper 2.2 ("at least 3 words"); TFDS code: 5
MIN_SENTENCES = 5  # T5 paper 2.2 ("fewer than 5 sentences"); TFDS code: 3
MAX_WORD_LENGTH = 1000  # TFDS `_MAX_WORD_LENGTH`
MAX_PAGE_CHARS = 190_000  # TFDS `is_valid_length(max_length=1.9e5)`
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                     "use of cookies", "use cookies")  # TFDS `_POLICY_SUBSTRINGS`
CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")  # TFDS `citation_regex`

BADWORDS_PATH = os.path.join(os.path.dirname(__file__), "ldnoobw_en.txt")

# --- the sentence splitter ------------------------------------------------------------------
# spaCy's English tokenizer keeps these tokens whole, so their period ends no sentence
# (facts from spaCy `lang/en/tokenizer_exceptions.py` and `lang/tokenizer_exceptions.py`).
ABBREVIATIONS = frozenset(
    "Adm. Ak. Ala. Apr. Ariz. Ark. Aug. Bros. Calif. Co. Colo. Conn. Corp. D.C. Dec. Del. Dr. "
    "E.G. E.g. Feb. Fla. Ga. Gen. Gov. I.E. I.e. Ia. Id. Ill. Inc. Ind. Jan. Jr. Jul. Jun. Kan. "
    "Kans. Ky. La. Ltd. Mar. Mass. Md. Messrs. Mich. Minn. Miss. Mo. Mont. Mr. Mrs. Ms. Mt. N.C. "
    "N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Nov. Oct. Okla. Ore. Pa. Ph.D. Prof. Rep. Rev. S.C. "
    "Sen. Sep. Sept. St. Tenn. Va. Wash. Wis. a.m. p.m. co. e.g. i.e. v.s. vs.".split()
)
# A candidate boundary: a run of sentence punctuation, closing quotes/brackets, then a space
# (the regex only fires at punctuation, so a line costs one C scan).
_CANDIDATE = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_CLOSERS = "\"'\u201d\u2019)]"
# Inside a token, spaCy splits `end.Next` (infix: a lower-case letter, a period, a capital).
_INFIX = re.compile(r"(?<=[a-z])\.(?=[A-Z])")
# What may trail a line's last word (quotes, brackets, punctuation, spaces).
_TRAILING = " \t\"'.!?,;:)]}*-\u201d\u2019\u00bb\u2026"
_OPENERS = "\"'(\u201c\u2018["


def _ends_sentence(word: str, marks: str) -> bool:
    """Whether a token `word` + `marks` (its trailing .!? run) ends a sentence, as spaCy's
    tokenizer + sentencizer decide: `!`/`?` always; `..` (an ellipsis token) never; a period
    unless the token is an abbreviation, a single letter (`J.`, `e.`) or ends in a lone capital
    after a non-capital (`AT&T.`, `U.K.`), which spaCy does not split off."""
    if "!" in marks or "?" in marks:
        return True
    if len(marks) > 1:
        return False
    word = word.lstrip(_OPENERS)
    if not word:
        return True
    if word + "." in ABBREVIATIONS:
        return False
    last = word[-1]
    if last.isalpha() and len(word) == 1:
        return False
    if last.isupper():
        return len(word) >= 2 and word[-2].isupper()
    return True


def sentence_ends(line: str) -> list[int]:
    """Offsets in `line` just after each sentence that is followed by more text."""
    ends = []
    last = len(line.rstrip(_TRAILING))  # a sentence needs a word after it: `said. "` is one
    for m in _CANDIDATE.finditer(line, 0, last):
        end = m.end()
        marks = m.group().rstrip(_CLOSERS)
        start = m.start()
        word = line[line.rfind(" ", 0, start) + 1:start] if start else ""
        if _ends_sentence(word, marks):
            ends.append(end)
    if "." in line:
        infix = [m.end() for m in _INFIX.finditer(line, 0, last)]
        if infix:
            ends = sorted(set(ends).union(infix))
    return ends


def count_sentences(line: str) -> int:
    """Sentences in one line (a stripped, non-empty line has at least one)."""
    if not line:
        return 0
    if "." not in line and "!" not in line and "?" not in line:
        return 1
    return len(sentence_ends(line)) + 1


def split_sentences(line: str) -> list[str]:
    """The sentences of one line, stripped (used by the three-sentence-span dedup)."""
    parts, start = [], 0
    for end in sentence_ends(line):
        parts.append(line[start:end].strip())
        start = end
    parts.append(line[start:].strip())
    return [p for p in parts if p]


# --- the filters ----------------------------------------------------------------------------
LINES_KEY = "_lines_removed"
LINE_REASONS = ("line_too_long_word", "line_no_terminal_punct", "line_too_few_words",
                "line_javascript", "line_policy")


class CleanPage(Filter):
    """TFDS `clean_page` without the bad words: edits the page to its valid lines, or drops it
    (`lorem_ipsum`, `curly_bracket`, `too_few_sentences`). Removed lines are counted per rule in
    `line_counts` and as Beam counters `c4_clean_page:<rule>`; with `record=True` a kept page
    also carries its own counts in `meta["_lines_removed"]` for the job's stats (popped there)."""

    name = "c4_clean_page"

    def __init__(self, min_words_per_line: int = MIN_WORDS_PER_LINE, min_sentences: int = MIN_SENTENCES,
                 max_word_length: int = MAX_WORD_LENGTH, record: bool = False):
        self.record = record
        self.min_words_per_line = min_words_per_line
        self.min_sentences = min_sentences
        self.max_word_length = max_word_length
        self.line_counts: collections.Counter = collections.Counter()
        self._counters = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_counters"] = {}
        state["line_counts"] = collections.Counter()
        return state

    def line_reason(self, line: str) -> str:
        """Why TFDS drops this (stripped, citation-free) line, or "" to keep it."""
        if not line.endswith(END_MARKS) or line.endswith(ELLIPSIS):
            return "line_no_terminal_punct"
        if len(line.split()) < self.min_words_per_line:
            return "line_too_few_words"
        return ""

    def _count(self, counts: dict) -> None:
        for reason, n in counts.items():
            self.line_counts[reason] += n
            counter = self._counters.get(reason)
            if counter is None:
                counter = self._counters[reason] = Metrics.counter(self.name, reason)
            counter.inc(n)

    def filter(self, doc: Document):
        kept, sentences = [], 0
        counts = dict.fromkeys(LINE_REASONS, 0)
        for line in doc.text.splitlines():
            line = line.strip()
            if len(line) > self.max_word_length and any(len(w) > self.max_word_length for w in line.split()):
                counts["line_too_long_word"] += 1
                continue
            if "[" in line:
                line = CITATION.sub("", line)
            reason = self.line_reason(line)
            if reason:
                counts[reason] += 1
                continue
            lower = line.lower()
            if "lorem ipsum" in lower:
                return False, "lorem_ipsum"
            if "javascript" in lower:
                counts["line_javascript"] += 1
                continue
            if "{" in line:
                return False, "curly_bracket"
            if any(p in lower for p in POLICY_SUBSTRINGS):
                counts["line_policy"] += 1
                continue
            sentences += count_sentences(line)
            kept.append(line)
        self._count(counts)
        if sentences < self.min_sentences:
            return False, "too_few_sentences"
        doc.text = "\n".join(kept).strip()
        if self.record:
            doc.meta[LINES_KEY] = {k: v for k, v in counts.items() if v}
        return True


def load_badwords(path: str = BADWORDS_PATH) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [w.strip().lower() for w in f if w.strip() and not w.startswith("#")]


class BadWords(Filter):
    """Drops a page containing an LDNOOBW word or phrase not inside a longer a-z run, the
    match TFDS makes (`[^a-z](word)[^a-z]` on the lower-cased line; here line starts and ends
    count as boundaries too, which TFDS's regex misses). Single-run words are a set lookup of
    the page's a-z runs; phrases (spaces, digits, symbols) a substring test, then a regex."""

    name = "bad_words"
    _RUNS = re.compile(r"[a-z]+")

    def __init__(self, path: str = BADWORDS_PATH):
        self.path = path
        self._words: frozenset | None = None
        self._phrases: list | None = None

    def setup(self) -> None:
        if self._words is None:
            entries = load_badwords(self.path)
            self._words = frozenset(w for w in entries if re.fullmatch(r"[a-z]+", w))
            self._phrases = [(w, re.compile(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])"))
                             for w in entries if w not in self._words]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_words"] = state["_phrases"] = None
        return state

    def find(self, text: str) -> str:
        """The first bad word found in `text`, or ""."""
        self.setup()
        lower = text.lower()
        hits = self._words.intersection(self._RUNS.findall(lower))
        if hits:
            return min(hits)
        for phrase, pattern in self._phrases:
            if phrase in lower and pattern.search(lower):
                return phrase
        return ""

    def filter(self, doc: Document):
        word = self.find(doc.text)
        if word:
            doc.meta["bad_word"] = word
            return False, "bad_words"
        return True


class MaxPageLength(Filter):
    """TFDS `is_valid_length`: pages over `max_chars` characters are dropped before cleaning."""

    name = "page_too_long"

    def __init__(self, max_chars: int = MAX_PAGE_CHARS):
        self.max_chars = max_chars

    def filter(self, doc: Document):
        return len(doc.text) <= self.max_chars
