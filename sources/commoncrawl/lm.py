"""`make lm`: the Wikipedia language model CCNet scores CommonCrawl pages with.

    python -m sources.commoncrawl.lm --data data

As CCNet's `Makefile` (`lm` target): a SentencePiece unigram model is trained on Wikipedia
text, the text is cut into pieces, `lmplz -o 5 --discount_fallback` estimates a 5-gram ARPA
model and `build_binary` turns it into KenLM's binary format. Then, as CCNet's `cutoff.csv`
was made, the 30th and 60th perplexity percentiles of a reference sample of English
CommonCrawl pages (the raw pages under DATA/raw/commoncrawl that fastText calls English) are
written as the head/middle/tail cutoffs.

Wikipedia text comes from the Wikipedia source's output (DATA/clean/wikipedia/*.jsonl.gz);
when that is missing, from the real English Wikipedia dump in .cache/assets (said on stdout).
Writes DATA/models/en.sp.model, en.arpa.bin, en.cutoffs.json.
"""

from __future__ import annotations

import argparse
import bz2
import glob
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from typing import Iterator

from sources.commoncrawl.normalize import normalize
from sources.commoncrawl.perplexity import (
    CUTOFFS,
    LM_MODEL,
    PERCENTILE_HEAD,
    PERCENTILE_TAIL,
    SP_MODEL,
    PerplexityModel,
)

ENWIKI_ASSET = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
MIN_LINE_CHARS = 20  # paragraphs shorter than this are headings and list stubs, not prose


def clean_wikipedia_texts(data: str) -> Iterator[str]:
    for path in sorted(glob.glob(os.path.join(data, "clean", "wikipedia", "*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)["text"]


def dump_texts(path: str) -> Iterator[str]:
    """Article text (markup stripped) of a MediaWiki pages-articles .xml.bz2 dump, main namespace."""
    import mwparserfromhell

    with bz2.open(path, "rb") as stream:
        for _, elem in ET.iterparse(stream, events=("end",)):
            if not elem.tag.endswith("}page") and elem.tag != "page":
                continue
            ns = next((c.text for c in elem if c.tag.endswith("ns")), "0")
            redirect = any(c.tag.endswith("redirect") for c in elem)
            text = next((t.text for t in elem.iter() if t.tag.endswith("text")), None)
            if ns == "0" and not redirect and text:
                yield mwparserfromhell.parse(text).strip_code(normalize=True, collapse=True)
            elem.clear()


def wikipedia_texts(data: str) -> tuple[Iterator[str], str]:
    """(texts, where from): the Wikipedia source's clean output, else the enwiki dump asset."""
    if glob.glob(os.path.join(data, "clean", "wikipedia", "*.jsonl.gz")):
        return clean_wikipedia_texts(data), os.path.join(data, "clean", "wikipedia")
    from pipeline.assets import asset_path

    return dump_texts(asset_path(ENWIKI_ASSET)), f"{asset_path(ENWIKI_ASSET)} (no {data}/clean/wikipedia yet)"


def write_corpus(texts: Iterator[str], path: str) -> int:
    """One normalised paragraph a line (CCNet trains on normalised text); returns lines written."""
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for text in texts:
            for line in text.split("\n"):
                line = normalize(line)
                if len(line) >= MIN_LINE_CHARS:
                    out.write(line + "\n")
                    n += 1
    return n


def kenlm_binary(name: str) -> str:
    for candidate in (shutil.which(name), os.path.join(os.path.dirname(sys.executable), name),
                      os.path.join(".cache", "kenlm", "bin", name)):
        if candidate and os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"KenLM's {name} not found (make setup builds it into .cache/kenlm/bin)")


def train_sentencepiece(corpus: str, prefix: str, vocab_size: int) -> None:
    import sentencepiece

    # CCNet's Makefile: spm_train --model_type=unigram (character coverage as SentencePiece's default
    # for alphabetic languages); hard_vocab_limit off so a small corpus gets a smaller vocabulary.
    sentencepiece.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
        character_coverage=0.9999, hard_vocab_limit=False, num_threads=os.cpu_count() or 1,
        input_sentence_size=2_000_000, shuffle_input_sentence=True, minloglevel=2)


def train_kenlm(corpus: str, sp_model: str, out_bin: str, order: int, tmp: str) -> None:
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=sp_model)
    pieces = os.path.join(tmp, "pieces.txt")
    with open(corpus, encoding="utf-8") as src, open(pieces, "w", encoding="utf-8") as out:
        for line in src:
            out.write(" ".join(sp.encode(line.rstrip("\n"), out_type=str)) + "\n")
    arpa = os.path.join(tmp, "en.arpa")
    with open(pieces, "rb") as stdin, open(arpa, "wb") as stdout:
        # CCNet's Makefile: lmplz -o 5 --discount_fallback (memory capped: the machine is shared)
        subprocess.run([kenlm_binary("lmplz"), "-o", str(order), "--discount_fallback", "-S", "20%",
                        "-T", tmp], stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    subprocess.run([kenlm_binary("build_binary"), arpa, out_bin + ".tmp"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    os.replace(out_bin + ".tmp", out_bin)


def english_reference_pages(raw_dir: str, limit: int = 5000) -> list[str]:
    """Texts of raw CommonCrawl pages fastText calls English (CCNet's cutoffs are per language)."""
    from pipeline.document import Document
    from pipeline.files import expand_inputs
    from pipeline.langid import LanguageId
    from pipeline.warc import read_warc

    try:
        paths = expand_inputs(raw_dir)
    except FileNotFoundError:
        return []
    lid = LanguageId(("en",))
    pages = []
    for path in paths:
        for record in read_warc(path, "commoncrawl"):
            if isinstance(record, Document) and lid(record)[0]:
                pages.append(record.text)
                if len(pages) >= limit:
                    return pages
    return pages


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_cutoffs(lm_dir: str, raw_dir: str) -> str:
    pages = english_reference_pages(raw_dir)
    path = os.path.join(lm_dir, CUTOFFS)
    if len(pages) < 10:
        if os.path.exists(path):
            os.remove(path)
        return f"fewer than 10 English pages under {raw_dir}: the job uses CCNet's cutoffs 340/520"
    model = PerplexityModel(lm_dir)
    values = [model.perplexity(text) for text in pages]
    values = [v for v in values if v != float("inf")]
    cutoffs = {"head": round(percentile(values, PERCENTILE_HEAD), 1),
               "tail": round(percentile(values, PERCENTILE_TAIL), 1),
               "percentiles": [PERCENTILE_HEAD, PERCENTILE_TAIL], "reference": raw_dir, "pages": len(values)}
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(cutoffs, f, indent=2)
    os.replace(path + ".tmp", path)
    return f"cutoffs head<{cutoffs['head']} tail>={cutoffs['tail']} from {len(values)} English pages of {raw_dir}"


def train_lm(texts: Iterator[str], lm_dir: str, vocab_size: int = 8000, order: int = 5) -> int:
    """SentencePiece + KenLM from `texts` into `lm_dir`; returns the training lines (0: nothing written)."""
    os.makedirs(lm_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "wiki.txt")
        lines = write_corpus(texts, corpus)
        if lines == 0:
            return 0
        prefix = os.path.join(tmp, "en.sp")
        train_sentencepiece(corpus, prefix, vocab_size)
        train_kenlm(corpus, prefix + ".model", os.path.join(lm_dir, LM_MODEL), order, tmp)
        shutil.copyfile(prefix + ".model", os.path.join(lm_dir, SP_MODEL))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sources.commoncrawl.lm", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data", help="data root (default: data)")
    parser.add_argument("--lm-dir", default=None, help="where the models go (default: DATA/models)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece vocabulary (default: 8000)")
    parser.add_argument("--order", type=int, default=5, help="n-gram order (default: 5, as CCNet)")
    args = parser.parse_args(argv)
    lm_dir = args.lm_dir or os.path.join(args.data, "models")
    os.makedirs(lm_dir, exist_ok=True)
    texts, origin = wikipedia_texts(args.data)
    print(f"[lm] Wikipedia text from {origin}", flush=True)
    lines = train_lm(texts, lm_dir, args.vocab_size, args.order)
    if lines == 0:
        print(f"error: no Wikipedia text found in {origin}", file=sys.stderr)
        return 2
    print(f"[lm] {lines} lines -> {lm_dir}/{SP_MODEL}, {lm_dir}/{LM_MODEL}", flush=True)
    print(f"[lm] {write_cutoffs(lm_dir, os.path.join(args.data, 'raw', 'commoncrawl'))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
