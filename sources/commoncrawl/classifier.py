"""`make classifier`: the fastText "Wikipedia reference" classifier of the LLaMA paper (section 2).

    python -m sources.commoncrawl.classifier --data data

LLaMA: "we trained a linear model to classify pages used as references in Wikipedia v.s.
randomly sampled pages, and discarded pages not classified as references." RedPajama's
reproduction trains fastText on pages cited by Wikipedia (positives) against random
CommonCrawl pages (negatives) and keeps pages with p(wiki) >= 0.25. With no internet we
cannot fetch the cited pages, so this trains on Wikipedia *article text* (the Wikipedia
source's output, else the real enwiki dump in .cache/assets) as positives and the raw
CommonCrawl pages under DATA/raw/commoncrawl as negatives. Writes DATA/models/wiki_classifier.bin.

`WikiReference` is the filter the CommonCrawl job applies with that model.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile

from pipeline.document import Document
from pipeline.filters import Filter

MODEL_NAME = "wiki_classifier.bin"
# RedPajama (data_prep/cc/classifier): pages with p(wiki reference) < 0.25 are discarded.
DEFAULT_THRESHOLD = 0.25
LABEL_WIKI, LABEL_CC = "__label__wiki", "__label__cc"
MAX_CHARS = 10_000  # what the classifier sees of a page (training and prediction alike)


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
            from pipeline.langid import load_fasttext

            require_classifier(self.model_path)
            self._model = load_fasttext(self.model_path)

    def score(self, text: str) -> float:
        """p(wiki) of a page."""
        self.setup()
        labels, probs = self._model.predict(classifier_text(text), k=2)
        scores = dict(zip(labels, probs))
        return float(min(1.0, scores.get(LABEL_WIKI, 0.0)))

    def filter(self, doc: Document):
        score = self.score(doc.text)
        doc.meta["wiki_score"] = round(score, 4)
        if score < self.threshold:
            return False, "not_wiki_reference"
        return True


def cc_pages(raw_dir: str) -> list[str]:
    from pipeline.files import expand_inputs
    from pipeline.warc import read_warc

    try:
        paths = expand_inputs(raw_dir)
    except FileNotFoundError:
        return []
    return [r.text for p in paths for r in read_warc(p, "commoncrawl") if isinstance(r, Document) and r.text.strip()]


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


def train(wiki: list[str], cc: list[str], out_path: str, seed: int = 1234, epochs: int = 25):
    """Trains and saves the classifier; returns the fastText model."""
    import fasttext

    with tempfile.TemporaryDirectory() as tmp:
        examples = os.path.join(tmp, "train.txt")
        write_examples(examples, wiki, cc, seed)
        model = None
        for attempt in range(4):
            # fastText's text-classification tutorial raises lr to 0.5-1.0 with 25 epochs and word
            # bigrams for small data. A binary linear model needs few dimensions; 100k bigram buckets
            # (not 2M) keep the file ~20 MB, not 800 MB. One thread: the same model on every run.
            # On a few hundred long lines fastText now and then stops with "Encountered NaN":
            # try again with half the learning rate.
            try:
                model = fasttext.train_supervised(input=examples, epoch=epochs, lr=0.5 / 2**attempt, wordNgrams=2,
                                                  dim=32, bucket=100_000, minCount=1, thread=1, seed=seed + attempt,
                                                  verbose=0)
                break
            except RuntimeError as exc:
                if "NaN" not in str(exc) or attempt == 3:
                    raise
    model.save_model(out_path + ".tmp")
    os.replace(out_path + ".tmp", out_path)
    return model


def main(argv: list[str] | None = None) -> int:
    from sources.commoncrawl.lm import wikipedia_texts

    parser = argparse.ArgumentParser(prog="python -m sources.commoncrawl.classifier",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data", help="data root (default: data)")
    parser.add_argument("--output", default=None, help=f"model path (default: DATA/models/{MODEL_NAME})")
    parser.add_argument("--negatives", default=None,
                        help="WET/WARC files or folders of random CommonCrawl pages (default: DATA/raw/commoncrawl; "
                             "on real data, prefer a segment the job will not filter)")
    parser.add_argument("--seed", type=int, default=1234, help="shuffle and training seed (default: 1234)")
    parser.add_argument("--epochs", type=int, default=25, help="fastText epochs (default: 25)")
    args = parser.parse_args(argv)
    out = args.output or os.path.join(args.data, "models", MODEL_NAME)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    texts, origin = wikipedia_texts(args.data)
    wiki = [t for t in texts if len(t.strip()) > 0]
    raw_dir = args.negatives or os.path.join(args.data, "raw", "commoncrawl")
    cc = cc_pages(raw_dir)
    if not wiki or not cc:
        print(f"error: need Wikipedia text ({len(wiki)} from {origin}) and CommonCrawl pages "
              f"({len(cc)} under {raw_dir}; `make sample` writes some)", file=sys.stderr)
        return 2
    print(f"[classifier] positives: {len(wiki)} Wikipedia articles from {origin}; "
          f"negatives: {len(cc)} raw CommonCrawl pages from {raw_dir}", flush=True)
    model = train(wiki, cc, out, args.seed, args.epochs)
    print(f"[classifier] {len(model.words)} words, labels {model.labels} -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
