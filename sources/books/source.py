"""Books: Project Gutenberg + Books3-style collections, near-duplicate books removed (LLaMA §2:
"We perform deduplication at the book level, removing books with more than 90% content overlap").

Inputs, told apart by path and content:
  * Project Gutenberg plain text (`8868.txt`, `8868-0.txt`, `pg8868.txt`, or the `.zip` of one): licence header/footer
    and producer credits stripped, title/author/language/PG id kept -> id `books/gutenberg/<stem>`;
  * PG-19 (`<root>/{train,validation,test}/<id>.txt` + `<root>/metadata.csv`) -> `books/pg19/<id>`;
  * Books3-style: one `.txt` per book (-> `books/books3/<hash of path tail>`), the Books3 tarball
    as distributed (`books3.tar.gz` of `books3/<nested folders>/<title>.epub.txt`,
    streamed: each member gets the id it would have unpacked) or JSON lines
    (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`; `{"text", "title"}` or the Pile's `{"text", "meta"}`)
    -> `books/books3/<hash of file, line>`.
  A single `.txt.gz` is read as the `.txt` it holds.
The collection is part of every id, so ids never collide across collections.

Steps: Read (decode UTF-8 / declared charset / latin-1, counted) -> OtherPileSet -> TooShort -> NearDuplicates
(MinHash LSH, see sources/books/minhash.py and lsh.py). The formats' readers are in
sources/books/read.py.
"""

from __future__ import annotations

import dataclasses
import os

import apache_beam as beam

from pipeline import stats
from pipeline.document import ErrorRecord
from pipeline.filters import Filter, MinWords, Step
from sources.base import Source, SourceConfig
from sources.books.lsh import NearDuplicates
from sources.books.minhash import (
    CLASSES_PER_DECADE,
    FAR_CLASSES,
    NEAR_CLASSES,
    LshParams,
    containment_candidate_probability,
    s_curve,
)
from sources.books.read import JSONL_EXTENSIONS, NAME, SIDE_FILES, TAR_EXTENSIONS, TEXT_EXTENSIONS, BookReader


@dataclasses.dataclass
class BooksConfig(SourceConfig):
    # PG-19 books average 69k words, ~0.4 MB (Rae et al. 2020, "Compressive Transformers", §4);
    # 64 MB is > 100x that and bounds a worker's memory (one book + its signature).
    max_book_mb: int = dataclasses.field(default=64, metadata={"help": "larger books are counted errors"})
    min_words: int = dataclasses.field(default=100, metadata={
        "help": "drop stubs shorter than this many words (a signature needs >= shingle_words words)"})
    threshold: float = dataclasses.field(default=0.9, metadata={
        "help": "content overlap (Jaccard or containment) above which books are duplicates (paper: 0.9)"})
    bands: int = dataclasses.field(default=46, metadata={"help": "LSH bands b (num_perm = b * r)"})
    rows: int = dataclasses.field(default=22, metadata={"help": "LSH rows per band r"})
    shingle_words: int = dataclasses.field(default=5, metadata={"help": "words per shingle"})
    seed: int = dataclasses.field(default=1, metadata={"help": "MinHash permutation seed"})

    def lsh(self) -> LshParams:
        return LshParams(self.bands, self.rows, self.shingle_words, self.threshold, self.seed)


class OtherPileSet(Filter):
    """A Pile shard mixes 22 sets; only records whose `meta.pile_set_name` is Books3 are books."""

    name = "other_pile_set"

    def filter(self, doc):
        return doc.meta.get("pile_set_name", "Books3") == "Books3"


class BooksSource(Source):
    name = NAME
    Config = BooksConfig
    description = "Project Gutenberg, PG-19 and Books3-style books, near-duplicates removed (MinHash LSH)"

    def __init__(self, config: BooksConfig | None = None):
        super().__init__(config)
        self.reader = BookReader(self.config)

    # --- reading ----------------------------------------------------------------------------
    def read(self, path):
        """One file, read by the format its name says (`sources.books.read`)."""
        base = os.path.basename(path).lower()
        if base in SIDE_FILES:
            return
        if base.endswith(JSONL_EXTENSIONS):
            yield from self.reader.read_jsonl(path)
        elif base.endswith(TEXT_EXTENSIONS):
            yield from self.reader.read_text(path)
        elif base.endswith(TAR_EXTENSIONS):
            yield from self.reader.read_tar(path)
        elif base.endswith(".txt.gz"):
            yield from self.reader.read_gzip_text(path)
        elif base.endswith(".zip"):
            yield from self.reader.read_zip(path)
        else:
            yield ErrorRecord.of(NAME, path, "unsupported_format", f"not a book file: {os.path.basename(path)}")

    # --- cleaning ---------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        return [("OtherPileSet", OtherPileSet()), ("TooShort", MinWords(self.config.min_words)),
                ("NearDuplicates", NearDuplicates(self.config.lsh()))]

    def read_stats(self, docs):
        return (docs | "BookFacts" >> beam.FlatMap(_facts) | "FactDicts" >> beam.Map(lambda fact: {fact: 1})
                | "SumFacts" >> beam.CombineGlobally(stats.SumCounts()))

    def extra_stats(self, stats: dict) -> dict:
        params = self.config.lsh()
        return {"lsh": {"bands": params.bands, "rows": params.rows, "num_perm": params.num_perm,
                        "shingle_words": params.shingle_words, "threshold": params.threshold,
                        "p_candidate": {f"{j:g}": round(p, 6) for j, p in s_curve(params).items()},
                        "containment": {
                            "near": {"bands": params.near_bands, "rows": params.near_rows,
                                     "class_distances": list(NEAR_CLASSES)},
                            "far": {"bands": params.far_bands, "rows": params.far_rows,
                                    "class_distances": list(FAR_CLASSES)},
                            "classes_per_decade": CLASSES_PER_DECADE,
                            "p_candidate_at_0.9_by_size_ratio": {
                                f"{t:g}": round(containment_candidate_probability(0.9, t, params), 6)
                                for t in (1, 1.5, 3, 10)}}}}


def _facts(doc):
    """What stats.json counts per book read: collection, encoding, PG header generation."""
    yield f"books_collection_{doc.meta.get('collection', 'unknown')}"
    yield f"books_encoding_{doc.meta.get('encoding', 'utf-8')}"
    if "pg_header" in doc.meta:
        yield f"books_pg_header_{doc.meta['pg_header']}"


SOURCE = BooksSource
