"""`python -m tokenizer.train --data data`: trains the SentencePiece BPE tokenizer on a sample of
`data/clean/*` drawn at the mixture's sampling proportions, and writes
`data/tokenizer/tokenizer.model`, `tokenizer.vocab` and `tokenizer.json` (settings, sample, hash,
bytes per token on held-out text beside a reference 32k LLaMA-style tokenizer).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import sys
import time

import sentencepiece as spm
from apache_beam.io.filesystems import FileSystems

from pipeline import config as config_flags
from pipeline import files, store
from pipeline.options import setup_logging, unknown_flags, use_filesystems
from sources import table1
from tokenizer import BOS_ID, EOS_ID, UNK_ID, corpus, reference, sample
from tokenizer.encode import MAX_VOCAB

log = logging.getLogger("tokenizer.train")


@dataclasses.dataclass
class TokenizerConfig:
    vocab_size: int = dataclasses.field(
        default=32000, metadata={"help": "pieces in the vocabulary; LLaMA: 32,000 (section 2.1)"})
    sample_chars: int = dataclasses.field(
        default=100_000_000, metadata={"help": "characters of clean text in the training sample, "
                                               "split over sources at the mixture proportions (the "
                                               "trainer holds it in memory, several bytes a character)"})
    weights: str = dataclasses.field(
        default="", metadata={"help": "JSON file {source: weight} replacing the paper's Table 1 proportions"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the sample and its shuffle"})
    max_sentence_length: int = dataclasses.field(
        default=4192, metadata={"help": "longest training sentence in bytes; longer lines are cut "
                                        "(LLaMA's tokenizer.model trainer_spec: 4192)"})
    character_coverage: float = dataclasses.field(
        default=0.99995, metadata={"help": "share of characters covered by pieces, the rest byte "
                                           "fallback (LLaMA's trainer_spec: 0.99995)"})
    num_threads: int = dataclasses.field(
        default=0, metadata={"help": "SentencePiece trainer threads, 0 = all cores (the model is "
                                     "byte-identical for any count: tests/tokenizer/test_tokenizer.py)"})
    heldout_fraction: float = dataclasses.field(
        default=0.01, metadata={"help": "share of each source's documents kept out of the sample"})
    heldout_chars: int = dataclasses.field(
        default=1_000_000, metadata={"help": "held-out characters per source for the bytes/token report"})
    reference: str = dataclasses.field(
        default="", metadata={"help": "reference SentencePiece model for the report; '' = the "
                                      "32k LLaMA-style model in the mistral-common package"})


def trainer_settings(cfg: TokenizerConfig) -> dict:
    """SentencePiece options: LLaMA's (its tokenizer.model trainer_spec and normalizer_spec)."""
    return dict(
        model_type="bpe", vocab_size=cfg.vocab_size, character_coverage=cfg.character_coverage,
        split_digits=True, byte_fallback=True,  # section 2.1: digits split, bytes for unknown UTF-8
        unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=-1,
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
        allow_whitespace_only_pieces=True, split_by_whitespace=True, split_by_unicode_script=True,
        split_by_number=True, max_sentencepiece_length=16, max_sentence_length=cfg.max_sentence_length,
        input_sentence_size=0, shuffle_input_sentence=False,  # the sample is already drawn and shuffled
        hard_vocab_limit=True, unk_surface=" \u2047 ", num_threads=cfg.num_threads or os.cpu_count() or 1,
    )


def train_model(lines: list[str], cfg: TokenizerConfig) -> bytes:
    """The serialised model trained on `lines` (no files: nothing run-specific enters the proto)."""
    if not lines:
        raise ValueError("the training sample is empty: no clean text under DATA/clean/*")
    spm.set_random_generator_seed(cfg.seed)
    writer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=writer,
                                       minloglevel=2, **trainer_settings(cfg))
    except RuntimeError as exc:
        limit = re.search(r"value <= (\d+)", str(exc))
        if limit:
            raise ValueError(f"the sample ({len(lines):,} lines) supports at most {limit.group(1)} pieces: "
                             f"lower --vocab-size or raise --sample-chars (SentencePiece: {exc})") from None
        raise
    return writer.getvalue()


def without_thread_count(model: bytes) -> bytes:
    """The model with trainer_spec.num_threads cleared: the pieces do not depend on the thread
    count (tests/tokenizer/test_tokenizer.py), so neither should the file's bytes and hash.
    Read with transformers' copy of the proto schema: sentencepiece's own (sentencepiece 0.2.3 in
    requirements/cpu.lock) is generated by protobuf 7.36.1 and refuses an older runtime, while
    apache-beam 2.77.0 requires protobuf<7 (the lock has protobuf 6.33.6); no locked pair has both."""
    from transformers.utils import sentencepiece_model_pb2_new as model_pb2

    proto = model_pb2.ModelProto()
    proto.ParseFromString(model)
    proto.trainer_spec.ClearField("num_threads")
    return proto.SerializeToString(deterministic=True)


def vocab_text(model: bytes) -> str:
    """`tokenizer.vocab` as SentencePiece writes it: piece TAB score, one a line, in id order."""
    sp = spm.SentencePieceProcessor(model_proto=model)
    return "".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n" for i in range(sp.get_piece_size()))


def available_weights(data: str, weights: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """Weights renormalised over the sources that have clean shards; the others are named."""
    present = [s for s, w in weights.items() if w > 0 and corpus.shard_files(data, s)]
    skipped = [s for s, w in weights.items() if w > 0 and s not in present]
    for s in skipped:
        print(f"[tokenizer] {s}: no clean shards under {corpus.source_dir(data, s)}, skipped "
              f"(its weight is spread over the others)")
    return table1.normalise(weights, present), skipped


def run(data: str, cfg: TokenizerConfig, out_dir: str | None = None) -> dict:
    if cfg.vocab_size > MAX_VOCAB:  # checked before the sample and the training, not after
        raise ValueError(f"--vocab-size {cfg.vocab_size:,}: token shards are uint16, "
                         f"at most {MAX_VOCAB:,} pieces")
    out_dir = out_dir or FileSystems.join(data, "tokenizer")
    start = time.time()
    weights = table1.load_weights(cfg.weights) if cfg.weights else table1.paper_weights()
    weights, skipped = available_weights(data, weights)
    lines, drawn = sample.draw(data, weights, cfg.sample_chars, cfg.max_sentence_length, cfg.seed,
                               cfg.heldout_fraction, cfg.heldout_chars)
    sampled = time.time()
    model = train_model(lines, cfg)
    trained = time.time()
    model = without_thread_count(model)
    files.write_atomic_bytes(FileSystems.join(out_dir, "tokenizer.model"), model)
    files.write_atomic_bytes(FileSystems.join(out_dir, "tokenizer.vocab"), vocab_text(model).encode("utf-8"))
    info = {
        "model": "tokenizer.model", "sha256": hashlib.sha256(model).hexdigest(),
        "vocab_size": spm.SentencePieceProcessor(model_proto=model).vocab_size(),
        "settings": trainer_settings(cfg), "config": dataclasses.asdict(cfg),
        "sample": {d.source: {"weight": round(d.weight, 6), "budget_chars": d.budget_chars, "chars": d.chars,
                              "lines": d.lines, "documents": d.documents, "skipped": dict(d.problems)}
                   for d in drawn},
        "sample_lines": len(lines), "skipped_sources": skipped,
        "seconds": {"sample": round(sampled - start, 3), "train": round(trained - sampled, 3)},
    }
    info.update(reference.bytes_per_token(model, {d.source: d.heldout for d in drawn}, cfg.reference))
    files.write_atomic_bytes(FileSystems.join(out_dir, "tokenizer.json"),
                             (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return info


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tokenizer.train",
        description="Train the SentencePiece BPE tokenizer (LLaMA's settings) on a mixture-weighted "
                    "sample of DATA/clean/*; writes DATA/tokenizer/tokenizer.model, .vocab, .json.")
    parser.add_argument("--data", default="data", help="data root holding clean/<source>/ (default: data)")
    parser.add_argument("--output", default="", help="output folder (default: DATA/tokenizer)")
    parser.epilog = ("DATA and --output may be gs:// or s3:// URLs; Beam's filesystem flags "
                     "(--s3_endpoint_url, --s3_region_name, credentials) are accepted.")
    config_flags.add_arguments(parser, TokenizerConfig, "tokenizer options")
    return parser


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    unknown = unknown_flags(beam_args, parser)
    if unknown:  # Beam's own flags (--s3_endpoint_url, credentials) reach the object store
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    cfg = config_flags.from_args(TokenizerConfig, args)
    try:
        store.check_paths([args.data, args.output], use_filesystems(beam_args))
        info = run(args.data, cfg, args.output or None)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.output or FileSystems.join(args.data, "tokenizer")
    print(f"[tokenizer] {out}/tokenizer.model: {info['vocab_size']} pieces, sha256 {info['sha256'][:16]}..., "
          f"{info['sample_lines']:,} sample lines, trained in {info['seconds']['train']:.1f}s")
    print(reference.report_table(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
