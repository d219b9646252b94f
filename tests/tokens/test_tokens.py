"""Token shards at mixture weights (issue 10): the real job on real-text fixtures, checked against
an independent re-encoding of every source."""

from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from pipeline.files import stable_hash64
from sources import table1
from tests.fixtures.tokens import ROOT, build_corpus, news, write_ascii_json_shard, write_clean
from tokenizer import BOS_ID, corpus, train
from tokenizer.encode import Encoder
from tokens import mixture
from tokens import run as tokens

SEQ_LEN = 64
SEQ = SEQ_LEN + 1
BEAM = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]
CFG = tokens.TokensConfig(seq_len=SEQ_LEN, shard_tokens=SEQ * 40, val_tokens=300, buckets=3)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    data = str(tmp_path_factory.mktemp("tokens_data"))
    build_corpus(data)
    train.run(data, train.TokenizerConfig(vocab_size=400, sample_chars=120_000, num_threads=1))
    return data


@pytest.fixture(scope="session")
def mixed(corpus_dir):
    return tokens.run(corpus_dir, CFG, BEAM), os.path.join(corpus_dir, "tokens")


def source_sequences(data: str, mix: dict, seed: int = 0) -> dict[bytes, str]:
    """Each source's training sequences, rebuilt independently: encode every document, order by
    the seeded id hash, drop the held-out documents, cut into SEQ-token sequences."""
    enc = Encoder(os.path.join(data, "tokenizer", "tokenizer.model"))
    owner = {}
    for name in mix["sources"]:
        docs = sorted((stable_hash64(f"{seed}/{d['id']}"), d["id"], d["text"])
                      for p in corpus.shard_files(data, name) for d in corpus.iter_docs(p))
        docs = docs[mix["val"][name]["documents"]:]
        stream = enc.encode_concat([t for _, _, t in docs])
        for i in range(len(stream) // SEQ):
            owner[stream[i * SEQ:(i + 1) * SEQ].tobytes()] = name
    return owner


def shard_sources(out: str, mix: dict, owner: dict[bytes, str]) -> list[list[str]]:
    shards = []
    for shard in mix["shards"]:
        rows = np.fromfile(os.path.join(out, shard["file"]), dtype="<u2").reshape(-1, SEQ)
        shards.append([owner[r.tobytes()] for r in rows])  # KeyError: a sequence from nowhere
    return shards


def test_every_shard_within_one_sequence_of_target(corpus_dir, mixed):
    mix, out = mixed
    shards = shard_sources(out, mix, source_sequences(corpus_dir, mix))
    weights = {n: s["proportion_asked"] for n, s in mix["sources"].items()}
    assert len(shards) > 5
    for names in shards:
        counts = collections.Counter(names)
        for name, w in weights.items():
            assert abs(counts[name] - w * len(names)) < 1.0
    stream = [n for names in shards for n in names]  # every prefix: within two sequences
    seen = collections.Counter()
    for i, name in enumerate(stream, 1):
        seen[name] += 1
        assert all(abs(seen[n] - w * i) < 2.0 for n, w in weights.items())


def test_mix_json_accounts_for_the_stream(corpus_dir, mixed):
    mix, out = mixed
    assert mix["seq_len"] == SEQ_LEN and mix["vocab_size"] == 400
    assert mix["tokenizer_sha256"] == Encoder(os.path.join(corpus_dir, "tokenizer", "tokenizer.model")).sha256
    assert set(mix["skipped_sources"]) == {"c4", "arxiv", "stackexchange"}
    cc = mix["sources"]["commoncrawl"]  # default length: CommonCrawl seen 1.10 times
    assert cc["epochs"] == pytest.approx(1.10, abs=1.0 / cc["sequences_available"])
    assert sum(s["sequences_drawn"] for s in mix["sources"].values()) == mix["total_sequences"]
    assert sum(s["tokens"] for s in mix["shards"]) == mix["total_tokens"]
    for shard in mix["shards"]:
        assert os.path.getsize(os.path.join(out, shard["file"])) == 2 * shard["tokens"]
    for name, val in mix["val"].items():
        data = np.fromfile(os.path.join(out, val["file"]), dtype="<u2")
        assert len(data) == val["tokens"] and len(data) % SEQ == 0 and len(data) > 0
        assert data[0] == BOS_ID  # starts at a document


def test_tiny_source_repeats_with_fresh_shuffles(corpus_dir, tmp_path):
    """A tiny source at a high weight is seen many times: each epoch is a full pass, in a new order."""
    data = str(tmp_path)
    for name in ("commoncrawl", "tokenizer"):
        src = os.path.join(corpus_dir, "clean" if name != "tokenizer" else "", name)
        os.symlink(src, os.path.join(data, name) if name == "tokenizer" else _mkdir(data, "clean", name))
    write_clean(data, "arxiv", sorted(news(), key=len)[:4])  # four short articles
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"commoncrawl": 0.7, "arxiv": 0.3}))
    cfg = dataclasses.replace(CFG, weights=str(weights), val_tokens=0, total_tokens=SEQ * 400)
    mix = tokens.run(data, cfg, BEAM)
    arxiv = mix["sources"]["arxiv"]
    n, drawn = arxiv["sequences_available"], arxiv["sequences_drawn"]
    assert drawn == 120 and arxiv["proportion_realised"] == pytest.approx(0.3) and n < 30
    assert arxiv["epochs"] == pytest.approx(drawn / n, abs=1e-4)
    owner = source_sequences(data, mix)
    stream = [r.tobytes() for s in mix["shards"]
              for r in np.fromfile(os.path.join(data, "tokens", s["file"]), dtype="<u2").reshape(-1, SEQ)]
    ax = [r for r in stream if owner[r] == "arxiv"]
    epochs = [ax[i:i + n] for i in range(0, len(ax), n)]
    assert all(len(set(e)) == len(e) for e in epochs)  # no repeat inside an epoch
    assert all(set(e) == set(epochs[0]) for e in epochs[:-1])  # each full epoch is the whole source
    assert len({tuple(e) for e in epochs[:-1]}) == len(epochs) - 1  # a fresh order every epoch


def _mkdir(*parts: str) -> str:
    os.makedirs(os.path.join(*parts[:-1]), exist_ok=True)
    return os.path.join(*parts)


def test_same_inputs_give_byte_identical_files(corpus_dir, mixed, tmp_path):
    mix, _ = mixed
    again = tokens.run(corpus_dir, CFG, BEAM, out=str(tmp_path / "again"))
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in mix["shards"]]
    assert {n: v["sha256"] for n, v in again["val"].items()} == {n: v["sha256"] for n, v in mix["val"].items()}
    other = tokens.run(corpus_dir, dataclasses.replace(CFG, seed=1), BEAM, out=str(tmp_path / "seed1"))
    assert [s["sha256"] for s in other["shards"]] != [s["sha256"] for s in mix["shards"]]


def test_weights_file_overrides_the_paper(corpus_dir, tmp_path):
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"commoncrawl": 1, "books": 1, "wikipedia": 2}))
    cfg = dataclasses.replace(CFG, weights=str(weights), total_tokens=SEQ * 200)
    mix = tokens.run(corpus_dir, cfg, BEAM, out=str(tmp_path / "out"))
    realised = {n: s["proportion_realised"] for n, s in mix["sources"].items()}
    assert realised == {"commoncrawl": 0.25, "books": 0.25, "wikipedia": 0.5}
    assert mix["total_sequences"] == 200 and mix["weights_file"] == str(weights)


def test_empty_or_missing_source_is_named(corpus_dir, tmp_path):
    data = str(tmp_path)
    os.symlink(os.path.join(corpus_dir, "tokenizer"), os.path.join(data, "tokenizer"))
    write_clean(data, "commoncrawl", news()[:50])
    write_clean(data, "c4", [])
    with pytest.raises(ValueError, match="source 'c4' has no documents"):
        tokens.run(data, CFG, BEAM)
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"commoncrawl": 1, "github": 1}))
    with pytest.raises(ValueError, match="source 'github'.*no clean shards"):
        tokens.run(data, dataclasses.replace(CFG, weights=str(weights)), BEAM)


@pytest.mark.parametrize("trial", range(20))
def test_interleaving_rule_bounds(trial):
    rng = random.Random(trial)
    n = rng.randint(2, 8)
    w = np.random.default_rng(trial).dirichlet(np.full(n, 0.5))
    sizes = [rng.randint(5, 150)] * rng.randint(1, 6) + [rng.randint(1, 40)]
    quotas = mixture.shard_quotas(list(w), sizes)
    assert (quotas.sum(axis=1) == sizes).all()
    assert (np.abs(quotas - np.outer(sizes, w)) < 1).all()
    order = np.concatenate([mixture.blend_order(q) for q in quotas])
    counts = np.zeros(n)
    for i, s in enumerate(order, 1):
        counts[s] += 1
        assert (np.abs(counts - w * i) < 2).all()


def test_weights_file_validation(tmp_path):
    path = tmp_path / "w.json"
    for bad, message in [("[1, 2]", "JSON object"), ('{"c4": -1}', "'c4'"), ('{"c4": 0}', "all weights are zero")]:
        path.write_text(bad)
        with pytest.raises(ValueError, match=message):
            table1.load_weights(str(path))
    assert table1.normalise({"a": 3, "b": 1, "c": 4}, ["a", "b"]) == {"a": 0.75, "b": 0.25}
    total, anchor = mixture.default_total_sequences({"commoncrawl": 100, "c4": 50}, {"commoncrawl": 0.8, "c4": 0.2})
    assert anchor == "commoncrawl" and total == 138  # ceil(1.10 * 100 / 0.8)


def test_cli_help():
    out = subprocess.run([sys.executable, "-m", "tokens.run", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "--seq-len" in out and "--total-tokens" in out and "--weights" in out


def test_bad_lines_and_truncated_shards_are_counted_not_fatal(corpus_dir, tmp_path):
    data = str(tmp_path)
    os.symlink(os.path.join(corpus_dir, "tokenizer"), os.path.join(data, "tokenizer"))
    write_clean(data, "commoncrawl", news()[:60])
    raw = gzip.compress(b'not json\n{"id": 7, "text": "no string id"}\n' + b'{"id": "cc/x", "text": "w"}\n' * 20000)
    with open(os.path.join(data, "clean", "commoncrawl", "commoncrawl-00001-of-00002.jsonl.gz"), "wb") as f:
        f.write(raw[: len(raw) // 2])  # cut mid-stream
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"commoncrawl": 1}))
    mix = tokens.run(data, dataclasses.replace(CFG, weights=str(weights)), BEAM)
    cc = mix["sources"]["commoncrawl"]
    assert cc["skipped_lines"] == 2 and cc["unreadable_shards"] == 1
    assert 60 < cc["documents"] < 20060  # the good shard, and the readable part of the cut one


@pytest.mark.parametrize("n", [1, 2, 7, 100, 4097])
def test_epoch_order_is_a_fresh_permutation_both_ways(n, monkeypatch):
    """Small sources use a materialised permutation; big ones a Feistel network computed per
    position (forced here): both must visit every sequence exactly once per epoch."""
    from tokens import layout as token_streams

    orders = []
    for materialised in (1 << 22, 0):
        monkeypatch.setattr(token_streams, "MATERIALISED", materialised)
        for epoch in range(3):
            order = token_streams.epoch_order(5, "books", epoch, n, np.arange(n))
            assert sorted(order.tolist()) == list(range(n))
            orders.append(order.tolist())
    if n > 7:
        assert len({tuple(o) for o in orders}) == len(orders)


def test_lone_surrogate_escapes_are_encoded_not_fatal(corpus_dir, tmp_path):
    """Valid JSON may hold a lone surrogate escape ("\\ud83d"); SentencePiece's encoder raised
    TypeError on it, failing the whole Beam job. The document is encoded with U+FFFD instead."""
    data = str(tmp_path)
    os.symlink(os.path.join(corpus_dir, "tokenizer"), os.path.join(data, "tokenizer"))
    write_clean(data, "commoncrawl", news()[:60])
    texts = ["Tweet cut mid-emoji \ud83d and on " * 40, "low half \ude00 alone " * 40]
    write_ascii_json_shard(data, "commoncrawl", "commoncrawl-00001-of-00002.jsonl.gz",
                           [(f"commoncrawl/half{i}", t) for i, t in enumerate(texts)])
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"commoncrawl": 1}))
    mix = tokens.run(data, dataclasses.replace(CFG, weights=str(weights), val_tokens=0), BEAM)
    assert mix["sources"]["commoncrawl"]["documents"] == 62
    enc = Encoder(os.path.join(data, "tokenizer", "tokenizer.model"))
    repaired = [t.replace("\ud83d", "\ufffd" * 3).replace("\ude00", "\ufffd" * 3) for t in texts]
    assert len(enc.encode_concat(news()[:60] + repaired)) == mix["sources"]["commoncrawl"]["tokens_available"]


def test_rerun_with_fewer_sources_leaves_no_stale_validation_split(corpus_dir, tmp_path):
    """The trainer evaluates every val/*.bin: a source dropped from the mixture since the last run
    must not leave its old split (and maybe an older tokenizer's ids) behind."""
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"commoncrawl": 1, "books": 1}))
    out = str(tmp_path / "tokens")
    tokens.run(corpus_dir, dataclasses.replace(CFG, weights=str(weights)), BEAM, out=out)
    assert sorted(os.listdir(os.path.join(out, "val"))) == ["books.bin", "commoncrawl.bin"]
    weights.write_text(json.dumps({"commoncrawl": 1}))
    mix = tokens.run(corpus_dir, dataclasses.replace(CFG, weights=str(weights)), BEAM, out=out)
    assert sorted(os.listdir(os.path.join(out, "val"))) == ["commoncrawl.bin"] and list(mix["val"]) == ["commoncrawl"]
    from training.data import validation_streams
    assert list(validation_streams(out, SEQ_LEN)) == ["commoncrawl"]


def test_source_whose_job_kept_nothing_stops_before_the_encode_step(corpus_dir, tmp_path, monkeypatch):
    """A source job that kept no document (stats.json documents_out 0, an empty shard) stopped the
    token job only after every other source was encoded: hours wasted at scale. Now up front."""
    data = str(tmp_path)
    os.symlink(os.path.join(corpus_dir, "tokenizer"), os.path.join(data, "tokenizer"))
    write_clean(data, "commoncrawl", news()[:50])
    write_clean(data, "c4", [])
    with open(os.path.join(data, "clean", "c4", "stats.json"), "w") as f:
        json.dump({"source": "c4", "documents_in": 120, "documents_out": 0, "dropped": {"short": 120},
                   "errors": {}, "chars_in": 50_000, "chars_out": 0}, f)

    def encode_ran(*args):
        raise AssertionError("the encode step ran")

    monkeypatch.setattr(tokens, "encode", encode_ran)
    with pytest.raises(ValueError, match=r"source 'c4' has no documents .*stats\.json: documents_out 0"):
        tokens.run(data, CFG, BEAM)


def test_bucket_count_runner_and_workers_change_no_byte(corpus_dir, mixed, tmp_path):
    """Buckets split a source's seeded order where they fall: with 40 buckets per source most
    sequences and the validation slice straddle buckets and are joined from pieces, on two worker
    processes; the files are the same bytes as with 3 buckets in one process."""
    mix, out = mixed
    cfg = dataclasses.replace(CFG, buckets=40)
    beam = ["--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    again = tokens.run(corpus_dir, cfg, beam, out=str(tmp_path / "b40"))
    for name in ["mix.json", *(s["file"] for s in mix["shards"]), *(v["file"] for v in mix["val"].values())]:
        with open(os.path.join(out, name), "rb") as a, open(os.path.join(tmp_path, "b40", name), "rb") as b:
            mine, theirs = a.read(), b.read()
        if name == "mix.json":  # the bucket setting is recorded; nothing else may differ
            mine, theirs = json.loads(mine), json.loads(theirs)
            assert mine["config"].pop("buckets") == 3 and theirs["config"].pop("buckets") == 40
        assert mine == theirs, name
    assert not os.path.exists(os.path.join(tmp_path, "b40", ".work"))  # the buckets are gone
    assert again["worker_peak_rss_mb"] > 0


def test_a_bucket_is_cut_into_whole_sequences_and_pieces():
    from tokens.layout import pieces

    assert pieces(0, 130, 65) == (range(0, 2), [])
    assert pieces(10, 140, 65) == (range(1, 2), [(0, 10, 65), (2, 130, 140)])
    assert pieces(70, 100, 65) == (range(2, 1), [(1, 70, 100)])  # inside one sequence
    assert pieces(60, 70, 65) == (range(1, 1), [(0, 60, 65), (1, 65, 70)])  # across a boundary
    assert pieces(5, 5, 65) == (range(0), [])


def test_token_command_refuses_a_typo_and_a_dead_store(tmp_path, capsys):
    """A flag neither the job nor Beam knows would be dropped by Beam (the job would run without
    the setting); a store that does not answer used to be retried for minutes."""
    from tokens import run as tokens

    assert tokens.main(["--data", str(tmp_path), "--seq_len", "64"]) == 2
    assert "--seq_len (did you mean --seq-len?)" in capsys.readouterr().err
    dead = "--s3_endpoint_url=http://127.0.0.1:9"  # the discard port: nothing answers
    assert tokens.main(["--data", "s3://some-bucket/data", dead, "--s3_access_key_id=x",
                        "--s3_secret_access_key=y", "--s3_region_name=us-east-1"]) == 2
    assert "cannot reach S3 endpoint http://127.0.0.1:9" in capsys.readouterr().err
