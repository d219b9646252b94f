"""`make classifier`: the fastText "Wikipedia reference" classifier of the LLaMA paper (section 2).

    python -m sources.commoncrawl.classifier --data data [--crawl GLOB] [--negatives GLOB]
        [--max-examples N] [--min-cited N] [--seed S] [beam flags]

LLaMA: "we trained a linear model to classify pages used as references in Wikipedia v.s.
randomly sampled pages, and discarded pages not classified as references." So the positives are
the crawl pages (`--crawl`, default DATA/raw/commoncrawl) whose URL a Wikipedia article cites
(the Wikipedia job's DATA/clean/wikipedia/cited_urls/), the negatives a seeded random sample of
the other pages (of `--negatives`, another segment than the one filtered, when given), found by
a Beam job that joins the two by normalised URL (`references.py`). RedPajama keeps pages with
p(wiki) >= 0.25. With fewer than `--min-cited` cited pages the positives fall back to Wikipedia
*article text* (the Wikipedia source's output, else the real enwiki dump in .cache/assets), and
the JSON beside the model, the CommonCrawl job's stats.json and the report say so loudly.
Writes DATA/models/wiki_classifier.bin and wiki_classifier.json (the kind of positives, how many
cited and other pages there were, how many of each were used).

Each class is a seeded sample of at most `--max-examples` pages, each held as the first MAX_CHARS
characters the classifier sees, so memory is bounded by that setting, not by the corpus. DATA,
`--crawl`, `--negatives` and `--output` may be object-store URLs (Beam's `--s3_*` flags reach the
store); the model is trained in a local temporary folder, in a fresh process, and copied to
`--output`, which appears only when complete.

`WikiReference` is the filter the CommonCrawl job applies with that model.
"""

from __future__ import annotations

import argparse
import json
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
# Fewer crawl pages cited by Wikipedia than this, and the positives are Wikipedia article text
# instead (said loudly): 30 is the usual rule of thumb for the smallest sample whose mean is
# near-normal, and with fewer a class is a handful of pages (a few sites' boilerplate) that
# fastText would learn by heart. Set by hand (`--min-cited`), not measured on a real crawl.
MIN_CITED_PAGES = 30
CITED, ARTICLE_TEXT = "wikipedia_cited_pages", "wikipedia_article_text"  # the kinds of positives
DESCRIBED = {CITED: "crawl pages Wikipedia cites", ARTICLE_TEXT: "Wikipedia articles (FALLBACK: too few cited pages)"}


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


def info_path(model_path: str) -> str:
    """The JSON beside the model that says what it was trained on (`wiki_classifier.json`)."""
    return (model_path[:-len(".bin")] if model_path.endswith(".bin") else model_path) + ".json"


def read_info(model_path: str) -> dict | None:
    """The model's JSON (None when there is none: a model from before it was written)."""
    from pipeline.files import read_bytes

    path = info_path(model_path)
    try:
        return json.loads(read_bytes(path)) if FileSystems.exists(path) else None
    except (OSError, ValueError):
        return {"warning": f"{path} cannot be read: what this classifier was trained on is unknown"}


def classifier_stats(model_path: str) -> dict:
    """What the CommonCrawl job's stats.json says of its classifier: the JSON beside the model
    (its "warning", when the positives were the fallback, also logged), or that it is unknown."""
    import logging

    info = read_info(model_path) or {
        "positives": "unknown",
        "warning": f"no {info_path(model_path)} beside the model (trained before `make classifier` wrote one): "
                   "whether its positives were pages Wikipedia cites is unknown; rerun `make classifier`"}
    if "warning" in info:
        logging.getLogger("sources.commoncrawl").warning("Wikipedia-reference classifier: %s", info["warning"])
    return info


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sources.commoncrawl.classifier",
                                     description=__doc__.splitlines()[0],
                                     epilog="Other flags go to Apache Beam (--runner ..., --direct_running_mode ..., "
                                            "the object store's --s3_endpoint_url, --s3_access_key_id, ...).")
    parser.add_argument("--data", default="data", help="data root, a path or URL (default: data)")
    parser.add_argument("--output", default=None, help=f"model path or URL (default: DATA/models/{MODEL_NAME}; "
                        "the JSON saying what it was trained on goes beside it)")
    parser.add_argument("--crawl", default=None,
                        help="WET/WARC files or folders whose pages Wikipedia may cite (default: DATA/raw/commoncrawl)")
    parser.add_argument("--cited-urls", default=None,
                        help="the cited URLs (default: DATA/clean/wikipedia/cited_urls/*.txt.gz, the Wikipedia job's)")
    parser.add_argument("--negatives", default=None,
                        help="WET/WARC files or folders of random CommonCrawl pages (default: the --crawl pages; "
                             "on real data, prefer a segment the job will not filter)")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES,
                        help=f"most pages of each class, a seeded sample (default: {MAX_EXAMPLES:,})")
    parser.add_argument("--min-cited", type=int, default=MIN_CITED_PAGES,
                        help=f"fewer cited crawl pages than this: Wikipedia article text is the positives instead "
                             f"(default: {MIN_CITED_PAGES})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling, shuffle and training seed (default: {SEED})")
    parser.add_argument("--epochs", type=int, default=25, help="fastText epochs (default: 25)")
    return parser


def _inputs(args) -> tuple[list[tuple[str, bool]], str, str | None]:
    """((file, its pages are negative candidates) for every crawl file, where the negatives come
    from, the cited-URL glob or None when there are no such files)."""
    from pipeline.files import expand_inputs

    def files(spec: str) -> list[str]:
        try:
            return expand_inputs(spec)
        except FileNotFoundError:
            return []

    crawl = args.crawl or FileSystems.join(args.data, "raw", "commoncrawl")
    negatives = args.negatives or crawl
    pool = set(files(negatives))
    work = [(path, path in pool) for path in sorted(set(files(crawl)) | pool)]
    cited = args.cited_urls or FileSystems.join(args.data, "clean", "wikipedia", "cited_urls", "*.txt.gz")
    try:
        matched = FileSystems.match([cited])[0].metadata_list
    except Exception:  # Beam raises when nothing matches
        matched = []
    return work, negatives, cited if matched else None


def _positives(args, found) -> tuple[list[str], dict]:
    """The positives' texts and what the JSON beside the model says about them: the cited crawl
    pages, or (too few of them) Wikipedia article text, said loudly."""
    from sources.commoncrawl.lm import wikipedia_docs

    info = {"cited_urls": found.cited_urls, "cited_pages_found": found.cited_pages,
            "other_pages_found": found.other_pages, "min_cited": args.min_cited}
    if found.cited_pages >= args.min_cited:
        return found.positives, {"positives": CITED, **info}
    docs, origin = wikipedia_docs(args.data)
    wiki = sample_texts(docs, args.max_examples, args.seed)
    info["warning"] = (f"FALLBACK: only {found.cited_pages} crawl pages are cited by Wikipedia ({found.cited_urls:,} "
                       f"cited URLs; fewer than --min-cited {args.min_cited}), so the positives are Wikipedia "
                       f"article text from {origin}, not the pages Wikipedia cites (LLaMA's classifier): give "
                       "a crawl segment that holds cited pages, or the Wikipedia job's cited_urls/")
    return wiki, {"positives": ARTICLE_TEXT, **info}


def _find(references, options, work, cited, args, out_dir):
    """The Beam job's examples; a failure inside it (a damaged cited-URL file) is an OSError
    naming the job, so the command says one line, not a worker's traceback."""
    import uuid

    try:
        return references.find_examples(options, work, cited, args.max_examples, args.seed,
                                        FileSystems.join(out_dir, f".tmp-classifier-{uuid.uuid4().hex[:8]}.jsonl.gz"),
                                        MAX_CHARS)
    except OSError:
        raise
    except Exception as exc:  # Beam wraps what failed on a worker in its own errors
        last = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
        raise OSError(f"the classifier's Beam job failed ({cited or 'no cited URLs'}): {last[0][:500]}") from None


def main(argv: list[str] | None = None) -> int:
    from pipeline.files import write_atomic_bytes
    from pipeline.localcache import store_error
    from pipeline.options import beam_options
    from sources.commoncrawl import references
    from sources.commoncrawl.lm import error, parse, writable

    parser = build_parser()
    args = parse(parser, argv)
    out = args.output or FileSystems.join(args.data, "models", MODEL_NAME)
    out_dir = FileSystems.split(out)[0] or "."
    problem = writable(out_dir, "--output", args)
    if problem:
        return error(problem)
    try:
        work, negatives, cited = _inputs(args)
        if not any(pool for _, pool in work):
            return error(f"need CommonCrawl pages (0 under {negatives}; `make sample` writes some) for the negatives")
        found = _find(references, beam_options(parser.parse_known_args(argv)[1]), work, cited, args, out_dir)
        if not found.negatives:
            return error(f"need CommonCrawl pages (0 with words under {negatives}) for the negatives")
        wiki, info = _positives(args, found)
        if not wiki:
            return error("need Wikipedia text for the positives (too few cited crawl pages, and no article text)")
        info.update(positives_used=len(wiki), negatives_used=len(found.negatives), negatives_from=negatives,
                    max_examples=args.max_examples, seed=args.seed)
        print(f"[classifier] positives: {len(wiki)} {DESCRIBED[info['positives']]}; negatives: {len(found.negatives)} "
              f"random CommonCrawl pages of {found.other_pages} from {negatives} (at most {args.max_examples:,} "
              f"each, seed {args.seed})", flush=True)
        if "warning" in info:
            print(f"[classifier] WARNING: {info['warning']}", file=sys.stderr, flush=True)
        if FileSystems.exists(info_path(out)):  # a model without its JSON says "unknown", never another's kind
            FileSystems.delete([info_path(out)])
        model = train(wiki, found.negatives, out, args.seed, args.epochs)
        write_atomic_bytes(info_path(out), (json.dumps(info, indent=1, sort_keys=True) + "\n").encode())
    except OSError as exc:  # the data cannot be read, or the model not written
        return error(store_error(exc))
    print(f"[classifier] {len(model.words)} words, labels {model.labels} -> {out} (+ {info_path(out)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
