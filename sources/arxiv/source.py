"""ArXiv: LaTeX sources cleaned as in the LLaMA paper (§2): "We removed everything before the
first section, as well as the bibliography. We also removed the comments from the .tex files,
and inline-expanded definitions and macros written by users" (after Lewkowycz et al., 2022).

Input: bulk `arXiv_src_YYMM_NNN.tar` files of per-paper `.gz`, or folders of per-paper `.gz` /
`.tar.gz` or e-prints saved under their bare id (see sources/arxiv/archive.py). One document per
paper: the top-level file(s) its 00README names (sources/arxiv/readme.py) or the main file, with
`\\input`s resolved inside the paper's archive and comments removed (ReadPapers), then
ExpandMacros -> CutBeforeFirstSection -> RemoveBibliography -> DropTooLittleText -> DetectLanguage.
"""

from __future__ import annotations

import dataclasses
import logging
import posixpath
from typing import Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import stats
from pipeline.document import Document, ErrorRecord, stable_id
from pipeline.filters import Filter, Step
from sources.arxiv import archive, tex
from sources.base import Source, SourceConfig

NAME = "arxiv"
log = logging.getLogger("sources.arxiv.source")


@dataclasses.dataclass
class ArxivConfig(SourceConfig):
    min_words: int = dataclasses.field(default=100, metadata={
        "help": "fewest words of running text (outside figures, tables, math) a paper keeps"})
    max_macro_depth: int = dataclasses.field(default=tex.Limits.max_depth, metadata={
        "help": "deepest nesting of user macros expanded before the paper is an error"})
    max_macro_expansions: int = dataclasses.field(default=tex.Limits.max_expansions, metadata={
        "help": "most user-macro expansions in one paper before it is an error"})
    detect_language: bool = dataclasses.field(default=True, metadata={
        "help": "write meta.language with fastText lid.176 (no paper is dropped for it)"})
    lid_model: str = dataclasses.field(default="", metadata={"help": "lid.176 model (default: data/models/)"})


# --- reading ---------------------------------------------------------------------------------
def paper_document(name: str, data: bytes, where: str) -> Document | ErrorRecord:
    """One per-paper file's bytes -> its document (flattened LaTeX) or an error record."""
    ident = archive.parse_arxiv_id(name)
    arxiv_id, yymm = ident if ident else (archive.paper_stem(name), "")
    try:
        unpacked = archive.unpack(name, data)
        text, main, flattener = archive.read_paper(unpacked)
    except archive.PaperError as exc:
        return ErrorRecord.of(NAME, where, exc.kind, str(exc), data[:512])
    meta = {
        "arxiv_id": arxiv_id,
        "yymm": yymm,
        "url": f"https://arxiv.org/abs/{arxiv_id}",
        "main_file": main,
        "encoding": flattener.encoding,
        "ignored_members": unpacked.ignored_members,
        "missing_inputs": flattener.missing_inputs,
        "unsafe_inputs_skipped": flattener.unsafe_inputs,
        "toplevel_files": flattener.toplevel_files,
        "readme_errors": flattener.readme_errors,
    }
    if flattener.readme_errors:
        log.warning("%s: 00README unusable or naming absent files; main file %s", where, main)
    return Document(stable_id(NAME, arxiv_id), text, NAME, meta)


def read_papers(path: str, open_fn=None) -> Iterator[Document | ErrorRecord]:
    """Every paper of one input file (a bulk `.tar` or one paper's `.gz` / `.tar.gz` / `.tex`)."""
    base = posixpath.basename(path)
    open_fn = open_fn or (lambda p: FileSystems.open(p, compression_type="uncompressed"))
    if base.endswith(".xml") and "manifest" in base:
        return  # arXiv_src_manifest.xml: the bulk index, not a paper
    if base.endswith(".tar") and not archive.parse_arxiv_id(base):
        with open_fn(path) as handle:
            for member, data, error in archive.iter_members(handle, path):
                where = f"{path}!{member}"
                if error is not None:
                    yield ErrorRecord.of(NAME, where, error, f"{error}: {member!r}", data or b"")
                elif member.endswith(".pdf"):
                    yield ErrorRecord.of(NAME, where, "no_latex_source", "PDF-only submission")
                else:
                    yield paper_document(member, data, where)
        return
    # An e-print fetched one by one is saved under its bare id (`2301.00001v2`, `hep-th9901001`):
    # arXiv serves it without a file name, as gzip, tar, TeX or PDF (arXiv help, "Media types").
    if not base.endswith(archive.PAPER_SUFFIXES) and not archive.parse_arxiv_id(base):
        yield ErrorRecord.of(NAME, path, "unsupported_file", "not an arXiv source file (.tar, .gz, .tex, <id>)")
        return
    with open_fn(path) as handle:
        data = handle.read(archive.MAX_PAPER_BYTES + 1)
    if len(data) > archive.MAX_PAPER_BYTES:
        yield ErrorRecord.of(NAME, path, "paper_too_large", f"over {archive.MAX_PAPER_BYTES} bytes")
        return
    yield paper_document(base, data, path)


# --- cleaning steps --------------------------------------------------------------------------
class ExpandMacros(Filter):
    """Removes user definitions and expands their uses; runaway expansion raises LatexLimitError."""

    name = "expand_macros"

    def __init__(self, limits: tex.Limits = tex.Limits()):
        self.limits = limits

    def filter(self, doc):
        doc.text, doc.meta["macros_expanded"] = tex.expand_macros(doc.text, self.limits)
        return True


class CutBeforeFirstSection(Filter):
    name = "no_section"

    def filter(self, doc):
        body = tex.cut_before_first_section(doc.text)
        if body is None:
            return False
        doc.text = body
        return True


class RemoveBibliography(Filter):
    name = "remove_bibliography"

    def filter(self, doc):
        doc.text = tex.tidy(tex.remove_bibliography(doc.text))
        return True


class TooLittleText(Filter):
    """A paper of figures only (or a one-line withdrawal notice) has no running text to learn from."""

    name = "too_little_text"

    def __init__(self, min_words: int):
        self.min_words = min_words

    def filter(self, doc):
        return tex.prose_words(doc.text) >= self.min_words


class DetectLanguage(Filter):
    """Writes meta.language / language_score (the paper does not filter arXiv by language)."""

    name = "detect_language"

    def __init__(self, model_path: str = ""):
        from pipeline.langid import LanguageId

        self.lid = LanguageId(model_path=model_path)

    def model_files(self) -> list[str]:
        return self.lid.model_files()

    def setup(self):
        self.lid.setup()

    def filter(self, doc):
        language, score = self.lid.predict(tex.plain_for_langid(doc.text))
        doc.meta["language"], doc.meta["language_score"] = language, round(score, 4)
        return True


def read_counts(doc: Document) -> dict[str, int]:
    """What reading a paper met that is not an error of its own (summed into stats.json)."""
    return {"papers_read": 1, "ignored_members": doc.meta.get("ignored_members", 0),
            "missing_inputs": doc.meta.get("missing_inputs", 0),
            "unsafe_inputs_skipped": doc.meta.get("unsafe_inputs_skipped", 0),
            "readme_errors": doc.meta.get("readme_errors", 0),
            "decoded_latin1": int(doc.meta.get("encoding") == "latin-1")}


class ArxivSource(Source):
    name = NAME
    Config = ArxivConfig
    description = "arXiv LaTeX sources: first section on, no comments, no bibliography, user macros expanded"

    def read(self, path):
        yield from read_papers(path)

    def steps(self) -> list[Step]:
        """A `LatexLimitError` in a step is dead-lettered under its own kind."""
        limits = tex.Limits(max_depth=self.config.max_macro_depth, max_expansions=self.config.max_macro_expansions)
        steps = [("ExpandMacros", ExpandMacros(limits)), ("CutBeforeFirstSection", CutBeforeFirstSection()),
                 ("RemoveBibliography", RemoveBibliography()),
                 ("DropTooLittleText", TooLittleText(self.config.min_words))]
        if self.config.detect_language:
            steps.append(("DetectLanguage", DetectLanguage(self.config.lid_model)))
        return steps

    def read_stats(self, docs):
        return (
            docs
            | "ReadCounts" >> beam.Map(read_counts)
            | "SumReadCounts" >> beam.CombineGlobally(stats.SumCounts())
            | "ReadStats" >> beam.Map(lambda counts: {"arxiv_read": counts})
        )


def clean_paper(doc: Document, steps: list[tuple[str, Filter]]) -> tuple[str, Document | str]:
    """The same chain without Beam (tests, benchmark floor): ("kept", doc) | ("dropped"|"error", why)."""
    for _, filt in steps:
        try:
            keep, reason = filt(doc)
        except tex.LatexLimitError as exc:
            return "error", exc.kind
        if not keep:
            return "dropped", reason
    return "kept", doc


SOURCE = ArxivSource
