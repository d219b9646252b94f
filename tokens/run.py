"""`python -m tokens.run --data data --seq-len 2048`: token shards at the mixture's weights.

Two Beam pipelines with a small plan between them; every file goes through Beam's FileSystems,
so DATA may be a local folder or gs:// / s3:// (object-store flags as for any Beam job):
  1. encode (tokens.stages.EncodeSources): every clean document is encoded (`<s> doc </s>`) and
     grouped into per-source buckets in a seeded document order, each bucket written by one
     worker to DATA/tokens/.work/; the launcher gets documents and tokens per bucket.
  2. plan (tokens.plan, plain code on those counts): per source a validation slice and a number
     of SEQ_LEN+1-token training sequences; per shard, how many sequences each source gives
     (tokens.mixture: every shard within one sequence of the proportions).
  3. shards (tokens.stages): each bucket is cut into sequences where it lies, every sequence
     given its shard and rank there (tokens.layout: per epoch a fresh seeded shuffle), grouped
     per shard, and each shard written by one worker in Megatron's blended order ->
     DATA/tokens/train-SSSSS.bin; the validation pieces -> DATA/tokens/val/<source>.bin.
Then DATA/tokens/mix.json, and a table like the paper's Table 1. No step holds more than a
bucket (--buckets) or a shard (--shard-tokens). Same inputs and seed give byte-identical files,
whatever the runner and the number of workers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from pipeline import config as config_flags
from pipeline import store
from pipeline.files import read_bytes, write_atomic_bytes
from pipeline.options import beam_options, runner_problem, setup_logging, unknown_flags
from sources import table1
from tokenizer import corpus
from tokenizer.encode import Encoder
from tokens import mixture, plan
from tokens.stages import PARTS, VAL, CutBucketFn, EncodeSources, JoinSequenceFn, WriteShardFn, WriteValFn

log = logging.getLogger("tokens.run")

# Characters of clean text per encode bucket when --buckets is 0: ~100M tokens at LLaMA's ~4
# characters a token, 200 MB of uint16 -- sorted in one worker's memory.
BUCKET_CHARS = 400_000_000


@dataclasses.dataclass
class TokensConfig:
    seq_len: int = dataclasses.field(default=2048, metadata={"help": "context length; sequences hold "
                                     "SEQ_LEN+1 tokens (inputs and shifted targets). LLaMA: 2048"})
    total_tokens: int = dataclasses.field(default=0, metadata={"help": "tokens in the training stream; 0 = "
                                          "the length at which CommonCrawl is seen 1.10 times (Table 1)"})
    weights: str = dataclasses.field(default="", metadata={"help": "JSON file {source: weight} "
                                     "replacing the paper's sampling proportions"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of document order and epoch shuffles"})
    shard_tokens: int = dataclasses.field(default=100_000_000, metadata={"help": "tokens per train shard, "
                                          "rounded down to whole sequences (100M, as FineWeb-Edu/nanochat shards)"})
    val_tokens: int = dataclasses.field(default=1_048_576, metadata={"help": "held-out tokens per source"})
    val_max_fraction: float = dataclasses.field(default=0.05, metadata={"help": "at most this share of a "
                                                "source is held out"})
    buckets: int = dataclasses.field(default=0, metadata={"help": "buckets per source in the encode step "
                                     "(each sorted, then cut, in one worker's memory: this bounds a worker's "
                                     "memory with --shard-tokens); 0 = one per 400M characters"})
    tokenizer: str = dataclasses.field(default="", metadata={"help": "SentencePiece model; "
                                       "'' = DATA/tokenizer/tokenizer.model"})


def present_sources(data: str, asked: dict[str, float], from_file: bool) -> tuple[dict[str, float], list[str]]:
    """The asked sources that have clean shards, renormalised. A paper-default source not built
    yet is skipped with a message; one named in a weights file must exist."""
    present, skipped = [], []
    for name, weight in asked.items():
        if weight <= 0:
            continue
        has_shards = bool(corpus.shard_files(data, name))
        if has_shards and corpus.documents_out(data, name) == 0:  # known before the encode step, not after
            raise ValueError(f"source {name!r} has no documents in its clean shards "
                             f"({corpus.source_dir(data, name)}/stats.json: documents_out 0): nothing to "
                             f"tokenize (give it weight 0 in a --weights file, or rebuild it)")
        if has_shards:
            present.append(name)
        elif from_file:
            raise ValueError(f"source {name!r} has weight {weight} in the weights file but no clean shards "
                             f"under {corpus.source_dir(data, name)}")
        else:
            skipped.append(name)
            print(f"[tokens] {name}: no clean shards under {corpus.source_dir(data, name)}, skipped "
                  f"(its weight is spread over the others)")
    return table1.normalise(asked, present), skipped


def encode(data: str, weights: dict[str, float], model: bytes, cfg: TokensConfig, work: str, options) -> dict:
    """Beam: clean shards -> bucket files under `work`; returns the summary (work/encoded.json)."""
    inputs = [(name, path) for name in weights for path in corpus.shard_files(data, name)]
    buckets = {name: bucket_count(data, name, cfg.buckets) for name in weights}
    p = beam.Pipeline(options=options)
    _ = p | "Shards" >> beam.Create(inputs) | "EncodeSources" >> EncodeSources(model, cfg.seed, buckets, work)
    rss = _run(p)
    encoded = json.loads(read_bytes(FileSystems.join(work, "encoded.json")))
    encoded["worker_peak_rss_mb"] = rss
    return encoded


def bucket_count(data: str, name: str, asked: int) -> int:
    """Buckets for a source: as asked, or one per BUCKET_CHARS of its clean text (stats.json)."""
    if asked > 0:
        return asked
    chars = corpus.chars_out(data, name) or plan.disk_bytes(data, name) * 3
    return max(1, -(-chars // BUCKET_CHARS))


def write_shards(plans, the_plan, cfg: TokensConfig, work: str, out: str, options) -> dict:
    """Beam: bucket files -> train shards and val/<source>.bin; returns the writers' records."""
    seq = cfg.seq_len + 1
    buckets = [(p.index, b) for p in plans for b in range(len(p.buckets))]
    pipe = beam.Pipeline(options=options)
    cut = (pipe | "Buckets" >> beam.Create(buckets) | "ReshuffleBuckets" >> beam.Reshuffle()
           | "Cut" >> beam.ParDo(CutBucketFn(plans, cfg.seed, work)).with_outputs(VAL, PARTS, main="rows"))
    joined = cut[PARTS] | "GroupParts" >> beam.GroupByKey() | "Join" >> beam.ParDo(JoinSequenceFn(plans, cfg.seed))
    shards = ((cut["rows"], joined) | "AllRows" >> beam.Flatten() | "GroupShards" >> beam.GroupByKey()
              | "WriteShards" >> beam.ParDo(WriteShardFn(the_plan["quotas"], seq, out)))
    vals = cut[VAL] | "GroupVal" >> beam.GroupByKey() | "WriteVal" >> beam.ParDo(WriteValFn(plans, out))
    _ = ((shards, vals) | "Written" >> beam.Flatten() | "OneList" >> beam.combiners.ToList()
         | "WriteRecords" >> beam.Map(_write_records, work))
    rss = _run(pipe)
    records = json.loads(read_bytes(FileSystems.join(work, "written.json")))
    written = {"shard": {}, "val": {}, "worker_peak_rss_mb": rss}
    for kind, key, record in records:
        written[kind][key] = record
    if sorted(written["shard"]) != list(range(len(the_plan["sizes"]))):
        raise RuntimeError(f"shards written {sorted(written['shard'])}, planned {len(the_plan['sizes'])}")
    return written


def _write_records(records: list, work: str) -> None:
    write_atomic_bytes(FileSystems.join(work, "written.json"), json.dumps(records).encode())


def _run(pipe: beam.Pipeline) -> float:
    """Runs a pipeline to the end; the peak memory of its busiest worker (MB, 0 if unknown)."""
    result = pipe.run()
    result.wait_until_finish()
    try:
        found = result.metrics().query(beam.metrics.MetricsFilter().with_name("worker_peak_rss_mb"))
        return float(max((d.committed or d.attempted).max for d in found["distributions"]))
    except Exception:  # a runner without metrics (the figure is only for the benchmark)
        return 0.0


def run(data: str, cfg: TokensConfig, beam_args: list[str] | None = None, out: str | None = None) -> dict:
    start = time.time()
    options = beam_options(beam_args or [])  # also gives this process's FileSystems the store flags
    out = out or FileSystems.join(data, "tokens")
    model_path = cfg.tokenizer or FileSystems.join(data, "tokenizer", "tokenizer.model")
    problem = runner_problem(options, [data], out, (model_path,))
    if problem:
        raise ValueError(problem)
    store.check_paths([data, out, model_path], options)  # a store that says no: one message, now
    if not FileSystems.exists(model_path):
        raise ValueError(f"no tokenizer at {model_path}: run `make tokenizer` first")
    model = read_bytes(model_path)
    encoder = Encoder(model_proto=model)
    asked = table1.load_weights(cfg.weights) if cfg.weights else table1.paper_weights()
    weights, skipped = present_sources(data, asked, bool(cfg.weights))
    work = FileSystems.join(out, ".work")
    remove_tree(work)
    encoded = encode(data, weights, model, cfg, work, options)
    plans = plan.source_plans(encoded, weights, work, cfg)
    the_plan = plan.mixture_plan(plans, weights, cfg)
    written = write_shards(plans, the_plan, cfg, work, out, options)
    _remove_stale(out, len(the_plan["sizes"]), set(written["val"]))
    remove_tree(work)
    result = plan.summary(data, cfg, encoder, weights, asked, skipped, plans, the_plan, written)
    for name in weights:
        counts = encoded["problems"].get(name, {})
        result["sources"][name]["skipped_lines"] = counts.get("bad_line", 0)
        result["sources"][name]["unreadable_shards"] = counts.get("unreadable_shard", 0)
    write_atomic_bytes(FileSystems.join(out, "mix.json"), json.dumps(result, indent=2).encode())
    result["seconds"] = round(time.time() - start, 3)  # not in mix.json: the same inputs give the same file
    result["worker_peak_rss_mb"] = max(encoded["worker_peak_rss_mb"], written["worker_peak_rss_mb"])
    return result


def remove_tree(url: str) -> None:
    """Deletes a folder (local) or every object under a prefix (object store), if there."""
    target = url if "://" not in url else url.rstrip("/") + "/"
    try:
        if FileSystems.exists(url) or "://" in url:
            FileSystems.delete([target])
    except (BeamIOError, OSError):
        pass  # nothing there


def _remove_stale(out: str, shards: int, val: set[str]) -> None:
    """Shards of an earlier, longer run, and val/<source>.bin of sources not in this run (maybe
    another tokenizer's ids): the trainer reads every train-*.bin and evaluates every val/*.bin."""
    stale = []
    for pattern in ("train-*.bin", "val/*.bin"):
        try:
            found = FileSystems.match([FileSystems.join(out, pattern)])[0].metadata_list
        except (BeamIOError, OSError):
            continue
        for m in found:
            name = m.path.rstrip("/").rsplit("/", 1)[-1]
            match = re.fullmatch(r"train-(\d{5})\.bin", name)
            if (match and int(match.group(1)) >= shards) or (pattern.startswith("val") and name[:-4] not in val):
                stale.append(m.path)
    if stale:
        FileSystems.delete(stale)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tokens.run",
        description="Encode DATA/clean/* and write DATA/tokens/train-SSSSS.bin (uint16, sequences of "
                    "SEQ_LEN+1 tokens interleaved at the mixture weights), val/<source>.bin and mix.json. "
                    "Unknown flags are passed to Apache Beam.")
    parser.add_argument("--data", default="data", help="data root holding clean/ and tokenizer/ (default: data)")
    parser.add_argument("--output", default="", help="output folder (default: DATA/tokens)")
    config_flags.add_arguments(parser, TokensConfig, "token options")
    return parser


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    parser = build_parser()
    args, beam_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    unknown = unknown_flags(beam_args, parser)
    if unknown:  # Beam would drop it: a typo would run the job without the setting
        print(f"error: unknown flag{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
              "neither this job nor Apache Beam knows it (see --help)", file=sys.stderr)
        return 2
    cfg = config_flags.from_args(TokensConfig, args)
    try:
        result = run(args.data, cfg, beam_args, args.output or None)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [dict(source=n, **r) for n, r in result["sources"].items()]
    print(mixture.table(rows))
    print(f"[tokens] {len(result['shards'])} shards, {result['total_tokens']:,} tokens "
          f"({result['total_basis']}), seq_len {result['seq_len']}, in {result['seconds']:.1f}s -> "
          f"{args.output or FileSystems.join(args.data, 'tokens')}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
