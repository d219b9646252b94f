"""CommonCrawl: 67% of the LLaMA mixture, cleaned with the CCNet pipeline (LLaMA section 2).

"We preprocess five CommonCrawl dumps with the CCNet pipeline. This process deduplicates the
data at the line level, performs language identification with a fastText linear classifier to
remove non-English pages and filters low quality content with an n-gram language model. In
addition, we trained a linear model to classify pages used as references in Wikipedia v.s.
randomly sampled pages, and discarded pages not classified as references."

Input: Common Crawl WET files (`*.warc.wet.gz`, `conversion` records) or WARC files with HTML
responses (text extracted with resiliparse), read by `pipeline.warc`. Steps, in CCNet's order
(`cc_net/mine.py` DEFAULT_PIPELINE: dedup, lid, keep_lang, sp, lm, pp_bucket):

  TooShort        pages under 300 characters (CCNet `min_len`)            -> too_short
  LineDedup       lines repeated across pages, every copy (CCNet)          -> empty_after_dedup
  LanguageId      fastText lid.176, English with score >= 0.5              -> not_english, language_score_low
  Perplexity      KenLM 5-gram over SentencePiece; keep head+middle        -> perplexity_tail
  WikiReference   fastText wiki-vs-CC classifier, p(wiki) >= 0.25         -> not_wiki_reference

The models come from `make lm` and `make classifier` (DATA/models/ by default).
"""

from __future__ import annotations

import dataclasses
import os

from pipeline.document import Document, Rejected
from pipeline.filters import MinChars, Step, run_filters
from pipeline.langid import DEFAULT_THRESHOLD, LanguageId
from pipeline.warc import MAX_RECORD_BYTES, read_warc
from sources.base import Source, SourceConfig
from sources.commoncrawl import LANGUAGES
from sources.commoncrawl.classifier import DEFAULT_THRESHOLD as WIKI_THRESHOLD
from sources.commoncrawl.classifier import MODEL_NAME, WikiReference, classifier_stats, require_classifier
from sources.commoncrawl.line_dedup import dedup_lines_in_memory, line_dedup
from sources.commoncrawl.perplexity import PerplexityBuckets, load_cutoffs, require_lm

# cc_net/mine.py Config.min_len = 300: "remove documents shorter than this (in chars)".
MIN_CHARS = 300


@dataclasses.dataclass
class CommonCrawlConfig(SourceConfig):
    min_chars: int = dataclasses.field(default=MIN_CHARS, metadata={
        "help": "drop pages shorter than this many characters (CCNet min_len)"})
    dedup_groups: int = dataclasses.field(default=1, metadata={
        "help": "line dedup counts within groups of input files; 1 = all input together "
                "(CCNet: 32 groups of 50 shards per 1,600-shard dump)"})
    dedup_keep_first: bool = dataclasses.field(default=False, metadata={
        "help": "keep the first copy of a repeated line (CCNet removes every copy)"})
    languages: tuple[str, ...] = dataclasses.field(default=LANGUAGES, metadata={
        "help": "fastText lid.176 languages to keep"})
    language_threshold: float = dataclasses.field(default=DEFAULT_THRESHOLD, metadata={
        "help": "lowest language score kept (CCNet lang_threshold)"})
    lid_model: str = dataclasses.field(default="", metadata={
        "help": "lid.176 model (default: data/models/lid.176.ftz, else the setup asset)"})
    lm_dir: str = dataclasses.field(default=os.path.join("data", "models"), metadata={
        "help": "folder with <lang>.sp.model, <lang>.arpa.bin, <lang>.cutoffs.json per language "
                "(`make lm LANGUAGES=...` builds them)"})
    keep_buckets: tuple[str, ...] = dataclasses.field(default=("head", "middle"), metadata={
        "help": "perplexity buckets kept (head, middle, tail)"})
    head_cutoff: float = dataclasses.field(default=0.0, metadata={
        "help": "perplexity below this is head; 0 = from en.cutoffs.json, else CCNet's 340"})
    tail_cutoff: float = dataclasses.field(default=0.0, metadata={
        "help": "perplexity from this up is tail; 0 = from en.cutoffs.json, else CCNet's 520"})
    classifier_model: str = dataclasses.field(default=os.path.join("data", "models", MODEL_NAME), metadata={
        "help": "fastText Wikipedia-reference classifier from `make classifier`"})
    wiki_threshold: float = dataclasses.field(default=WIKI_THRESHOLD, metadata={
        "help": "lowest p(wiki reference) kept (RedPajama: 0.25); 0 skips the classifier"})
    max_record_mb: float = dataclasses.field(default=MAX_RECORD_BYTES / 2**20, metadata={
        "help": "records larger than this many MiB are counted as errors and skipped"})
    html_main_content: bool = dataclasses.field(default=False, metadata={
        "help": "for WARC HTML input, keep only resiliparse's main content (off: all visible text, as WET)"})


class CommonCrawl(Source):
    name = "commoncrawl"
    Config = CommonCrawlConfig
    description = "Common Crawl WET/WARC pages through the CCNet pipeline"
    reshuffle_docs = False  # thousands of WET files, and line dedup shuffles next

    def read(self, path: str):
        cap = int(self.config.max_record_mb * 2**20)
        yield from read_warc(path, self.name, max_record_bytes=cap, main_content=self.config.html_main_content)

    def steps(self) -> list[Step]:
        """CCNet's order: too short, line dedup, language, perplexity, Wikipedia-reference class."""
        c = self.config  # clear errors before any worker starts: a model per language
        require_lm(c.lm_dir, c.languages, cutoffs_given=bool(c.head_cutoff and c.tail_cutoff))
        steps: list[Step] = [
            ("TooShort", MinChars(c.min_chars)),
            ("LineDedup", line_dedup(c.dedup_groups, c.dedup_keep_first)),
            ("LanguageId", LanguageId(c.languages, c.language_threshold, c.lid_model)),
            ("Perplexity", PerplexityBuckets(c.lm_dir, c.keep_buckets, c.head_cutoff, c.tail_cutoff, c.languages)),
        ]
        if c.wiki_threshold > 0:  # --wiki-threshold 0 turns the classifier step off
            require_classifier(c.classifier_model)
            steps.append(("WikiReference", WikiReference(c.classifier_model, c.wiki_threshold)))
        return steps

    def extra_stats(self, stats: dict) -> dict:
        c = self.config
        by_language = {}
        for lang in c.languages:
            if c.head_cutoff and c.tail_cutoff:
                head, tail, origin = c.head_cutoff, c.tail_cutoff, "flags"
            else:
                head, tail, origin = load_cutoffs(c.lm_dir, lang)
            by_language[lang] = {"head": c.head_cutoff or head, "tail": c.tail_cutoff or tail, "from": origin}
        first = by_language[c.languages[0]]  # the report plots one language's cutoffs
        extra = {"perplexity_cutoffs": dict(first)}
        if len(by_language) > 1:
            extra["perplexity_cutoffs"]["by_language"] = by_language
        if c.wiki_threshold > 0:  # the kind of positives it was trained on (the JSON beside the model)
            extra["wiki_classifier"] = classifier_stats(c.classifier_model)
        return extra

    def plain_loop(self, paths: list[str]) -> tuple[list[Document], dict[str, int], dict[str, int]]:
        """The whole job as one Python loop in one process, everything in memory (the benchmark
        floor, and a cross-check of the Beam job): (kept docs, dropped by reason, errors by kind)."""
        dropped: dict[str, int] = {}
        errors: dict[str, int] = {}
        docs = []
        for path in paths:
            for record in self.read(path):
                if isinstance(record, Document):
                    docs.append(record)
                else:
                    errors[record.kind] = errors.get(record.kind, 0) + 1
        for label, step in self.steps():
            if label == "LineDedup":  # the shuffle, as a loop over the one group of all input
                docs, emptied = dedup_lines_in_memory(docs, self.config.dedup_keep_first)
                rejected = [Rejected(doc, "empty_after_dedup") for doc in emptied]
            else:
                docs, rejected = run_filters([step], docs)
            for r in rejected:
                dropped[r.reason] = dropped.get(r.reason, 0) + 1
        return docs, dropped, errors

SOURCE = CommonCrawl
