"""`make lm`: the Wikipedia language model CCNet scores CommonCrawl pages with.

    python -m sources.commoncrawl.lm --data data [--max-chars N] [--seed S] [beam flags]

As CCNet's `Makefile` (`lm` target): a SentencePiece unigram model is trained on Wikipedia
text, the text is cut into pieces, `lmplz -o 5 --discount_fallback` estimates a 5-gram ARPA
model and `build_binary` turns it into KenLM's binary format. Then, as CCNet's `cutoff.csv`
was made, the 30th and 60th perplexity percentiles of a reference sample of English
CommonCrawl pages (the raw pages under DATA/raw/commoncrawl that fastText calls English) are
written as the head/middle/tail cutoffs (`cutoffs.py`).

Wikipedia text comes from the Wikipedia source's output (DATA/clean/wikipedia/*.jsonl.gz);
when that is missing, from the real English Wikipedia dump in .cache/assets (said on stdout).
The training text is a seeded sample of its paragraphs, at most `--max-chars` characters, drawn
as the shards stream (`sampling.py`): memory is bounded by that setting, not by the corpus.
DATA and `--lm-dir` may be object-store URLs (`s3://`, `gs://`; Beam's `--s3_*` flags reach
the store): everything is read and written through Beam's FileSystems; the models are trained
in a local temporary folder and copied to `--lm-dir`, each file appearing only when complete.
Writes DATA/models/en.sp.model, en.arpa.bin, en.cutoffs.json.
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

from sources.commoncrawl.cutoffs import REFERENCE_PAGES, write_cutoffs
from sources.commoncrawl.normalize import normalize
from sources.commoncrawl.perplexity import CUTOFFS, LM_MODEL, SP_MODEL
from sources.commoncrawl.sampling import SEED, SeededSample, clean_docs, clean_shards

__all__ = ["write_cutoffs"]  # kept importable from here: `make lm` writes the cutoffs too

ENWIKI_ASSET = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
MIN_LINE_CHARS = 20  # paragraphs shorter than this are headings and list stubs, not prose
# The training sample is held in memory while it is drawn (~1.5 bytes a character with Python's
# per-line overhead): 100M characters (~17M words) keep `make lm` under ~200 MB of its own, and
# SentencePiece reads at most 2M of its lines anyway (`input_sentence_size` below).
MAX_CHARS = 100_000_000


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


def wikipedia_docs(data: str) -> tuple[Iterator[tuple[str, str]], str]:
    """((id, text) streamed, where from): the Wikipedia source's clean output under `data` (a
    path or URL), else the enwiki dump asset. Raises `OSError` when the store cannot be read."""
    directory = FileSystems.join(data, "clean", "wikipedia")
    shards = clean_shards(directory)
    if shards:
        return (doc for path in shards for doc in clean_docs(path)), directory
    from pipeline.assets import asset_path

    dump = asset_path(ENWIKI_ASSET)
    return ((f"enwiki/{n}", text) for n, text in enumerate(dump_texts(dump))), f"{dump} (no {directory} yet)"


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
    sample = SeededSample(seed, max_size=max_chars)
    for number, doc in enumerate(docs):
        doc_id, text = doc if isinstance(doc, tuple) else (str(number), doc)
        for line_number, line in enumerate(corpus_lines(text)):
            sample.offer(f"{doc_id}/{line_number}", line, len(line) + 1)
    return sample


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
    arpa = os.path.join(tmp, "en.arpa")
    with open(pieces, "rb") as stdin, open(arpa, "wb") as stdout:
        # CCNet's Makefile: lmplz -o 5 --discount_fallback (memory capped: the machine is shared)
        subprocess.run([kenlm_binary("lmplz"), "-o", str(order), "--discount_fallback", "-S", "20%",
                        "-T", tmp], stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    subprocess.run([kenlm_binary("build_binary"), arpa, out_bin], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)


def train_lm(docs: Iterable[str | tuple[str, str]], lm_dir: str, vocab_size: int = 8000, order: int = 5,
             max_chars: int = MAX_CHARS, seed: int = SEED) -> int:
    """SentencePiece + KenLM from a seeded sample of `docs` (texts, or (id, text) pairs) into
    `lm_dir` (a path or URL); returns the training lines (0: nothing written)."""
    from pipeline.localcache import copy_file

    lines = sample_lines(docs, max_chars, seed).items()
    if not lines:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "wiki.txt")
        n_lines = write_corpus(lines, corpus)
        del lines  # SentencePiece reads the file: the sample need not stay in memory beside it
        prefix = os.path.join(tmp, "en.sp")
        train_sentencepiece(corpus, prefix, vocab_size)
        train_kenlm(corpus, prefix + ".model", os.path.join(tmp, LM_MODEL), order, tmp)
        copy_file(os.path.join(tmp, LM_MODEL), FileSystems.join(lm_dir, LM_MODEL))
        copy_file(prefix + ".model", FileSystems.join(lm_dir, SP_MODEL))
    return n_lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sources.commoncrawl.lm", description=__doc__.splitlines()[0],
                                     epilog="Other flags go to Apache Beam's FileSystems (e.g. --s3_endpoint_url, "
                                            "--s3_access_key_id, --s3_region_name).")
    parser.add_argument("--data", default="data", help="data root, a path or URL (default: data)")
    parser.add_argument("--lm-dir", default=None, help="where the models go, a path or URL (default: DATA/models)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece vocabulary (default: 8000)")
    parser.add_argument("--order", type=int, default=5, help="n-gram order (default: 5, as CCNet)")
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS,
                        help=f"most characters of Wikipedia text to train on, a seeded sample (default: {MAX_CHARS:,})")
    parser.add_argument("--reference-pages", type=int, default=REFERENCE_PAGES,
                        help=f"most English raw pages the cutoffs are measured on (default: {REFERENCE_PAGES})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling seed (default: {SEED})")
    parser.add_argument("--lid-model", default="", help="fastText language-ID model for the reference pages "
                        "(default: data/models/lid.176.bin if there, else the setup asset)")
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Our flags; the rest are Beam's, given to this process's FileSystems. Exits 2 on a flag
    neither knows."""
    from pipeline.options import unknown_flags, use_filesystems

    args, rest = parser.parse_known_args(argv)
    unknown = unknown_flags(rest, parser)
    if unknown:
        parser.exit(2, f"error: unknown flag{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                       "neither this command nor Apache Beam knows it (see --help)\n")
    for name in ("max_chars", "reference_pages", "max_examples"):
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


def publish(local: str, lm_dir: str) -> None:
    """Copies the models trained in the local folder `local` to `lm_dir` (a path or URL), each file
    appearing only when complete; a cutoffs file `local` lacks is removed from `lm_dir` too."""
    from pipeline.localcache import copy_file

    for name in (LM_MODEL, SP_MODEL, CUTOFFS):
        target = FileSystems.join(lm_dir, name)
        if os.path.exists(os.path.join(local, name)):
            copy_file(os.path.join(local, name), target)
        elif FileSystems.exists(target):
            FileSystems.delete([target])


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    lm_dir = args.lm_dir or FileSystems.join(args.data, "models")
    problem = writable(lm_dir, "--lm-dir", args)
    if problem:
        return error(problem)
    try:
        docs, origin = wikipedia_docs(args.data)
        print(f"[lm] Wikipedia text from {origin}", flush=True)
        with tempfile.TemporaryDirectory() as local:  # KenLM and SentencePiece write local files
            lines = train_lm(docs, local, args.vocab_size, args.order, args.max_chars, args.seed)
            if lines == 0:
                return error(f"no Wikipedia text found in {origin}")
            raw_dir = FileSystems.join(args.data, "raw", "commoncrawl")
            said = write_cutoffs(local, raw_dir, args.reference_pages, args.seed, args.lid_model)
            publish(local, lm_dir)
    except OSError as exc:  # the data cannot be read (an unreadable shard, a store that refuses)
        from pipeline.localcache import store_error

        return error(store_error(exc))
    print(f"[lm] {lines} lines (at most {args.max_chars:,} characters, seed {args.seed}) -> "
          f"{FileSystems.join(lm_dir, SP_MODEL)}, {FileSystems.join(lm_dir, LM_MODEL)}", flush=True)
    print(f"[lm] {said}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
