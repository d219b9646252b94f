"""The tokenizer (issue 9): a tiny SentencePiece BPE trained once on real text fixtures."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import sentencepiece as spm

from tests.fixtures.tokens import ROOT, build_corpus, news, novel_chapters, write_ascii_json_shard, write_clean
from tokenizer import BOS_ID, EOS_ID, UNK_ID, reference, sample, train
from tokenizer.encode import Encoder

VOCAB = 600
CFG = train.TokenizerConfig(vocab_size=VOCAB, sample_chars=200_000, heldout_fraction=0.1,
                            heldout_chars=20_000, num_threads=1)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    data = str(tmp_path_factory.mktemp("tok_data"))
    build_corpus(data)
    info = train.run(data, CFG)
    model = os.path.join(data, "tokenizer", "tokenizer.model")
    return data, info, model, spm.SentencePieceProcessor(model_file=model)


def test_digits_are_split(trained):
    sp = trained[3]
    assert [p for p in sp.encode("12345", out_type=str) if p != "\u2581"] == ["1", "2", "3", "4", "5"]
    pieces = sp.encode("In 2023 there were 1000 of them, 3.14159 each.", out_type=str)
    assert all(sum(ch.isdigit() for ch in p) <= 1 for p in pieces)


@pytest.mark.parametrize("text", [
    "emoji \U0001F600\U0001F389 and CJK \u65e5\u672c\u8a9e \u6f22\u5b57, control \x01\x07\x1b\x7f",
    "tab\there\nnewline  two  spaces   three\r\nzero\u200bwidth \u00e9\u0301 \U0001F1EB\U0001F1F7",
    "   leading spaces and trailing   ",
])
def test_round_trip_through_byte_fallback(trained, text):
    sp = trained[3]
    ids = sp.encode(text)
    assert sp.decode(ids) == text
    assert UNK_ID not in ids  # every byte is representable: nothing becomes <unk>
    pieces = sp.encode(text, out_type=str)
    if any(ord(ch) > 0x2FFF for ch in text):
        assert any(p.startswith("<0x") for p in pieces)  # the rare characters went to bytes


def test_special_ids_and_vocab_size(trained):
    sp = trained[3]
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    assert [sp.id_to_piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]
    assert sp.vocab_size() == VOCAB == trained[1]["vocab_size"]
    assert sum(sp.id_to_piece(i).startswith("<0x") for i in range(sp.vocab_size())) == 256


def test_model_carries_llama_settings(trained):
    from transformers.utils import sentencepiece_model_pb2_new as model_pb2

    proto = model_pb2.ModelProto()
    with open(trained[2], "rb") as f:
        proto.ParseFromString(f.read())
    spec, norm = proto.trainer_spec, proto.normalizer_spec
    assert spec.model_type == model_pb2.TrainerSpec.BPE
    assert spec.split_digits and spec.byte_fallback and spec.allow_whitespace_only_pieces
    assert norm.name == "identity" and norm.add_dummy_prefix and not norm.remove_extra_whitespaces


def test_files_written(trained):
    data, info, model, _ = trained
    folder = os.path.dirname(model)
    with open(os.path.join(folder, "tokenizer.json")) as f:
        saved = json.load(f)
    assert saved["sha256"] == Encoder(model).sha256 == info["sha256"]
    with open(os.path.join(folder, "tokenizer.vocab"), encoding="utf-8") as f:
        vocab = [line.split("\t")[0] for line in f.read().splitlines()]
    assert len(vocab) == VOCAB and vocab[:3] == ["<unk>", "<s>", "</s>"]


def test_training_is_deterministic_and_thread_count_free(trained, tmp_path):
    data, info, model, _ = trained
    out = str(tmp_path / "again")
    again = train.run(data, dataclasses.replace(CFG, num_threads=2), out)
    with open(model, "rb") as a, open(os.path.join(out, "tokenizer.model"), "rb") as b:
        assert a.read() == b.read()
    assert again["sha256"] == info["sha256"]
    other = train.run(data, dataclasses.replace(CFG, seed=1), str(tmp_path / "seed1"))
    assert other["sample"] != info["sample"]  # the seed really drives the sample


def test_sample_follows_mixture_and_skips_missing_sources(trained):
    info = trained[1]
    assert set(info["skipped_sources"]) == {"c4", "arxiv", "stackexchange"}
    weights = {s: v["weight"] for s, v in info["sample"].items()}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5)
    # commoncrawl : wikipedia keep the paper's 67 : 4.5 after renormalisation
    assert weights["commoncrawl"] / weights["wikipedia"] == pytest.approx(0.67 / 0.045, rel=1e-4)
    cc = info["sample"]["commoncrawl"]  # enough data: close to its budget (a sample by document)
    assert 0.85 * cc["budget_chars"] <= cc["chars"] <= cc["budget_chars"] + 5_000


def test_bytes_per_token_report(trained):
    info = trained[1]
    rows = info["bytes_per_token"]
    assert all(r["heldout_bytes"] > 0 for r in rows.values())
    assert 1.5 < rows["commoncrawl"]["ours"] < 6
    if reference.default_reference():
        # a 32k vocabulary compresses English news better than our 600-piece one
        assert rows["commoncrawl"]["reference"] > rows["commoncrawl"]["ours"]
    assert "commoncrawl" in reference.report_table(info)


def test_small_source_still_holds_one_document_out(trained):
    """Under a tiny held-out fraction no document falls below it: the lowest-hash one is held
    out instead, and none of its lines stay in the training sample."""
    weights = {"github": 0.5, "books": 0.5}
    lines, drawn = sample.draw(trained[0], weights, 10**7, 4192, 0, 0.0001, 10**6)
    for info in drawn:
        assert len(info.heldout) == 1 and info.documents > 1
        held = set(info.heldout[0].split("\n"))
        assert not held & {line for line in lines if len(line) > 40}
    assert len(lines) == sum(d.lines for d in drawn)


def test_long_lines_are_cut_under_the_cap():
    line = ("word " * 300 + "x" * 500 + "\u00e9" * 400).strip()
    pieces = list(sample.cap_lines(line + "\n\n  \nshort", 256))
    assert all(len(p.encode()) <= 256 for p in pieces)
    assert "".join(pieces[:-1]) == line and pieces[-1] == "short"


def test_encoder_brackets_documents(trained):
    enc = Encoder(trained[2])
    texts = ["The first document.", "A second one, with 42 digits."]
    batch = enc.encode_batch(texts)
    assert all(b.dtype == np.uint16 and b[0] == BOS_ID and b[-1] == EOS_ID for b in batch)
    assert np.array_equal(enc.encode_concat(texts), np.concatenate(batch))
    assert [enc.decode(b) for b in batch] == texts


def test_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no source"):
        train.run(str(tmp_path), CFG)


def test_cli_help():
    out = subprocess.run([sys.executable, "-m", "tokenizer.train", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "--vocab-size" in out and "--sample-chars" in out and "--weights" in out


def test_vocab_too_large_for_the_sample_is_a_clear_error(trained, tmp_path):
    with pytest.raises(ValueError, match="supports at most \\d+ pieces: lower --vocab-size"):
        train.run(trained[0], dataclasses.replace(CFG, vocab_size=60000), str(tmp_path))


# An emoji cut between its two UTF-16 halves, as JSON escapes keep it ("\ud83d" alone).
HALF_EMOJI = ["Tweet cut mid-emoji \ud83d and on", "trailing low half \ude00 here", "both \ud83d\ude00 whole"]


def test_lone_surrogates_in_json_escapes_become_replacement_chars(tmp_path):
    """A clean line like {"text": "...\\ud83d..."} (valid JSON) reaches the trainer as U+FFFD, as the
    same text written raw does, instead of stopping it in SentencePiece's bindings."""
    data = str(tmp_path)
    write_clean(data, "commoncrawl", news()[:150])
    write_ascii_json_shard(data, "commoncrawl", "commoncrawl-00001-of-00002.jsonl.gz",
                           [(f"commoncrawl/half{i}", t) for i, t in enumerate(HALF_EMOJI)])
    lines, drawn = sample.draw(data, {"commoncrawl": 1.0}, 10**7, 4192, 0, 0.0, 0)
    assert drawn[0].documents == 153 and not drawn[0].problems
    assert "Tweet cut mid-emoji \ufffd\ufffd\ufffd and on" in lines and "both \U0001F600 whole" in lines
    info = train.run(data, dataclasses.replace(CFG, vocab_size=400, heldout_fraction=0.0))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(data, "tokenizer", "tokenizer.model"))
    assert info["vocab_size"] == 400 and sp.decode(sp.encode("a \ufffd b")) == "a \ufffd b"


def test_a_huge_held_out_document_is_cut_to_the_report_budget(tmp_path):
    """A 3.2M-character document (a whole dump in one record) falling in the held-out slice was kept
    whole, and the report encoded it with both tokenizers: at 200 MB, minutes and many GB."""
    data = str(tmp_path)
    huge = "\n".join(news()) * 9  # ~3.2M characters of real text in one document
    folder = os.path.join(data, "clean", "books")
    os.makedirs(folder)
    write_clean(data, "books", [huge])  # shard 00000 of 1 is read first
    os.rename(os.path.join(folder, "books-00000-of-00001.jsonl.gz"), os.path.join(folder, "books-00000-of-00002.jsonl.gz"))
    write_clean(data, "books", novel_chapters())
    os.rename(os.path.join(folder, "books-00000-of-00001.jsonl.gz"), os.path.join(folder, "books-00001-of-00002.jsonl.gz"))
    _, drawn = sample.draw(data, {"books": 1.0}, 10**5, 4192, 0, 1.0, 50_000)
    info = drawn[0]
    assert len(huge) > 2_000_000 and info.heldout[0] == huge[:50_000]
    assert info.heldout_chars == sum(map(len, info.heldout)) == 50_000 and info.documents == 0


def test_vocab_too_large_for_uint16_shards_stops_before_training(trained, tmp_path):
    """A 100k vocabulary trained for as long as it takes, then `make tokens` refused it (uint16
    shards): the tokenizer now refuses it first, through the command line too."""
    with pytest.raises(ValueError, match="uint16.*at most 65,536 pieces"):
        train.run(trained[0], dataclasses.replace(CFG, vocab_size=100_000), str(tmp_path))
    assert not os.path.exists(tmp_path / "tokenizer.model")
    assert train.main(["--data", trained[0], "--output", str(tmp_path), "--vocab-size", "100000"]) == 2
