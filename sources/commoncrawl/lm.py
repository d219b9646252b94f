"""`make lm`: the Wikipedia language models CCNet scores CommonCrawl pages with, one per language.

    python -m sources.commoncrawl.lm --data data [--languages en,de] [--max-chars N] [--seed S] [beam flags]

As CCNet's `Makefile` (`lm` target, one model per language from that language's Wikipedia): a
SentencePiece unigram model is trained on the language's Wikipedia text, the text is cut into
pieces, `lmplz -o 5 --discount_fallback` estimates a 5-gram ARPA model and `build_binary` turns
it into KenLM's binary format. Then, as CCNet's `cutoff.csv` was made, the 30th and 60th
perplexity percentiles of a reference sample of the language's CommonCrawl pages (the raw pages
under DATA/raw/commoncrawl that fastText calls that language) are written as its
head/middle/tail cutoffs (`cutoffs.py`).

Wikipedia text comes from the Wikipedia source's output (DATA/clean/wikipedia/*.jsonl.gz), each
document's language being its `meta["language"]`; when that output is missing, from the real
English Wikipedia dump in .cache/assets (said on stdout). `--languages` defaults to what the
CommonCrawl job keeps. The shards are read once: each language's training text is a seeded
sample of its paragraphs, at most `--max-chars` characters a language, drawn as the shards
stream (`sampling.py`), so memory is bounded by `--max-chars` times the number of languages,
not by the corpus. A language with less than `--min-chars` of text gets no model, said on
stdout (the others are still trained; with none trained, the command fails).
DATA and `--lm-dir` may be object-store URLs (`s3://`, `gs://`; Beam's `--s3_*` flags reach
the store): everything is read and written through Beam's FileSystems; the models are trained
in a local temporary folder and copied to `--lm-dir`, each file appearing only when complete.
Writes DATA/models/<lang>.sp.model, <lang>.arpa.bin, <lang>.cutoffs.json for each language.
"""

from __future__ import annotations

import argparse
import bz2
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from typing import Iterable, Iterator

from apache_beam.io.filesystems import FileSystems

from sources.commoncrawl import LANGUAGES
from sources.commoncrawl.cutoffs import REFERENCE_PAGES, write_cutoffs
from sources.commoncrawl.normalize import normalize
from sources.commoncrawl.perplexity import model_paths
from sources.commoncrawl.sampling import SEED, SeededSample, clean_docs_with_language, clean_shards

__all__ = ["write_cutoffs"]  # kept importable from here: `make lm` writes the cutoffs too

ENWIKI_ASSET = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
MIN_LINE_CHARS = 20  # paragraphs shorter than this are headings and list stubs, not prose
# The training sample is held in memory while it is drawn (~1.5 bytes a character with Python's
# per-line overhead): 100M characters (~17M words) keep `make lm` under ~200 MB of its own, and
# SentencePiece reads at most 2M of its lines anyway (`input_sentence_size` below).
MAX_CHARS = 100_000_000
# A language with less training text than this gets no model: 100,000 characters are ~15,000
# words, a few Wikipedia articles; a 5-gram estimated from less is mostly back-off, and its
# perplexity would rank pages by their overlap with those few articles, not by their quality.
MIN_CHARS = 100_000


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


def language_docs(data: str) -> tuple[Iterator[tuple[str, str, str]], str]:
    """((id, text, language) streamed, where from): the Wikipedia source's clean output under
    `data` (a path or URL), else the enwiki dump asset (all "en"). Raises `OSError` when the
    store cannot be read."""
    directory = FileSystems.join(data, "clean", "wikipedia")
    shards = clean_shards(directory)
    if shards:
        return (doc for path in shards for doc in clean_docs_with_language(path)), directory
    from pipeline.assets import asset_path

    dump = asset_path(ENWIKI_ASSET)
    return ((f"enwiki/{n}", text, "en") for n, text in enumerate(dump_texts(dump))), f"{dump} (no {directory} yet)"


def wikipedia_docs(data: str) -> tuple[Iterator[tuple[str, str]], str]:
    """((id, text) streamed, where from), every language: `language_docs` without the language."""
    docs, origin = language_docs(data)
    return ((doc_id, text) for doc_id, text, _ in docs), origin


def corpus_lines(text: str) -> Iterator[str]:
    """The lines `make lm` trains on: normalised paragraphs (CCNet trains on normalised text)."""
    for line in text.split("\n"):
        line = normalize(line)
        if len(line) >= MIN_LINE_CHARS:
            yield line


def sample_lines(docs: Iterable[str | tuple[str, str]], max_chars: int = MAX_CHARS,
                 seed: int = SEED) -> SeededSample:
    """A seeded sample of the training lines of `docs` ((id, text) pairs, or texts keyed by their
    number), at most `max_chars` characters with newlines; the lines in their input order."""
    keyed = (doc if isinstance(doc, tuple) else (str(number), doc) for number, doc in enumerate(docs))
    return sample_by_language(((doc_id, text, "") for doc_id, text in keyed), ("",), max_chars, seed)[""]


def sample_by_language(docs: Iterable[tuple[str, str, str]], languages: tuple[str, ...],
                       max_chars: int = MAX_CHARS, seed: int = SEED) -> dict[str, SeededSample]:
    """One pass over (id, text, language) `docs`: per language of `languages`, a seeded sample of
    its documents' training lines, at most `max_chars` characters with newlines. A document of
    another language is passed over before its text is touched."""
    samples = {lang: SeededSample(seed, max_size=max_chars) for lang in languages}
    for doc_id, text, language in docs:
        sample = samples.get(language)
        if sample is None:
            continue
        for line_number, line in enumerate(corpus_lines(text)):
            sample.offer(f"{doc_id}/{line_number}", line, len(line) + 1)
    return samples


def write_corpus(lines: list[str], path: str) -> int:
    """One line a line (a local file: lmplz and SentencePiece read it); returns lines written."""
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)
    return len(lines)


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
    """A KenLM binary at the local path `out_bin`, from the SentencePiece pieces of `corpus`."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=sp_model)
    pieces = os.path.join(tmp, "pieces.txt")
    with open(corpus, encoding="utf-8") as src, open(pieces, "w", encoding="utf-8") as out:
        for line in src:
            out.write(" ".join(sp.encode(line.rstrip("\n"), out_type=str)) + "\n")
    arpa = os.path.join(tmp, "lm.arpa")
    with open(pieces, "rb") as stdin, open(arpa, "wb") as stdout:
        # CCNet's Makefile: lmplz -o 5 --discount_fallback (memory capped: the machine is shared)
        subprocess.run([kenlm_binary("lmplz"), "-o", str(order), "--discount_fallback", "-S", "20%",
                        "-T", tmp], stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    subprocess.run([kenlm_binary("build_binary"), arpa, out_bin], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)


def train_corpus(corpus: str, lm_dir: str, vocab_size: int = 8000, order: int = 5, language: str = "en") -> None:
    """SentencePiece + KenLM from the local training file `corpus` (a line a line) into `lm_dir`
    (a path or URL), under the language's names (`perplexity.model_paths`)."""
    from pipeline.localcache import copy_file

    paths = model_paths(lm_dir, language)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "sp")
        train_sentencepiece(corpus, prefix, vocab_size)
        train_kenlm(corpus, prefix + ".model", os.path.join(tmp, "lm.bin"), order, tmp)
        copy_file(os.path.join(tmp, "lm.bin"), paths["lm"])
        copy_file(prefix + ".model", paths["sp"])


def train_lm(docs: Iterable[str | tuple[str, str]], lm_dir: str, vocab_size: int = 8000, order: int = 5,
             max_chars: int = MAX_CHARS, seed: int = SEED, language: str = "en") -> int:
    """SentencePiece + KenLM from a seeded sample of `docs` (texts, or (id, text) pairs, all of
    `language`) into `lm_dir` (a path or URL); returns the training lines (0: nothing written)."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "wiki.txt")
        # the sample is let go once written: SentencePiece and lmplz read the file
        n_lines = write_corpus(sample_lines(docs, max_chars, seed).items(), corpus)
        if n_lines:
            train_corpus(corpus, lm_dir, vocab_size, order, language)
    return n_lines


def train_languages(docs: Iterable[tuple[str, str, str]], lm_dir: str, languages: tuple[str, ...],
                    vocab_size: int = 8000, order: int = 5, max_chars: int = MAX_CHARS,
                    min_chars: int = MIN_CHARS, seed: int = SEED) -> tuple[dict[str, int], dict[str, int]]:
    """One model per language from one pass over (id, text, language) `docs`, each trained on its
    own language's sample only, into `lm_dir`. Returns ({language: training lines} of the models
    written, {language: characters found} of those with less than `min_chars`: no model)."""
    samples = sample_by_language(docs, languages, max_chars, seed)
    trained, too_little = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        corpora = {}
        for lang in languages:  # every sample to a file first: none is held while a model trains
            if samples[lang].size < max(min_chars, 1):  # an empty corpus trains nothing
                too_little[lang] = samples.pop(lang).size
                continue
            corpora[lang] = os.path.join(tmp, f"{lang}.txt")
            trained[lang] = write_corpus(samples.pop(lang).items(), corpora[lang])
        for lang, corpus in corpora.items():
            train_corpus(corpus, lm_dir, vocab_size, order, lang)
    return trained, too_little


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sources.commoncrawl.lm", description=__doc__.splitlines()[0],
                                     epilog="Other flags go to Apache Beam's FileSystems (e.g. --s3_endpoint_url, "
                                            "--s3_access_key_id, --s3_region_name).")
    parser.add_argument("--data", default="data", help="data root, a path or URL (default: data)")
    parser.add_argument("--lm-dir", default=None, help="where the models go, a path or URL (default: DATA/models)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece vocabulary (default: 8000)")
    parser.add_argument("--order", type=int, default=5, help="n-gram order (default: 5, as CCNet)")
    parser.add_argument("--languages", type=language_list, default=LANGUAGES,
                        help="fastText lid.176 codes, comma-separated: a model for each (default: what the "
                             f"CommonCrawl job keeps, {','.join(LANGUAGES)})")
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS, help="most characters of a language's "
                        f"Wikipedia text to train on, a seeded sample (default: {MAX_CHARS:,})")
    parser.add_argument("--min-chars", type=int, default=MIN_CHARS, help="a language with less Wikipedia text "
                        f"than this gets no model (default: {MIN_CHARS:,})")
    parser.add_argument("--reference-pages", type=int, default=REFERENCE_PAGES, help="most raw pages of a "
                        f"language its cutoffs are measured on (default: {REFERENCE_PAGES})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling seed (default: {SEED})")
    parser.add_argument("--lid-model", default="", help="fastText language-ID model for the reference pages "
                        "(default: data/models/lid.176.bin if there, else the setup asset)")
    return parser


def language_list(value: str) -> tuple[str, ...]:
    """`--languages en,de`: the codes, in order, each once."""
    return tuple(dict.fromkeys(code.strip() for code in value.split(",") if code.strip()))


def check_languages(args: argparse.Namespace) -> str:
    """"" when `--languages` names lid.176 languages and `--min-chars` fits `--max-chars`, else the
    error line. (A language the CommonCrawl job could never see has no use for a model.)"""
    from pipeline.langid import lid_model_path, load_fasttext
    from pipeline.localcache import store_error

    if args.min_chars > args.max_chars:
        return f"--min-chars {args.min_chars:,} is above --max-chars {args.max_chars:,}: no language could get a model"
    if not args.languages:
        return "--languages names no language (e.g. --languages en,de)"
    try:
        known = {label.replace("__label__", "") for label in load_fasttext(lid_model_path(args.lid_model)).get_labels()}
    except Exception as exc:  # a missing or unreadable model
        return f"cannot read the language-ID model: {store_error(exc)}"
    unknown = [code for code in args.languages if code not in known]
    if unknown:
        return (f"unknown language code{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in "
                f"--languages: not among fastText lid.176's {len(known)} languages (e.g. en, de, fr, ru)")
    return ""


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Our flags; the rest are Beam's, given to this process's FileSystems. Exits 2 on a flag
    neither knows."""
    from pipeline.options import unknown_flags, use_filesystems

    args, rest = parser.parse_known_args(argv)
    unknown = unknown_flags(rest, parser)
    if unknown:
        parser.exit(2, f"error: unknown flag{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                       "neither this command nor Apache Beam knows it (see --help)\n")
    for name in ("max_chars", "min_chars", "reference_pages", "max_examples"):
        if getattr(args, name, 1) < 1:
            parser.exit(2, f"error: --{name.replace('_', '-')} must be at least 1\n")
    args.beam_options = use_filesystems(rest)
    return args


def error(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def writable(directory: str, flag: str, args: argparse.Namespace) -> str:
    """"" when the stores of DATA and `directory` (a path or URL) answer and `directory` can be
    written, else the error line (for `flag`)."""
    from pipeline.files import check_writable
    from pipeline.localcache import store_error
    from pipeline.store import StoreError, check_paths

    try:
        check_paths([args.data, directory], args.beam_options)
        check_writable(directory)
    except StoreError as exc:
        return str(exc)
    except Exception as exc:  # BeamIOError, PermissionError, a store's refusal
        return f"cannot write to {flag} {directory!r}: {store_error(exc)}"
    return ""


def publish(local: str, lm_dir: str, languages: tuple[str, ...]) -> None:
    """Copies the models of `languages` trained in the local folder `local` to `lm_dir` (a path or
    URL), each file appearing only when complete; a cutoffs file `local` lacks is removed from
    `lm_dir` too. Other languages' files in `lm_dir` are left as they are."""
    from pipeline.localcache import copy_file

    for lang in languages:
        here, there = model_paths(local, lang), model_paths(lm_dir, lang)
        for key in ("lm", "sp", "cutoffs"):
            if os.path.exists(here[key]):
                copy_file(here[key], there[key])
            elif FileSystems.exists(there[key]):
                FileSystems.delete([there[key]])


def no_model(lang: str, chars: int, origin: str, args: argparse.Namespace, lm_dir: str) -> str:
    """Why `lang` got no model, and what the CommonCrawl job does about it, in one line."""
    older = model_paths(lm_dir, lang)["sp"]
    kept = f"; the {lang} model already in {lm_dir} is left as it is" if FileSystems.exists(older) else ""
    return (f"{lang}: no model: {chars:,} characters of {lang} Wikipedia text in {origin}, fewer than --min-chars "
            f"{args.min_chars:,}; a CommonCrawl job keeping {lang} stops before it starts until {lang}.sp.model and "
            f"{lang}.arpa.bin are in its --lm-dir (more {lang} Wikipedia text, or CCNet's model){kept}")


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    lm_dir = args.lm_dir or FileSystems.join(args.data, "models")
    problem = writable(lm_dir, "--lm-dir", args) or check_languages(args)
    if problem:
        return error(problem)
    try:
        docs, origin = language_docs(args.data)
        print(f"[lm] Wikipedia text from {origin}; languages {','.join(args.languages)}", flush=True)
        with tempfile.TemporaryDirectory() as local:  # KenLM and SentencePiece write local files
            trained, too_little = train_languages(docs, local, args.languages, args.vocab_size, args.order,
                                                  args.max_chars, args.min_chars, args.seed)
            skipped = [no_model(lang, chars, origin, args, lm_dir) for lang, chars in too_little.items()]
            if not trained:
                return error("; ".join(skipped))
            raw_dir = FileSystems.join(args.data, "raw", "commoncrawl")
            said = write_cutoffs(local, raw_dir, args.reference_pages, args.seed, args.lid_model, tuple(trained))
            publish(local, lm_dir, tuple(trained))
    except OSError as exc:  # the data cannot be read (an unreadable shard, a store that refuses)
        from pipeline.localcache import store_error

        return error(store_error(exc))
    for lang, lines in trained.items():
        paths = model_paths(lm_dir, lang)
        print(f"[lm] {lang}: {lines} lines (at most {args.max_chars:,} characters, seed {args.seed}) -> "
              f"{paths['sp']}, {paths['lm']}", flush=True)
    for line in said + skipped:
        print(f"[lm] {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
