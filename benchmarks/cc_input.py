"""A CommonCrawl-like load for bench_commoncrawl: WET files with a real segment's language mix,
and models of realistic size trained on the whole sample Wikipedia.

Pages (`write_input`): about 45% English, as in a CommonCrawl segment (CCNet, Wenzek et al.
2020, Table 6: English is ~43% of a 2019 snapshot's pages) - news articles (lee_background.cor,
3 sentences a paragraph) and encyclopedia pages (the enwiki dump), each framed by the navigation,
cookie banner and footer of its site (repeated lines, for line dedup), and word-salad pages;
the other 55% German and Russian (Debian's fortunes, 2 a line; the assets' Bulgarian and
Japanese text is too short to make thousands of distinct pages). Lines are drawn so that the
body text rarely repeats (a pool's item drawn twice would be a duplicate line that the job
removes before language ID while the floor pays for it); ~2.3 KB of text a page on average.

Models (`train_models`): SentencePiece (8,000 pieces, `make lm`'s default) + KenLM 5-gram on all
106 articles of the enwiki dump (3.4M characters), cutoffs from the benchmark's own pages as
`make lm` does from the raw pages, and the Wikipedia-reference classifier trained on those
articles against the sample's raw CommonCrawl pages, as `make classifier` does.
"""

from __future__ import annotations

import itertools
import os
import random
import re

PAGES_PER_FILE = 1000  # a real WET file holds ~40,000; this keeps several files per input
ENGLISH_SHARE = 0.45


def texts(assets: str) -> dict[str, list[str]]:
    """Paragraph pools by kind: news sentences, enwiki paragraphs, and the other languages'."""
    from samples.commoncrawl import fortunes
    from sources.commoncrawl.lm import ENWIKI_ASSET, dump_texts

    news = sentences(assets)
    wiki = [p for t in dump_texts(os.path.join(assets, ENWIKI_ASSET)) for p in t.split("\n") if len(p) > 40]
    rng = random.Random(0)
    pool = {"news": news, "wiki": wiki, **{lang: [" ".join(f.split()) for f in fortunes(lang, rng)]  # one line
                                              for lang in ("de", "ru")}}  # each (a fortune has several)
    if not (pool["de"] or pool["ru"]):
        raise RuntimeError("the benchmark's non-English pages come from Debian's fortunes-de / fortunes-ru "
                           "(scripts/setup.sh installs them): neither is installed")
    return pool


def page(rng: random.Random, pool: dict[str, list[str]]) -> tuple[str, str]:
    """(language tag, text) of one page, drawn with the segment's language mix."""
    from samples.commoncrawl import COOKIES, FOOTERS, NAV

    if rng.random() < ENGLISH_SHARE:
        kind = rng.random()
        if kind < 0.6:  # news: paragraphs of three sentences
            body = [" ".join(rng.sample(pool["news"], 3)) for _ in range(rng.randint(3, 7))]
        elif kind < 0.9:  # encyclopedia: paragraphs of two random ones (a pool's paragraph drawn
            body = [" ".join(rng.sample(pool["wiki"], 2)) for _ in range(rng.randint(2, 5))]  # twice repeats)
        else:  # word salad (the perplexity tail)
            words = rng.sample(pool["news"], 8)
            body = [" ".join(rng.sample(" ".join(words).split(), 25)) for _ in range(6)]
        return "eng", "\n".join([rng.choice(NAV), *body, rng.choice(COOKIES), rng.choice(FOOTERS)])
    lang = rng.choice([lang for lang in ("de", "ru") if pool[lang]])
    count = {"de": 4, "ru": 6}[lang]  # lines of two fortunes each: distinct lines, as on distinct pages
    body = [" ".join(rng.sample(pool[lang], 2)) for _ in range(count)]
    return {"de": "deu", "ru": "rus"}[lang], "\n".join(body)


def write_input(folder: str, n_pages: int, seed: int, pool: dict[str, list[str]]) -> tuple[list[str], int]:
    """`n_pages` pages in WET files under `folder`; (paths, bytes of WET text: the pages' blocks)."""
    from samples.commoncrawl import conversion_record, write_wet

    rng = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    records, text_bytes = [], 0
    for number in range(n_pages):
        lang, text = page(rng, pool)
        block = text.encode("utf-8")
        text_bytes += len(block)
        records.append(conversion_record(f"http://site{seed}-{number % 97}.example/{number}", lang, block, rng))
    paths = []
    for index in range(0, n_pages, PAGES_PER_FILE):
        path = os.path.join(folder, f"bench-{seed}-{index // PAGES_PER_FILE:05d}.warc.wet.gz")
        write_wet(path, records[index:index + PAGES_PER_FILE], index, rng)
        paths.append(path)
    return paths, text_bytes


def train_models(folder: str, assets: str, reference: str) -> tuple[str, str]:
    """(lm_dir, classifier path) trained on the whole enwiki dump asset (see the module doc)."""
    from samples import commoncrawl as sample
    from sources.commoncrawl import classifier, lm

    lm_dir = os.path.join(folder, "models")
    wiki = list(lm.dump_texts(os.path.join(assets, lm.ENWIKI_ASSET)))
    lm.train_lm(iter(wiki), lm_dir)
    lm.write_cutoffs(lm_dir, reference)
    raw = os.path.join(folder, "sample-raw")
    os.makedirs(raw, exist_ok=True)
    sample.build(raw, assets, 1234)
    path = os.path.join(lm_dir, classifier.MODEL_NAME)
    classifier.train(wiki, classifier.cc_pages(raw), path)
    return lm_dir, path


# --- bench_cluster's smaller load: English news pages, one in ten German or Russian, models
# trained on 40 articles (the cluster bench measures remote I/O, not the models) ----------------

SMALL_PAGES_PER_FILE = 250


def sentences(assets: str) -> list[str]:
    with open(os.path.join(assets, "lee_background.cor"), encoding="utf-8") as f:
        text = f.read()
    return [s for s in re.split(r"(?<=[.!?]) (?=[A-Z])", text) if len(s) > 30]


def small_input(folder: str, n_pages: int, seed: int, pool: list[str], foreign: list[str]) -> list[str]:
    """`n_pages` distinct pages (paragraphs of 3 random sentences) in WET files; returns the paths."""
    from samples.commoncrawl import COOKIES, FOOTERS, NAV, conversion_record, write_wet

    rng = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    records = []
    for number in range(n_pages):
        if foreign and number % 10 == 9:
            body = "\n".join(rng.sample(foreign, 6))
        else:
            paragraphs = [" ".join(rng.sample(pool, 3)) for _ in range(rng.randint(3, 8))]
            body = "\n".join([rng.choice(NAV), *paragraphs, rng.choice(COOKIES), rng.choice(FOOTERS)])
        records.append(conversion_record(f"http://site{seed}.example/{number}", "eng", body.encode(), rng))
    paths = []
    for index in range(0, n_pages, SMALL_PAGES_PER_FILE):
        path = os.path.join(folder, f"bench-{seed}-{index // SMALL_PAGES_PER_FILE:05d}.warc.wet.gz")
        write_wet(path, records[index:index + SMALL_PAGES_PER_FILE], index, rng)
        paths.append(path)
    return paths


def small_models(tmp: str, assets: str, reference: str) -> tuple[str, str]:
    """(lm_dir, classifier path), small and trained now so every run measures the same models:
    the LM on 40 enwiki articles (cutoffs from the benchmark's own pages, as `make lm` does
    from the raw pages), the classifier on those articles vs word-salad pages."""
    from sources.commoncrawl import classifier, lm

    lm_dir = os.path.join(tmp, "models")
    wiki = list(itertools.islice(lm.dump_texts(os.path.join(assets, lm.ENWIKI_ASSET)), 40))
    lm.train_lm(iter(wiki), lm_dir, vocab_size=2000)
    lm.write_cutoffs(lm_dir, reference)
    words = sorted({w for s in sentences(assets) for w in s.split()})
    salad = [" ".join(random.Random(i).choices(words, k=300)) for i in range(200)]
    path = os.path.join(lm_dir, classifier.MODEL_NAME)
    classifier.train(wiki, salad, path)
    return lm_dir, path
