"""GitHub: permissive licenses only, quality heuristics, header removal, file-level exact dedup.

Paper (LLaMA §2): "We use the public GitHub dataset available on Google BigQuery. We only kept
projects that are distributed under the Apache, BSD and MIT licenses. Additionally, we filtered
low quality files with heuristics based on the line length or proportion of alphanumeric
characters, and removed boilerplate, such as headers, with regular expressions. Finally, we
deduplicate the resulting dataset at the file level, with exact matches."

Two input forms, told apart per file (one `--input` may mix them):

1. An export, one row per file: newline-delimited JSON (`.jsonl`, `.ndjson`, `.json` or a bare
   `bq extract` shard name like `000000000000`; gzip or bzip2 told by the bytes) one of whose
   first records (SNIFF_RECORDS) has `repo_name`, or a Parquet / Avro file (told by its magic
   bytes, read by sources/github/tables.py) with such a column; fields `repo_name`, `path`, `content`,
   `license`, optionally `binary` (The Stack's, codeparrot's and RedPajama's field names work
   too: EXPORT_FIELDS). The query (README "GitHub"):

       SELECT f.repo_name, f.path, c.content, c.binary, l.license
       FROM `bigquery-public-data.github_repos.files` AS f
       JOIN `bigquery-public-data.github_repos.contents` AS c ON f.id = c.id
       JOIN `bigquery-public-data.github_repos.licenses` AS l ON f.repo_name = l.repo_name
       WHERE f.ref = 'refs/heads/master'

   exported with `bq extract --destination_format NEWLINE_DELIMITED_JSON --compression GZIP`
   (or `PARQUET`, or `AVRO`).
2. Any other file is part of a checkout ("mirror"): the repo root of a file is the shallowest
   folder, at or below the common folder of all such inputs, that holds a LICENSE / LICENCE /
   COPYING / UNLICENSE file or a `.git` entry; failing both, the first folder below the common
   one. A file's license is detected from the text of the nearest license files above it (the
   repo's, or a vendored library's / nested checkout's own).

Steps: read -> KeepPermissiveLicenses -> SkipBinaryAndUndecodable -> KeepCodeExtensions ->
RemoveHeaderBoilerplate -> QualityHeuristics -> DedupFiles (exact, on the text after header
removal; the lowest id, i.e. the lowest `repo/path`, survives).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue

from pipeline.dedup import ExactDedup
from pipeline.document import Document, ErrorRecord
from pipeline.filters import ERRORS, Step
from sources.base import Source, SourceConfig
from sources.github import rules, tables
from sources.github.checkout import _CommonDir, _detect_license_file, _ReadTreeFile, _repo_task
from sources.github.read import NAME, _Classify, _ReadExport, read_json_lines, read_table


@dataclasses.dataclass
class GitHubConfig(SourceConfig):
    licenses: tuple[str, ...] = dataclasses.field(
        default=rules.PERMISSIVE, metadata={"help": "licenses kept (paper: Apache, BSD, MIT)"})
    extensions: tuple[str, ...] = dataclasses.field(
        default=rules.RPJ_EXTENSIONS, metadata={"help": "file extensions kept (RedPajama's list)"})
    max_line_length: int = dataclasses.field(default=1000, metadata={"help": "drop files with a longer line"})
    max_mean_line_length: float = dataclasses.field(
        default=100.0, metadata={"help": "drop files whose mean line length is above this"})
    min_alphanumeric_fraction: float = dataclasses.field(
        default=0.25, metadata={"help": "drop files with fewer alphanumeric characters than this fraction"})
    max_file_bytes: int = dataclasses.field(
        default=1 << 20, metadata={"help": "larger files are dropped unread (BigQuery holds content under 1 MiB)"})
    remove_headers: bool = dataclasses.field(default=True, metadata={"help": "remove license/copyright headers"})


class GitHubSource(Source):
    name = NAME
    Config = GitHubConfig
    description = "GitHub: Apache/BSD/MIT repos, quality heuristics, header removal, exact file dedup"
    reads_special_files = True  # a FIFO in a checkout is a counted `special_file` drop (local_file_kind)

    @property
    def record_limit(self) -> int:
        # JSON escaping at most doubles typical code; \\uXXXX-heavy content fails loudly, counted.
        return 8 * self.config.max_file_bytes + 65536

    # --- reading: exports (sources/github/read.py), checkouts (sources/github/checkout.py) ---
    def read(self, path: str) -> Iterator[Document | ErrorRecord]:
        """Streams one export file: a Document or a counted ErrorRecord per line (per row)."""
        kind = tables.sniff(path)
        if kind is not None or tables.has_table_name(path):
            yield from read_table(path, kind, self.config.max_file_bytes)
        else:
            yield from read_json_lines(path, self.record_limit, self.config.max_file_bytes)

    def expand_read(self, files):
        kinds = files | "ClassifyInputs" >> beam.ParDo(_Classify(self.record_limit)).with_outputs("tree", main="export")
        export = (kinds["export"] | "ReshuffleExports" >> beam.Reshuffle()
                  | "ReadExports" >> beam.ParDo(_ReadExport(self)).with_outputs(ERRORS, main="docs"))
        tree = kinds["tree"]
        root = tree | "MirrorRoot" >> beam.CombineGlobally(_CommonDir())
        licenses = (
            tree
            | "LicenseFiles" >> beam.Filter(rules.is_license_file)
            | "DetectLicense" >> beam.FlatMap(_detect_license_file)
            | "GroupLicenseFiles" >> beam.GroupByKey()
            | "RepoLicense" >> beam.MapTuple(lambda folder, found: (folder, rules.combine_licenses(list(found))))
        )
        tasks = tree | "FindRepo" >> beam.Map(
            _repo_task, root=pvalue.AsSingleton(root), licensed=pvalue.AsDict(licenses))
        read_tree_file = _ReadTreeFile(self.config.max_file_bytes)
        tree_read = (tasks | "ReshuffleTreeFiles" >> beam.Reshuffle()
                     | "ReadTreeFiles" >> beam.ParDo(read_tree_file).with_outputs(ERRORS, main="docs"))
        docs = ((export["docs"], tree_read["docs"]) | "AllFiles" >> beam.Flatten()
                | "ReshuffleDocs" >> beam.Reshuffle())
        errors = (export[ERRORS], tree_read[ERRORS]) | "AllReadErrors" >> beam.Flatten()
        return docs, errors

    # --- cleaning -------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        cfg = self.config
        steps: list[Step] = [
            ("KeepPermissiveLicenses", rules.LicenseFilter(cfg.licenses)),
            ("SkipBinaryAndUndecodable", rules.FileKindFilter()),
            ("KeepCodeExtensions", rules.ExtensionFilter(cfg.extensions)),
        ]
        if cfg.remove_headers:
            steps.append(("RemoveHeaderBoilerplate", rules.HeaderFilter()))
        steps.append(("QualityHeuristics", rules.QualityFilter(
            cfg.max_line_length, cfg.max_mean_line_length, cfg.min_alphanumeric_fraction)))
        steps.append(("DedupFiles", ExactDedup(content_key, reason="duplicate")))
        return steps


def content_key(doc: Document) -> str:
    return hashlib.blake2b(doc.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


SOURCE = GitHubSource
