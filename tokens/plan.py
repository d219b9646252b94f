"""The launcher's part of the token job: from the encode step's small summary (documents and
tokens per bucket) to the plan (tokens.layout.SourcePlan per source, shard sizes and quotas), and
from the writers' records to mix.json. Nothing here touches more than a few numbers per bucket,
except the lengths of each source's first documents (for the validation split)."""

from __future__ import annotations

import dataclasses

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.files import read_bytes
from sources import table1
from tokenizer import corpus
from tokens import mixture
from tokens.layout import LENGTH, SourcePlan, held_out
from tokens.stages import bucket_path


def source_plans(encoded: dict, weights: dict[str, float], work: str, cfg) -> list[SourcePlan]:
    """Per source (in `weights` order): buckets, offsets, the held-out documents, sequences."""
    seq = cfg.seq_len + 1
    by_source: dict[str, list] = {name: [] for name in weights}
    for source, bucket, docs, tokens in encoded["buckets"]:
        if docs:
            by_source[source].append((bucket, docs, tokens))
    plans = []
    for index, (name, rows) in enumerate(by_source.items()):
        rows.sort()
        offsets = np.concatenate([[0], np.cumsum([t for _, _, t in rows], dtype=np.int64)]).tolist()
        documents, total = sum(d for _, d, _ in rows), offsets[-1]
        if total == 0:
            raise ValueError(f"source {name!r} has no documents in its clean shards: nothing to tokenize "
                             f"(give it weight 0 in a --weights file, or rebuild it)")
        target = min(cfg.val_tokens, int(cfg.val_max_fraction * total))
        val_docs, held = held_out(_head_lengths(work, name, [b for b, _, _ in rows], target), documents, total,
                                  cfg.val_tokens, cfg.val_max_fraction)
        plan = SourcePlan(name, index, [b for b, _, _ in rows], offsets, documents, val_docs, held, seq)
        plan.sequences = (total - held) // seq
        if plan.sequences == 0:
            raise ValueError(f"source {name!r} has {total - held} training tokens, fewer than one sequence of "
                             f"{seq} (SEQ_LEN+1): lower --seq-len, or give it weight 0 in a --weights file")
        plans.append(plan)
    return plans


def _head_lengths(work: str, name: str, buckets: list[int], target: int) -> np.ndarray:
    """Lengths of the source's first documents, bucket after bucket, until they reach `target`
    tokens (one bucket's .len file at most, unless buckets are smaller than the validation split)."""
    parts, seen = [], 0
    for bucket in buckets:
        if seen >= target:
            break
        lengths = np.frombuffer(read_bytes(bucket_path(work, name, bucket, "len")), dtype=LENGTH)
        parts.append(lengths)
        seen += int(lengths.sum(dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=LENGTH)


def mixture_plan(plans: list[SourcePlan], weights: dict[str, float], cfg) -> dict:
    """Stream length, shard sizes and per (shard, source) quotas; sets each source's bounds."""
    seq = cfg.seq_len + 1
    counts = {p.name: p.sequences for p in plans}
    if cfg.total_tokens > 0:
        total, basis = max(1, cfg.total_tokens // seq), "--total-tokens"
    else:
        total, anchor = mixture.default_total_sequences(counts, weights)
        epochs = table1.TABLE1[anchor].epochs if anchor in table1.TABLE1 else 1.0
        basis = f"{anchor} seen {epochs} times (paper Table 1)"
    per_shard = max(1, cfg.shard_tokens // seq)
    sizes = [per_shard] * (total // per_shard) + ([total % per_shard] if total % per_shard else [])
    quotas = mixture.shard_quotas([weights[p.name] for p in plans], sizes)
    for i, p in enumerate(plans):
        p.bounds = np.concatenate([[0], np.cumsum(quotas[:, i])]).astype(np.int64)
    return {"total": total, "basis": basis, "sizes": sizes, "quotas": quotas}


def disk_bytes(data: str, name: str) -> int:
    pattern = FileSystems.join(corpus.source_dir(data, name), f"{name}-*-of-*.jsonl.gz")
    try:
        return sum(m.size_in_bytes for m in FileSystems.match([pattern])[0].metadata_list)
    except Exception:  # Beam raises when nothing matches
        return 0


def summary(data, cfg, encoder, weights, asked, skipped, plans, the_plan, written) -> dict:
    """mix.json: what the stream holds and where it came from (no times or paths of this run)."""
    seq = cfg.seq_len + 1
    total = int(the_plan["total"])
    sources = {}
    for p in plans:
        paper = table1.TABLE1.get(p.name)
        sources[p.name] = {
            "documents": p.documents, "tokens_available": p.train_tokens, "sequences_available": p.sequences,
            "proportion_asked": round(weights[p.name], 6),
            "proportion_realised": round(p.drawn / total, 6),
            "sequences_drawn": p.drawn, "tokens_drawn": p.drawn * seq,
            "epochs": round(p.drawn / p.sequences, 4),
            "proportion_paper": paper.proportion if paper else None, "epochs_paper": paper.epochs if paper else None,
            "disk_bytes": disk_bytes(data, p.name),
        }
    return {
        "seq_len": cfg.seq_len, "sequence_tokens": seq, "dtype": "uint16", "vocab_size": encoder.vocab_size,
        "tokenizer_sha256": encoder.sha256, "seed": cfg.seed, "weights_file": cfg.weights or None,
        "total_sequences": total, "total_tokens": total * seq, "total_basis": the_plan["basis"],
        "shard_sequences": the_plan["sizes"][0], "sources": sources, "skipped_sources": skipped,
        "shards": [written["shard"][k] for k in sorted(written["shard"])],
        "val": {p.name: written["val"].get(p.name) or {"file": None, "documents": p.val_documents, "tokens": 0,
                                                      "sha256": None} for p in plans},
        "config": dataclasses.asdict(cfg),
    }
