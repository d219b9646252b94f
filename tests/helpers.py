"""Shared test helpers: run a source's whole job in-process and read what it wrote."""

from __future__ import annotations

import glob
import gzip
import json
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import stats
from sources.run import build, collect_stats


def run_source(source, inputs: list[str], output: str, keep_rejected: bool = True, num_shards: int = 0) -> dict:
    """Runs the job on the in-memory DirectRunner; returns stats (also checks the invariant)."""
    options = PipelineOptions(["--runner=DirectRunner", "--direct_running_mode=in_memory"])
    with beam.Pipeline(options=options) as p:
        partial = build(p, source, inputs, output, keep_rejected, num_shards)
    result = collect_stats(partial)
    stats.check_invariant(result)
    return result


def read_jsonl_gz(pattern: str) -> list[dict]:
    records = []
    for path in sorted(glob.glob(pattern)):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            records.extend(json.loads(line) for line in f)
    return records


def clean_docs(output: str, source: str) -> list[dict]:
    return read_jsonl_gz(os.path.join(output, "clean", source, f"{source}-*-of-*.jsonl.gz"))
