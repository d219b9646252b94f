"""`python -m tokens.run --data data --seq-len 2048`: token shards at the mixture's weights.

Two Beam steps with a small plan between them:
  1. EncodeSources: every clean shard of every source is encoded (`<s> doc </s>` per document)
     and grouped into per-source buckets in a seeded document order (DATA/tokens/.work/).
  2. plan (plain code): per source a validation slice (DATA/tokens/val/<source>.bin) and a
     training stream of SEQ_LEN+1-token sequences; per shard, how many sequences each source
     gives (tokens.mixture: every shard within one sequence of the proportions).
  3. WriteShards: shard k interleaves its sequences in Megatron's blended order, each source
     read epoch after epoch in a fresh seeded shuffle -> DATA/tokens/train-SSSSS.bin.
Then DATA/tokens/mix.json, and a table like the paper's Table 1. Same inputs and seed give
byte-identical files. The encoded buckets and shards are read with memmap: DATA must be a local
(or mounted) folder for this job; the encode step runs on any Beam runner.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import shutil
import sys
import time

import apache_beam as beam
import numpy as np

from pipeline import config as config_flags
from pipeline.options import beam_options, setup_logging
from sources import table1
from tokenizer import corpus
from tokenizer.encode import Encoder
from tokens import mixture
from tokens.stages import EncodeSources, WriteShardFn, problems_path
from tokens.streams import SourceStream, assemble, sha256_file

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
                                     "(each sorted in one worker's memory); 0 = one per 400M characters"})
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


def encode(data: str, weights: dict[str, float], model: bytes, cfg: TokensConfig, work: str, beam_args) -> None:
    inputs = [(name, path) for name in weights for path in corpus.shard_files(data, name)]
    with beam.Pipeline(options=beam_options(beam_args)) as p:
        _ = p | "Shards" >> beam.Create(inputs) | "EncodeSources" >> EncodeSources(
            model, cfg.seed, {name: bucket_count(data, name, cfg.buckets) for name in weights}, work)


def bucket_count(data: str, name: str, asked: int) -> int:
    """Buckets for a source: as asked, or one per BUCKET_CHARS of its clean text (stats.json)."""
    if asked > 0:
        return asked
    chars = corpus.chars_out(data, name) or sum(os.path.getsize(p) * 3 for p in corpus.shard_files(data, name))
    return max(1, -(-chars // BUCKET_CHARS))


def plan(streams: list[SourceStream], weights: dict[str, float], cfg: TokensConfig) -> dict:
    seq = cfg.seq_len + 1
    counts = {s.name: s.sequences for s in streams}
    if cfg.total_tokens > 0:
        total, basis = max(1, cfg.total_tokens // seq), "--total-tokens"
    else:
        total, anchor = mixture.default_total_sequences(counts, weights)
        epochs = table1.TABLE1[anchor].epochs if anchor in table1.TABLE1 else 1.0
        basis = f"{anchor} seen {epochs} times (paper Table 1)"
    per_shard = max(1, cfg.shard_tokens // seq)
    sizes = [per_shard] * (total // per_shard) + ([total % per_shard] if total % per_shard else [])
    quotas = mixture.shard_quotas([weights[s.name] for s in streams], sizes)
    starts = np.vstack([np.zeros((1, len(streams)), dtype=np.int64), np.cumsum(quotas, axis=0)[:-1]])
    return {"total": total, "basis": basis, "sizes": sizes, "quotas": quotas, "starts": starts}


def write_shards(streams, the_plan, cfg: TokensConfig, out: str, beam_args) -> list[dict]:
    specs = [(k, the_plan["quotas"][k].tolist(), the_plan["starts"][k].tolist()) for k in range(len(the_plan["sizes"]))]
    fn = WriteShardFn(streams, cfg.seq_len + 1, cfg.seed, out, len(specs))
    with beam.Pipeline(options=beam_options(beam_args)) as p:
        _ = p | "ShardPlan" >> beam.Create(specs) | "Reshuffle" >> beam.Reshuffle() | "WriteShards" >> beam.ParDo(fn)
    for name in os.listdir(out):  # shards of an earlier, longer run
        match = re.fullmatch(r"train-(\d{5})\.bin", name)
        if match and int(match.group(1)) >= len(specs):
            os.remove(os.path.join(out, name))
    shards = []
    for k, size in enumerate(the_plan["sizes"]):
        path = os.path.join(out, f"train-{k:05d}.bin")
        shards.append({"file": os.path.basename(path), "sequences": size, "tokens": size * (cfg.seq_len + 1),
                       "sha256": sha256_file(path)})
    return shards


def run(data: str, cfg: TokensConfig, beam_args: list[str] | None = None, out: str | None = None) -> dict:
    start = time.time()
    out = out or os.path.join(data, "tokens")
    model_path = cfg.tokenizer or os.path.join(data, "tokenizer", "tokenizer.model")
    if not os.path.exists(model_path):
        raise ValueError(f"no tokenizer at {model_path}: run `make tokenizer` first")
    with open(model_path, "rb") as f:
        model = f.read()
    encoder = Encoder(model_proto=model)
    asked = table1.load_weights(cfg.weights) if cfg.weights else table1.paper_weights()
    weights, skipped = present_sources(data, asked, bool(cfg.weights))
    work = os.path.join(out, ".work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    encode(data, weights, model, cfg, work, beam_args or [])
    seq = cfg.seq_len + 1
    problems = {name: _read_json(problems_path(work, name)) for name in weights}
    streams = [assemble(work, name, seq, cfg.val_tokens, cfg.val_max_fraction, os.path.join(out, "val", f"{name}.bin"))
               for name in weights]
    _remove_stale_val(out, weights)
    the_plan = plan(streams, weights, cfg)
    shards = write_shards(streams, the_plan, cfg, out, beam_args or [])
    shutil.rmtree(work, ignore_errors=True)
    result = summary(data, cfg, encoder, weights, asked, skipped, streams, the_plan, shards, out)
    for name, counts in problems.items():
        result["sources"][name]["skipped_lines"] = counts.get("bad_line", 0)
        result["sources"][name]["unreadable_shards"] = counts.get("unreadable_shard", 0)
    result["seconds"] = round(time.time() - start, 3)
    with open(os.path.join(out, "mix.json.tmp"), "w") as f:
        json.dump(result, f, indent=2)
    os.replace(os.path.join(out, "mix.json.tmp"), os.path.join(out, "mix.json"))
    return result


def _remove_stale_val(out: str, weights: dict[str, float]) -> None:
    """val/<source>.bin of sources not in this run (an earlier run's mixture, maybe another
    tokenizer's ids): the trainer evaluates every val/*.bin it finds."""
    for name in os.listdir(os.path.join(out, "val")):
        if name.endswith(".bin") and name[: -len(".bin")] not in weights:
            os.remove(os.path.join(out, "val", name))


def _read_json(path: str) -> dict:
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def summary(data, cfg, encoder, weights, asked, skipped, streams, the_plan, shards, out) -> dict:
    seq = cfg.seq_len + 1
    drawn = the_plan["quotas"].sum(axis=0)
    total = int(the_plan["total"])
    sources, val = {}, {}
    for i, s in enumerate(streams):
        paper = table1.TABLE1.get(s.name)
        sources[s.name] = {
            "documents": s.documents, "tokens_available": s.train_tokens, "sequences_available": s.sequences,
            "proportion_asked": round(weights[s.name], 6),
            "proportion_realised": round(int(drawn[i]) / total, 6),
            "sequences_drawn": int(drawn[i]), "tokens_drawn": int(drawn[i]) * seq,
            "epochs": round(int(drawn[i]) / s.sequences, 4),
            "proportion_paper": paper.proportion if paper else None, "epochs_paper": paper.epochs if paper else None,
            "disk_bytes": sum(os.path.getsize(p) for p in corpus.shard_files(data, s.name)),
        }
        path = os.path.join(out, "val", f"{s.name}.bin")
        val[s.name] = {"file": f"val/{s.name}.bin", "documents": s.val_documents,
                       "tokens": os.path.getsize(path) // 2, "sha256": sha256_file(path)}
    return {
        "seq_len": cfg.seq_len, "sequence_tokens": seq, "dtype": "uint16", "vocab_size": encoder.vocab_size,
        "tokenizer_sha256": encoder.sha256, "seed": cfg.seed, "weights_file": cfg.weights or None,
        "total_sequences": total, "total_tokens": total * seq, "total_basis": the_plan["basis"],
        "shard_sequences": the_plan["sizes"][0], "sources": sources, "skipped_sources": skipped,
        "shards": shards, "val": val, "config": dataclasses.asdict(cfg),
    }


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
    args, beam_args = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
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
          f"{args.output or os.path.join(args.data, 'tokens')}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
