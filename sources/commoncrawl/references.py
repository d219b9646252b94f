"""`make classifier`'s Beam job: the crawl pages Wikipedia cites, and a random sample of the others.

LLaMA section 2: "we trained a linear model to classify pages used as references in Wikipedia
v.s. randomly sampled pages". The Wikipedia job writes the URLs its articles cite
(DATA/clean/wikipedia/cited_urls/, normalised by `pipeline.dedup.normalize_url`); this job

  ReadPageKeys     every crawl page (WET/WARC) -> (its WARC-Target-URI normalised the same way,
                   (seeded position, id, file number, from the negatives' files?)): no text moves
  JoinCitations    CoGroupByKey with the cited URLs (a full dump cites tens of millions: a join
                   by key, never a side input held by every worker)
  Label            a page whose URL is cited is a positive; any other page of the negatives'
                   files (`--negatives`, else the crawl itself) is a negative candidate
  Sample           the `max_examples` of lowest seeded position per class (`Top.SmallestPerKey`:
                   the same bottom-k as `sampling.SeededSample`), and how many each class had
  ReadChosenTexts  reads those pages' text again from their files (the chosen ids, at most
                   2 x max_examples, are a side input), cut to what the classifier sees
  WriteExamples    the counts and the examples, as JSON lines, to a file the launcher reads back

so memory and shuffle grow with the number of pages (a key and an id each), never with their text:
the text held is at most 2 x max_examples pages of max_chars characters (the classifier's
MAX_CHARS), as before.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from typing import Iterator

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.dedup import normalize_url
from pipeline.document import Document
from pipeline.warc import read_warc
from sources.commoncrawl.sampling import SeededSample

POSITIVE, NEGATIVE = "positive", "negative"


@dataclasses.dataclass
class Examples:
    """What the job found: the sampled texts of each class and how many pages each class had."""

    positives: list[str]
    negatives: list[str]
    cited_pages: int  # crawl pages whose URL Wikipedia cites
    other_pages: int  # pages of the negatives' files that no article cites
    cited_urls: int  # URLs read from the Wikipedia job's cited_urls/
    ids: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # class -> ids of the sampled pages


def url_key(doc: Document) -> str:
    url = doc.meta.get("url")
    return normalize_url(url) if url else f"no-url:{doc.id}"


def _pages(path: str, max_chars: int) -> Iterator[Document]:
    """The pages of one file with a word in what the classifier sees of them (a page without one
    is an empty example: fastText's loss would be NaN)."""
    for record in read_warc(path, "commoncrawl"):
        if isinstance(record, Document) and record.text[:max_chars].strip():
            yield record


def page_keys(work: tuple[int, str, bool], seed: int, max_chars: int):
    """(URL key, (seeded position, id, file number, negatives' page?)) for each page of one file
    (its number, not its path, travels with each page: fewer bytes in the shuffle)."""
    number, path, pool = work
    position = SeededSample(seed).position
    for doc in _pages(path, max_chars):
        yield url_key(doc), (position(doc.id), doc.id, number, pool)


def label(element):
    """(class, (position, id, file)) for each page of one URL key: cited -> positive; else a
    page of the negatives' files -> negative; else nothing."""
    _, groups = element
    cited = any(True for _ in groups["cited"])
    for position, doc_id, number, pool in groups["pages"]:
        if cited:
            yield POSITIVE, (position, doc_id, number)
        elif pool:
            yield NEGATIVE, (position, doc_id, number)


def chosen_texts(work: tuple[int, str, bool], chosen: dict, max_chars: int):
    """(class, position, id, text cut to `max_chars`) of the chosen pages of one file."""
    number, path, _ = work
    wanted = {doc_id: (kind, position) for kind, position, doc_id in chosen[number]}
    if not wanted:
        return
    for doc in _pages(path, max_chars):
        if doc.id in wanted:
            kind, position = wanted.pop(doc.id)  # an id read twice is one example
            yield kind, position, doc.id, doc.text[:max_chars]


def write_examples(examples: list, path: str, counts: dict, cited_urls: int) -> None:
    """One JSON line of counts, then one per example in (class, position, id) order."""
    head = {"cited_pages": counts.get(POSITIVE, 0), "other_pages": counts.get(NEGATIVE, 0), "cited_urls": cited_urls}
    with (FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw,
          gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz):
        gz.write((json.dumps(head) + "\n").encode())
        for kind, position, doc_id, text in sorted(examples, key=lambda e: (e[0], e[1], e[2])):
            gz.write((json.dumps({"class": kind, "id": doc_id, "text": text}) + "\n").encode())


def read_examples(path: str) -> Examples:
    with (FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw,
          gzip.GzipFile(fileobj=raw) as gz):
        head = json.loads(gz.readline())
        texts: dict[str, list[str]] = {POSITIVE: [], NEGATIVE: []}
        ids: dict[str, list[str]] = {POSITIVE: [], NEGATIVE: []}
        for line in gz:
            example = json.loads(line)
            texts[example["class"]].append(example["text"])
            ids[example["class"]].append(example["id"])
    return Examples(texts[POSITIVE], texts[NEGATIVE], head["cited_pages"], head["other_pages"], head["cited_urls"], ids)


def build(p: beam.Pipeline, files: list[tuple[str, bool]], cited: str | None, max_examples: int, seed: int,
          out: str, max_chars: int) -> None:
    """Adds the job to `p`: `files` are (path, its pages are negative candidates), `cited` the
    glob of cited-URL files (None: there are none), `out` where the examples go, each page cut
    to `max_chars` (what the classifier sees)."""
    numbered = [(number, path, pool) for number, (path, pool) in enumerate(files)]
    paths = p | "Files" >> beam.Create(numbered) | "ReshuffleFiles" >> beam.Reshuffle()
    pages = paths | "ReadPageKeys" >> beam.FlatMap(page_keys, seed, max_chars)
    if cited:
        urls = (p | "ReadCitedUrls" >> beam.io.ReadFromText(cited)
                | "CitedKeys" >> beam.FlatMap(lambda line: [(line.strip(), None)] if line.strip() else []))
    else:
        urls = p | "NoCitedUrls" >> beam.Create([])
    labelled = ({"pages": pages, "cited": urls} | "JoinCitations" >> beam.CoGroupByKey()
                | "Label" >> beam.FlatMap(label))
    counts = labelled | "Classes" >> beam.Keys() | "CountClasses" >> beam.combiners.Count.PerElement()
    n_urls = urls | "CountCitedUrls" >> beam.combiners.Count.Globally()
    chosen = (
        labelled
        | "Sample" >> beam.combiners.Top.SmallestPerKey(max_examples)
        | "ByFile" >> beam.FlatMapTuple(lambda kind, items: [(n, (kind, pos, doc_id)) for pos, doc_id, n in items])
    )
    (
        paths
        | "ReadChosenTexts" >> beam.FlatMap(chosen_texts, beam.pvalue.AsMultiMap(chosen), max_chars)
        | "AllExamples" >> beam.combiners.ToList()
        | "WriteExamples" >> beam.Map(write_examples, out, beam.pvalue.AsDict(counts), beam.pvalue.AsSingleton(n_urls))
    )


def find_examples(options, files: list[tuple[str, bool]], cited: str | None, max_examples: int, seed: int,
                  out: str, max_chars: int) -> Examples:
    """Runs the job with Beam `options`; returns what it found (the file `out` is removed)."""
    with beam.Pipeline(options=options) as p:
        build(p, files, cited, max_examples, seed, out, max_chars)
    try:
        return read_examples(out)
    finally:
        FileSystems.delete([out])
