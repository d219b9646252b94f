"""`make classifier`: the fastText "Wikipedia reference" classifier of the LLaMA paper (section 2).

    python -m sources.commoncrawl.classifier --data data [--max-examples N] [--seed S] [beam flags]

LLaMA: "we trained a linear model to classify pages used as references in Wikipedia v.s.
randomly sampled pages, and discarded pages not classified as references." RedPajama's
reproduction trains fastText on pages cited by Wikipedia (positives) against random
CommonCrawl pages (negatives) and keeps pages with p(wiki) >= 0.25. With no internet we
cannot fetch the cited pages, so this trains on Wikipedia *article text* (the Wikipedia
source's output, else the real enwiki dump in .cache/assets) as positives and the raw
CommonCrawl pages under DATA/raw/commoncrawl as negatives. Writes DATA/models/wiki_classifier.bin.

Each class is a seeded sample of at most `--max-examples` pages (by document id, drawn as the
files stream: `sampling.py`), each held as the first MAX_CHARS characters the classifier sees, so
memory is bounded by that setting, not by the corpus. DATA, `--negatives` and `--output` may be
object-store URLs (Beam's `--s3_*` flags reach the store); the model is trained in a local
temporary folder and copied to `--output`, which appears only when complete.

`WikiReference` is the filter the CommonCrawl job applies with that model.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from typing import Iterable

from apache_beam.io.filesystems import FileSystems

from pipeline.document import Document
from pipeline.filters import Filter
from pipeline.langid import fasttext_line, load_fasttext, predict_line
from sources.commoncrawl.sampling import SEED, SeededSample, raw_pages

MODEL_NAME = "wiki_classifier.bin"
# RedPajama (data_prep/cc/classifier): pages with p(wiki reference) < 0.25 are discarded.
DEFAULT_THRESHOLD = 0.25
LABEL_WIKI, LABEL_CC = "__label__wiki", "__label__cc"
MAX_CHARS = 10_000  # what the classifier sees of a page (training and prediction alike)
# Examples per class: fastText's text-classification tutorial trains its linear model on ~12k
# examples (cooking.stackexchange: 12,404 train lines); at most MAX_CHARS characters each, two
# classes of 10,000 hold at most 200M characters (~50M for typical 2-3k character pages).
MAX_EXAMPLES = 10_000


def classifier_text(text: str) -> str:
    """One line, lowercased, whitespace collapsed (fastText reads a line per example)."""
    return " ".join(text[:MAX_CHARS].lower().split())


def require_classifier(path: str) -> None:
    from pipeline.localcache import require_file

    require_file(path, "CommonCrawl Wikipedia-reference classifier",
                 "run `make classifier` first (python -m sources.commoncrawl.classifier --data DATA)")


class WikiReference(Filter):
    """Keeps pages whose p(wiki) >= threshold; sets meta["wiki_score"]."""

    name = "wiki_reference"

    def __init__(self, model_path: str, threshold: float = DEFAULT_THRESHOLD):
        self.model_path = model_path
        self.threshold = threshold
        self._model = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None  # loaded again by setup() on each worker
        return state

    def model_files(self) -> list[str]:
        return [self.model_path]

    def setup(self) -> None:
        if self._model is None:
            require_classifier(self.model_path)
            self._model = load_fasttext(self.model_path)

    def score(self, text: str) -> float:
        """p(wiki) of a page."""
        self.setup()
        # the words of classifier_text(text), without collapsing the whitespace (see fasttext_line)
        scores = {label: prob for prob, label in predict_line(self._model, fasttext_line(text[:MAX_CHARS].lower()), 2)}
        return float(min(1.0, scores.get(LABEL_WIKI, 0.0)))

    def filter(self, doc: Document):
        score = self.score(doc.text)
        doc.meta["wiki_score"] = round(score, 4)
        if score < self.threshold:
            return False, "not_wiki_reference"
        return True


def sample_texts(docs: Iterable[tuple[str, str]], max_examples: int = MAX_EXAMPLES, seed: int = SEED) -> list[str]:
    """A seeded sample of at most `max_examples` of the (id, text) `docs` with words in them,
    each cut to the MAX_CHARS characters the classifier sees; in their input order."""
    sample = SeededSample(seed, max_items=max_examples)
    for doc_id, text in docs:
        if sample.wants(doc_id) and classifier_text(text):  # no words: fastText's loss would be NaN
            sample.offer(doc_id, text[:MAX_CHARS])
    return sample.items()


def cc_pages(raw_dir: str, max_examples: int = MAX_EXAMPLES, seed: int = SEED) -> list[str]:
    """A seeded sample of the raw CommonCrawl pages at `raw_dir` (files, folders, globs, URLs)."""
    return sample_texts(raw_pages(raw_dir), max_examples, seed)


def balanced(wiki: list[str], cc: list[str]) -> tuple[list[str], list[str]]:
    """The smaller class repeated up to the size of the larger, so the prior is 50/50 and
    p(wiki) >= threshold means the same however many pages of each kind there were."""
    def grow(texts: list[str], n: int) -> list[str]:
        return (texts * (n // len(texts) + 1))[:n] if texts else texts
    n = max(len(wiki), len(cc))
    return grow(wiki, n), grow(cc, n)


def write_examples(path: str, wiki: list[str], cc: list[str], seed: int) -> None:
    wiki = [t for t in wiki if classifier_text(t)]  # an example with no words makes fastText's loss NaN
    cc = [t for t in cc if classifier_text(t)]
    wiki, cc = balanced(wiki, cc)
    examples = [f"{LABEL_WIKI} {classifier_text(t)}" for t in wiki] + [f"{LABEL_CC} {classifier_text(t)}" for t in cc]
    random.Random(seed).shuffle(examples)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(examples) + "\n")


# fastText's supervised training is not a pure function of its input within one process: a
# later call on the same file, seed and settings may stop with "Encountered NaN" or give other
# weights (it reads memory it did not set), while the first call in a fresh process gives the same
# model every time. So each training runs in a fresh interpreter that imports fastText alone, and
# a NaN is retried in another before the learning rate is halved.
NAN_RETRIES = 4
NAN_EXIT = 3
_FIT = """
import sys, fasttext
examples, out, lr, seed, epochs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
try:
    model = fasttext.train_supervised(input=examples, epoch=epochs, lr=lr, wordNgrams=2, dim=32, bucket=100_000,
                                      minCount=1, thread=1, seed=seed, verbose=0)
except RuntimeError as exc:
    if "NaN" not in str(exc):
        raise
    sys.exit(%d)
model.save_model(out)
""" % NAN_EXIT


def fit(examples: str, out: str, seed: int, epochs: int) -> None:
    """Trains fastText on the examples file into `out` (see above: one fresh process a try).
    fastText's text-classification tutorial raises lr to 0.5-1.0 with 25 epochs and word bigrams
    for small data; a binary linear model needs few dimensions; 100k bigram buckets (not 2M) keep
    the file ~20 MB, not 800 MB; one thread."""
    for lr in (0.5, 0.25, 0.125):
        for _ in range(NAN_RETRIES):
            proc = subprocess.run([sys.executable, "-c", _FIT, examples, out, str(lr), str(seed), str(epochs)],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                return
            if proc.returncode != NAN_EXIT:
                raise RuntimeError(f"fastText training failed: {proc.stderr.strip()[-2000:]}")
        print(f"[classifier] fastText hit NaN {NAN_RETRIES} times at lr {lr}: trying half of it", flush=True)
    raise RuntimeError(f"fastText hit NaN at every learning rate down to 0.125 ({examples})")


def train(wiki: list[str], cc: list[str], out_path: str, seed: int = SEED, epochs: int = 25):
    """Trains the classifier and saves it to `out_path` (a path or URL); returns the fastText model."""
    from pipeline.localcache import copy_file

    with tempfile.TemporaryDirectory() as tmp:
        examples = os.path.join(tmp, "train.txt")
        write_examples(examples, wiki, cc, seed)
        local = os.path.join(tmp, MODEL_NAME)
        fit(examples, local, seed, epochs)
        model = load_fasttext(local)
        copy_file(local, out_path)
    return model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sources.commoncrawl.classifier",
                                     description=__doc__.splitlines()[0],
                                     epilog="Other flags go to Apache Beam's FileSystems (e.g. --s3_endpoint_url, "
                                            "--s3_access_key_id, --s3_region_name).")
    parser.add_argument("--data", default="data", help="data root, a path or URL (default: data)")
    parser.add_argument("--output", default=None, help=f"model path or URL (default: DATA/models/{MODEL_NAME})")
    parser.add_argument("--negatives", default=None,
                        help="WET/WARC files or folders of random CommonCrawl pages (default: DATA/raw/commoncrawl; "
                             "on real data, prefer a segment the job will not filter)")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES,
                        help=f"most pages of each class, a seeded sample (default: {MAX_EXAMPLES:,})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling, shuffle and training seed (default: {SEED})")
    parser.add_argument("--epochs", type=int, default=25, help="fastText epochs (default: 25)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipeline.localcache import store_error
    from sources.commoncrawl.lm import error, parse, wikipedia_docs, writable

    args = parse(build_parser(), argv)
    out = args.output or FileSystems.join(args.data, "models", MODEL_NAME)
    problem = writable(FileSystems.split(out)[0] or ".", "--output", args)
    if problem:
        return error(problem)
    raw_dir = args.negatives or FileSystems.join(args.data, "raw", "commoncrawl")
    try:
        docs, origin = wikipedia_docs(args.data)
        wiki = sample_texts(docs, args.max_examples, args.seed)
        cc = cc_pages(raw_dir, args.max_examples, args.seed)
        if not wiki or not cc:
            return error(f"need Wikipedia text ({len(wiki)} from {origin}) and CommonCrawl pages "
                         f"({len(cc)} under {raw_dir}; `make sample` writes some)")
        print(f"[classifier] positives: {len(wiki)} Wikipedia articles from {origin}; negatives: {len(cc)} raw "
              f"CommonCrawl pages from {raw_dir} (at most {args.max_examples:,} each, seed {args.seed})", flush=True)
        model = train(wiki, cc, out, args.seed, args.epochs)
    except OSError as exc:  # the data cannot be read, or the model not written
        return error(store_error(exc))
    print(f"[classifier] {len(model.words)} words, labels {model.labels} -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
