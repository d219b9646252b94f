"""Tokenizer: encode throughput (tokens per CPU-second, one thread) of our encoder (SentencePiece)
beside HF `tokenizers` loading the same .model through transformers' LlamaTokenizer conversion,
on the same documents; and SentencePiece BPE training time at two sample sizes."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from benchmarks.common import Row
from tests.fixtures.tokens import build_corpus, news, novel_chapters
from tokenizer import reference, train
from tokenizer.encode import Encoder


def hf_tokenizer(model_path: str):
    """transformers' LlamaTokenizer (a `tokenizers` backend) converted from the .model file.
    transformers reads the proto with sentencepiece's generated module, which needs a newer
    protobuf than Apache Beam allows; its own copy of the schema reads the same bytes."""
    import transformers.convert_slow_tokenizer as convert
    from transformers import LlamaTokenizer
    from transformers.utils import sentencepiece_model_pb2_new

    convert.import_protobuf = lambda *args, **kwargs: sentencepiece_model_pb2_new
    folder = tempfile.mkdtemp()
    shutil.copy(model_path, os.path.join(folder, "tokenizer.model"))
    try:
        return LlamaTokenizer.from_pretrained(folder).backend_tokenizer
    finally:
        shutil.rmtree(folder)


def cpu_seconds(fn) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def encode_rows(label: str, model_path: str, texts: list[str]) -> Row:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread: a per-core figure
    ours, hf = Encoder(model_path), hf_tokenizer(model_path)
    n_ours = sum(len(x) for x in ours.encode_batch(texts))
    n_hf = sum(len(e.ids) for e in hf.encode_batch(texts, add_special_tokens=True))
    t_ours = cpu_seconds(lambda: ours.encode_batch(texts, num_threads=1))
    t_hf = cpu_seconds(lambda: hf.encode_batch(texts, add_special_tokens=True))
    same = sum(a[1:-1].tolist() == e.ids for a, e in
               zip(ours.encode_batch(texts), hf.encode_batch(texts, add_special_tokens=False)))
    return Row("tokenizer encode", f"tokens/s per core ({label})", n_ours / t_ours, "HF tokenizers (same .model)",
               n_hf / t_hf, notes=f"{len(texts)} docs, {sum(map(len, texts)) / 1e6:.2f}M chars; "
                                  f"identical ids on {same}/{len(texts)} docs")


def train_seconds(data: str, sample_chars: int, vocab: int) -> float:
    cfg = train.TokenizerConfig(vocab_size=vocab, sample_chars=sample_chars, heldout_fraction=0.0,
                                num_threads=1)
    out = tempfile.mkdtemp()
    try:
        info = train.run(data, cfg, out)
    finally:
        shutil.rmtree(out)
    return info["seconds"]["train"]


def run(quick: bool = True) -> list[Row]:
    texts = (news() + novel_chapters()) * (1 if quick else 4)
    with tempfile.TemporaryDirectory() as data:
        build_corpus(data)
        vocab, small, large = 2000, 150_000, 600_000  # the fixture corpus holds ~690k characters
        train_seconds(data, small, vocab)  # warm-up: first-call costs stay out of the figures
        t_small = train_seconds(data, small, vocab)
        t_large = train_seconds(data, large, vocab)
        train.run(data, train.TokenizerConfig(vocab_size=vocab, sample_chars=large, num_threads=1))
        rows = [encode_rows(f"ours, {vocab} pieces", os.path.join(data, "tokenizer", "tokenizer.model"), texts)]
    ref = reference.default_reference()
    if ref:
        rows.append(encode_rows("mistral-common 32k .model", ref, texts))
    rows.append(Row("tokenizer train", f"seconds, BPE {vocab} pieces, {small / 1e3:.0f}k chars sample",
                    t_small, f"{large / 1e3:.0f}k chars sample", t_large, higher_is_better=False,
                    notes="ratio = time at the larger sample / time at the smaller (SentencePiece, 1 thread)"))
    return rows
