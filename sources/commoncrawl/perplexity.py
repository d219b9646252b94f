"""CCNet's quality signal: perplexity of a page under a KenLM 5-gram trained on Wikipedia.

CCNet (`cc_net/perplexity.py`, `mine.py`): the text is normalised (`text_normalizer.normalize`:
lowercase, accents stripped, digits -> 0, unicode punctuation mapped to ASCII, control
characters removed), cut into SentencePiece pieces, and each line is scored by KenLM; the
document's perplexity is `10 ** (-sum(log10 p) / sum(pieces + 1))` over its lines. Pages are
then bucketed by perplexity: `head` below the 30th percentile of a reference sample, `middle`
below the 60th, `tail` above (`PerplexityBucket(percentile_head=30, percentile_tail=60)`).
CCNet's English cutoffs at those percentiles are 340 and 520 (`cc_net/data/cutoff.csv`,
column `en`, rows 30 and 60), valid for CCNet's own full-Wikipedia LM; `make lm` computes the
same percentiles for the LM it trains (`<lm_dir>/en.cutoffs.json`), and those are used when
present.

The models are per language, as in CCNet (`DocLM` picks each page's LM by its `language`):
`<lm_dir>/<lang>.sp.model`, `<lang>.arpa.bin` and `<lang>.cutoffs.json`, the names of CCNet's
released LMs, so those can be dropped in too. `make lm LANGUAGES=en,de` builds one per language
from that language's Wikipedia text (none for a language with too little of it); a page is
scored with the LM of the language fastText gave it, never with another language's (a
Bulgarian page under the English LM lands in `tail` whatever its quality). A selected language
without an LM, or without cutoffs (only English has built-in ones), is a clear error before the
job starts. The models load in `setup()`.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from pipeline.document import Document
from pipeline.files import read_bytes
from pipeline.filters import Filter
from pipeline.localcache import local_copy, unreadable
from sources.commoncrawl.normalize import normalize

SP_MODEL = "en.sp.model"
LM_MODEL = "en.arpa.bin"
CUTOFFS = "en.cutoffs.json"
# cc_net/data/cutoff.csv, column "en": 30th percentile 340, 60th percentile 520.
CCNET_EN_CUTOFFS = (340.0, 520.0)
# cc_net/perplexity.py PerplexityBucket(percentile_head=30, percentile_tail=60).
PERCENTILE_HEAD, PERCENTILE_TAIL = 30, 60
MAX_CHARS = 100_000  # score at most this much of a page (the estimate is stable long before)

def model_paths(lm_dir: str, language: str = "en") -> dict[str, str]:
    """The files of one language's LM (SP_MODEL, LM_MODEL, CUTOFFS for English)."""
    return {"sp": FileSystems.join(lm_dir, SP_MODEL.replace("en.", f"{language}.", 1)),
            "lm": FileSystems.join(lm_dir, LM_MODEL.replace("en.", f"{language}.", 1)),
            "cutoffs": FileSystems.join(lm_dir, CUTOFFS.replace("en.", f"{language}.", 1))}


def require_lm(lm_dir: str, languages: tuple[str, ...] = ("en",), cutoffs_given: bool = False) -> None:
    """A clear error naming `make lm` when a selected language's LM (or its cutoffs) is not there."""
    problems = {paths[k]: unreadable(paths[k]) for paths in (model_paths(lm_dir, lang) for lang in languages)
                for k in ("sp", "lm")}
    missing = [path if problem == "missing" else f"{path} ({problem})" for path, problem in problems.items() if problem]
    if missing:
        langs = ",".join(languages)
        hint = ("; a language with too little Wikipedia text gets none: put CCNet's <lang>.sp.model and "
                "<lang>.arpa.bin there" if languages != ("en",) else "")
        raise FileNotFoundError(f"CommonCrawl perplexity model missing: {', '.join(missing)}; run `make lm "
                                f"LANGUAGES={langs}` first (python -m sources.commoncrawl.lm --data DATA "
                                f"--languages {langs}){hint}")
    if not cutoffs_given:
        for lang in languages:
            load_cutoffs(lm_dir, lang)


def load_cutoffs(lm_dir: str, language: str = "en") -> tuple[float, float, str]:
    """(head, tail, where from): `make lm`'s percentiles if written, else CCNet's English cutoffs
    (English only: another language without a cutoffs file is an error naming the file)."""
    path = model_paths(lm_dir, language)["cutoffs"]
    problem = unreadable(path)
    if not problem:
        data = json.loads(read_bytes(path))
        return float(data["head"]), float(data["tail"]), path
    if problem != "missing":
        raise FileNotFoundError(f"perplexity cutoffs {problem}: {path}")
    if language != "en":
        raise FileNotFoundError(f"no perplexity cutoffs for {language!r}: write {path} as "
                                f'{{"head": P30, "tail": P60}} (e.g. from CCNet\'s cutoff.csv, column '
                                f"{language}) or pass --head-cutoff and --tail-cutoff")
    return CCNET_EN_CUTOFFS[0], CCNET_EN_CUTOFFS[1], "CCNet cutoff.csv (en)"


class PerplexityModel:
    """One language's SentencePiece + KenLM, loaded lazily, never pickled."""

    def __init__(self, lm_dir: str, language: str = "en"):
        self.lm_dir = lm_dir
        self.language = language
        self._sp = None
        self._lm = None

    def __getstate__(self):
        return {"lm_dir": self.lm_dir, "language": self.language, "_sp": None, "_lm": None}

    def load(self) -> None:
        if self._lm is not None:
            return
        import kenlm
        import sentencepiece

        require_lm(self.lm_dir, (self.language,), cutoffs_given=True)
        paths = model_paths(self.lm_dir, self.language)
        self._sp = sentencepiece.SentencePieceProcessor(model_file=local_copy(paths["sp"]))
        self._lm = kenlm.Model(local_copy(paths["lm"]))

    def pieces(self, line: str) -> str:
        """The normalised line as space-separated SentencePiece pieces (what the LM was trained on)."""
        self.load()
        return " ".join(self._sp.encode(normalize(line), out_type=str))

    def perplexity(self, text: str) -> float:
        """CCNet DocLM: 10 ** (-sum log10 p / sum(len(pieces) + 1)) over the non-empty lines.

        The page's normalised lines go to SentencePiece in one call (a list: one trip into C++
        per page, not per line); the sum runs over the lines in order, as line by line."""
        self.load()
        lines = [line for line in map(normalize, text[:MAX_CHARS].split("\n")) if line]
        if not lines:
            return float("inf")
        score = self._lm.score
        log_score, length = 0.0, 0
        for pieces in self._sp.encode(lines, out_type=str, num_threads=1):
            if not pieces:  # a line of characters SentencePiece drops
                continue
            tokenized = " ".join(pieces)
            log_score += score(tokenized)  # bos/eos included, as CCNet
            length += len(tokenized.split()) + 1
        if length == 0:
            return float("inf")
        return 10.0 ** (-log_score / length)


def bucket(perplexity: float, head: float, tail: float) -> str:
    """CCNet PerplexityBucket.get_bucket: head < head cutoff <= middle < tail cutoff <= tail."""
    if perplexity < head:
        return "head"
    if perplexity < tail:
        return "middle"
    return "tail"


class PerplexityBuckets(Filter):
    """Sets meta perplexity/bucket; drops pages whose bucket is not kept (`perplexity_<bucket>`).

    Each page is scored with the LM of its `meta["language"]` (the language-ID step's); with
    one language configured, every page gets that language's LM. `head`/`tail` (flags) apply to
    every language; unset, each language's come from its cutoffs file (English: CCNet's)."""

    name = "perplexity"

    def __init__(self, lm_dir: str, keep: tuple[str, ...] = ("head", "middle"),
                 head: float = 0.0, tail: float = 0.0, languages: tuple[str, ...] = ("en",)):
        self.languages = tuple(languages)
        self.models = {lang: PerplexityModel(lm_dir, lang) for lang in self.languages}
        self.model = self.models[self.languages[0]]
        self.keep = tuple(keep)
        self.lm_dir = lm_dir
        self.head, self.tail = head, tail
        self.cutoffs: dict[str, tuple[float, float]] = {}

    def model_files(self) -> list[str]:
        return [model_paths(self.lm_dir, lang)[k] for lang in self.languages for k in ("sp", "lm")]

    def setup(self) -> None:
        for lang, model in self.models.items():
            model.load()
            if lang not in self.cutoffs:
                head, tail = self.head, self.tail
                if not (head and tail):
                    file_head, file_tail, _ = load_cutoffs(self.lm_dir, lang)
                    head, tail = head or file_head, tail or file_tail
                self.cutoffs[lang] = (head, tail)
        if len(self.languages) == 1:
            self.head, self.tail = self.cutoffs[self.languages[0]]

    def filter(self, doc: Document):
        if not self.cutoffs:
            self.setup()
        language = doc.meta.get("language")
        if language not in self.models:
            language = self.languages[0]
        perplexity = self.models[language].perplexity(doc.text)
        name = bucket(perplexity, *self.cutoffs[language])
        doc.meta["perplexity"] = round(perplexity, 1) if perplexity != float("inf") else -1.0
        doc.meta["bucket"] = name
        if name not in self.keep:
            return False, f"perplexity_{name}"
        return True
