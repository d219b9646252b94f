"""The trainer: exact resume after SIGKILL, 2 processes = 1, data order, schedule, logging."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from tests.fixtures.training import (
    SEQ,
    one_thread,  # noqa: F401 (fixture)
    tiny_config,
    write_tokens,
)
from training import checkpoint, runtime
from training.config import FLAVORS, ModelArgs
from training.data import TokenStream, validation_streams
from training.model import Transformer
from training.optim import build_optimizer, learning_rate, warmup_steps
from training.train import train

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_metrics(run_dir: str) -> list[dict]:
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def cli(data: str, runs: str) -> list[str]:
    return [sys.executable, "-m", "training.train", "--model", "tiny", "--run", "r", "--data", data,
            "--runs-dir", runs, "--steps", "20", "--ckpt-every", "3", "--eval-every", "3", "--eval-batches", "1",
            "--dim", "64", "--n-layers", "2", "--n-heads", "4", "--batch-tokens", str(4 * SEQ), "--micro-batch", "2",
            "--warmup-steps", "3", "--lr", "0.003", "--no-tensorboard", "--no-export"]


def test_sigkill_then_resume_gives_bitwise_the_same_losses(tmp_path):
    data = str(tmp_path / "data")
    write_tokens(data)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    whole = subprocess.run(cli(data, str(tmp_path / "whole")), cwd=ROOT, env=env, capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    runs = str(tmp_path / "killed")
    proc = subprocess.Popen(cli(data, runs), cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("step 8/"):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL  # really killed mid-run, not finished
    ckpt_dir = os.path.join(runs, "r", "checkpoints")
    os.makedirs(os.path.join(ckpt_dir, "step-00000099"))  # a checkpoint whose write never finished
    resumed = subprocess.run(cli(data, runs), cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    match = re.search(r"resumed from \S+ \(step (\d+),", resumed.stdout)
    assert match and 6 <= int(match.group(1)) < 20  # from a mid-run checkpoint (6, or 9 on a slow machine)
    expected, got = read_metrics(str(tmp_path / "whole" / "r")), read_metrics(os.path.join(runs, "r"))
    assert [r["step"] for r in got if "loss" in r] == list(range(1, 21))
    for key in ("loss", "grad_norm", "lr", "val_loss"):  # bitwise: float equality, no tolerance
        assert [(r["step"], r[key]) for r in got if key in r] == [(r["step"], r[key]) for r in expected if key in r]
    assert [s for s, _ in checkpoint.checkpoints(ckpt_dir)] == [18, 20]  # two newest kept


def _worker(rank: int, world: int, port: int, data: str, runs: str, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    rows = train(tiny_config(data, runs, run="dp", micro_batch=2, steps=4, eval_every=2))
    torch.distributed.destroy_process_group()
    if rank == 0:
        with open(out, "w") as f:
            json.dump(rows, f)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_fsdp_gloo_match_one_process(tmp_path):
    data = str(tmp_path / "data")
    write_tokens(data)
    out = str(tmp_path / "two.json")
    mp.spawn(_worker, args=(2, _free_port(), data, str(tmp_path / "two"), out), nprocs=2)
    with open(out) as f:
        two = json.load(f)
    # One process, the same global batch of 4 sequences (2 per micro-batch, 2 accumulated).
    one = train(tiny_config(data, str(tmp_path / "one"), run="dp", micro_batch=2, steps=4, eval_every=2))
    assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], abs=2e-5)
    assert [r["grad_norm"] for r in two] == pytest.approx([r["grad_norm"] for r in one], rel=1e-4)
    val_two = [r["val_losses"] for r in read_metrics(str(tmp_path / "two" / "dp")) if "val_loss" in r]
    val_one = [r["val_losses"] for r in read_metrics(str(tmp_path / "one" / "dp")) if "val_loss" in r]
    assert len(val_two) == len(val_one) == 2
    for a, b in zip(val_two, val_one):
        assert a == pytest.approx(b, abs=2e-5)


def test_training_lowers_the_loss_and_logs_everything(tmp_path):
    data = str(tmp_path / "data")
    write_tokens(data)
    cfg = tiny_config(data, str(tmp_path / "runs"), steps=25, lr=1e-2, eval_every=5, tensorboard=True)
    rows = train(cfg)
    assert np.mean([r["loss"] for r in rows[-5:]]) < rows[0]["loss"] - 0.5
    metrics = read_metrics(str(tmp_path / "runs" / "t"))
    step_rows = [r for r in metrics if "loss" in r]
    assert all({"step", "loss", "lr", "tokens_per_s", "grad_norm"} <= r.keys() for r in step_rows)
    evals = [r for r in metrics if "val_loss" in r]
    assert [r["step"] for r in evals] == [5, 10, 15, 20, 25]
    assert set(evals[0]["val_losses"]) == {"alpha", "beta"}
    assert evals[-1]["val_loss"] < evals[0]["val_loss"]
    tb = os.listdir(tmp_path / "runs" / "t" / "tb")
    assert any(name.startswith("events.out.tfevents") for name in tb)


def test_resuming_a_run_with_another_model_shape_stops_with_a_clear_error(tmp_path):
    data = str(tmp_path / "data")
    write_tokens(data)
    train(tiny_config(data, str(tmp_path / "runs"), steps=2))
    with pytest.raises(SystemExit, match=r"holds another model \(dim 64 there, 96 here\).*another --run"):
        train(tiny_config(data, str(tmp_path / "runs"), steps=4, dim=96))
    assert len(train(tiny_config(data, str(tmp_path / "runs"), steps=4))) == 2  # same shape: resumes at 2


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    data = str(tmp_path / "data")
    write_tokens(data)
    big = train(tiny_config(data, str(tmp_path / "a"), micro_batch=4, steps=3, eval_every=0))
    accumulated = train(tiny_config(data, str(tmp_path / "b"), micro_batch=1, steps=3, eval_every=0))
    assert [r["loss"] for r in accumulated] == pytest.approx([r["loss"] for r in big], abs=1e-5)


def test_token_stream_reads_windows_across_shards_and_wraps(tmp_path):
    a, b = np.arange(0, 10, dtype=np.uint16), np.arange(100, 107, dtype=np.uint16)
    a.tofile(tmp_path / "train-00000.bin")
    b.tofile(tmp_path / "train-00001.bin")
    stream = TokenStream.train(str(tmp_path), seq_len=2)  # windows of 3 tokens
    assert len(stream) == 3 + 2
    assert [stream.window(i).tolist() for i in range(6)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [100, 101, 102],
                                                              [103, 104, 105], [0, 1, 2]]
    inputs, targets = stream.batch(3, 2)
    assert inputs.tolist() == [[100, 101], [103, 104]] and targets.tolist() == [[101, 102], [104, 105]]
    assert inputs.dtype == torch.int64
    (tmp_path / "val").mkdir()
    np.arange(5, dtype=np.uint16).tofile(tmp_path / "val" / "books.bin")
    np.arange(2, dtype=np.uint16).tofile(tmp_path / "val" / "tiny.bin")  # shorter than one window
    assert list(validation_streams(str(tmp_path), 2)) == ["books"]


def test_schedule_warms_up_then_decays_to_a_tenth():
    total, peak = 100_000, 3e-4
    warm = warmup_steps(2000, total)
    assert warm == 2000  # the paper's warm-up
    assert learning_rate(0, peak, warm, total, 0.1) == pytest.approx(peak / 2000)
    assert learning_rate(1999, peak, warm, total, 0.1) == pytest.approx(peak)
    assert learning_rate(total - 1, peak, warm, total, 0.1) == pytest.approx(0.1 * peak, rel=1e-6)
    mid = learning_rate(warm + (total - warm) // 2, peak, warm, total, 0.1)
    assert mid == pytest.approx(0.1 * peak + 0.9 * peak / 2, rel=1e-4)
    assert warmup_steps(2000, 120) == 12  # a short run still reaches its peak and decays


def test_weight_decay_on_weights_not_on_norms():
    model = Transformer(ModelArgs(dim=32, n_layers=2, n_heads=2, vocab_size=64, multiple_of=16))
    opt = build_optimizer(model, 1e-3, 0.1, (0.9, 0.95))
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for g in opt.param_groups if g["weight_decay"] == 0.1 for p in g["params"]}
    plain = {names[id(p)] for g in opt.param_groups if g["weight_decay"] == 0.0 for p in g["params"]}
    assert plain == {"layers.0.attention_norm.weight", "layers.0.ffn_norm.weight", "layers.1.attention_norm.weight",
                     "layers.1.ffn_norm.weight", "norm.weight"}
    assert {"tok_embeddings.weight", "output.weight", "layers.1.feed_forward.w2.weight"} <= decayed
    assert opt.defaults["betas"] == (0.9, 0.95) and not math.isnan(opt.defaults["lr"])


def test_dry_run_prints_the_paper_sizes(capsys):
    from training.train import main

    assert main(["--model", "65b", "--dry-run", "--gpus", "64"]) == 0
    out = capsys.readouterr().out
    assert "65,285,660,672 (65.29B)" in out
    assert "memory per GPU on 64 GPUs" in out and "FLOPs per token" in out
    # 12 bytes a parameter in the sharded checkpoint: 783.4 GB, 12.24 GB a GPU, 12 s at 1 GB/s each.
    assert "checkpoint: 783.4 GB on disk (fp32 weights + 2 AdamW moments), 12.24 GB a GPU; about 12 s" in out


def test_batch_shapes_follow_the_data_and_the_flavor(tmp_path):
    from training.config import TrainConfig

    write_tokens(str(tmp_path), seq_len=2048, vocab=300, sequences=2)  # mix.json: seq_len 2048
    tiny = TrainConfig(model="tiny", data=str(tmp_path))
    args, seq_len, stream = runtime.shapes(tiny, str(tmp_path / "tokens"))
    assert (seq_len, args.vocab_size) == (256, 300)  # capped at tiny's context; vocab from mix.json
    assert len(stream) == 2 * (2049 // 257)  # two shards of one 2049-token sequence, 7 windows each
    # 7b: 4M tokens a step = 2048 sequences of 2048; 8 per forward on each of 64 GPUs, 4 accumulated.
    b = runtime.batching(TrainConfig(model="7b", micro_batch=8), 2048, world=64)
    assert (b.global_seqs, b.micro, b.accum) == (2048, 8, 4)
    b = runtime.batching(TrainConfig(model="tiny", micro_batch=8), 256, world=1)
    assert (b.global_seqs, b.micro, b.accum) == (16, 8, 2)


def test_a_model_too_big_for_the_host_stops_with_a_clear_error_before_allocating():
    args = FLAVORS["7b"].model
    cpu = runtime.Dist(device=torch.device("cpu"))
    with pytest.raises(SystemExit, match=r"6\.74B parameters need 100\.\d GiB .*--n-layers"):
        runtime.check_memory(args, cpu, available=24 * 2**30)
    runtime.check_memory(FLAVORS["tiny"].model, cpu, available=24 * 2**30)  # fits: no error
    # On GPUs the state is sharded: 8 x 80 GB hold 7B (12.6 GiB each), one does not.
    gpu8 = runtime.Dist(rank=0, world=8, device=torch.device("cuda", 0))
    runtime.check_memory(args, gpu8, available=80 * 10**9)
    with pytest.raises(SystemExit, match="per GPU"):
        runtime.check_memory(args, runtime.Dist(world=1, device=torch.device("cuda", 0)), available=80 * 10**9)


def _mix(data: str, **changes) -> dict:
    path = os.path.join(data, "tokens", "mix.json")
    with open(path) as f:
        mix = json.load(f) | changes
    with open(path, "w") as f:
        json.dump(mix, f)
    return mix


def test_shards_cut_short_or_missing_stop_with_a_clear_error(tmp_path):
    """A shard cut mid-token (odd size) used to read as "no token shards: run make tokens"; one cut
    on a block boundary, or missing, trained on less data without a word. mix.json says the sizes."""
    data = str(tmp_path / "data")
    tokens = write_tokens(data)
    sizes = {f: os.path.getsize(os.path.join(tokens, f)) for f in ("train-00000.bin", "train-00001.bin")}
    _mix(data, shards=[{"file": f, "tokens": n // 2} for f, n in sizes.items()])
    shard = os.path.join(tokens, "train-00001.bin")
    with open(shard, "r+b") as f:
        f.truncate(4097)
    with pytest.raises(SystemExit, match=r"train-00001\.bin: 4,097 bytes, not a whole number of uint16 tokens"):
        train(tiny_config(data, str(tmp_path / "runs")))
    with open(shard, "r+b") as f:
        f.truncate(4096)
    with pytest.raises(SystemExit, match=r"train-00001\.bin: 4,096 bytes, but mix\.json lists 6,600 bytes"):
        train(tiny_config(data, str(tmp_path / "runs")))
    os.remove(shard)
    with pytest.raises(SystemExit, match=r"train-00001\.bin: missing"):
        train(tiny_config(data, str(tmp_path / "runs")))
    with open(os.path.join(tokens, "val", "beta.bin"), "ab") as f:  # a validation split cut mid-token
        f.write(b"\x01")
    os.remove(os.path.join(tokens, "mix.json"))
    with pytest.raises(SystemExit, match=r"val/beta\.bin: 529 bytes, not a whole number"):
        train(tiny_config(data, str(tmp_path / "runs")))


def test_seq_len_longer_than_every_shard_names_the_flag(tmp_path):
    data = str(tmp_path / "data")
    write_tokens(data)
    with pytest.raises(SystemExit, match=r"no shard holds one window of seq_len \+ 1 = 4001 tokens.*--seq-len"):
        train(tiny_config(data, str(tmp_path / "runs"), seq_len=4000))


def test_token_ids_past_the_vocabulary_stop_with_a_clear_error(tmp_path):
    """Shards from a bigger tokenizer than the model's vocabulary: the embedding lookup failed deep
    inside the model (IndexError on CPU, a device-side assert on GPU); now the shard is named."""
    data = str(tmp_path / "data")
    tokens = write_tokens(data)
    shard = np.fromfile(os.path.join(tokens, "train-00000.bin"), dtype="<u2")
    shard[5 * (SEQ + 1) + 3] = 900  # window 5: the second step's batch
    shard.tofile(os.path.join(tokens, "train-00000.bin"))
    with pytest.raises(ValueError, match=r"train-00000\.bin: token id 900 in window 5, but the model's "
                                         r"vocabulary has 512 ids"):
        train(tiny_config(data, str(tmp_path / "runs")))
    with pytest.raises(SystemExit, match=r"--vocab-size 256 is smaller than the 512 ids"):
        train(tiny_config(data, str(tmp_path / "runs2"), vocab_size=256))


def test_shards_of_another_tokenizer_than_data_tokenizer_stop(tmp_path):
    """`make tokenizer` rerun after `make tokens`: the shards' ids mean other pieces, and the
    export would ship the new tokenizer with a model trained on the old one's ids."""
    import hashlib

    data = str(tmp_path / "data")
    write_tokens(data)
    os.makedirs(os.path.join(data, "tokenizer"))
    model = os.path.join(data, "tokenizer", "tokenizer.model")
    with open(model, "wb") as f:
        f.write(b"the retrained model")
    _mix(data, tokenizer_sha256=hashlib.sha256(b"the model the shards were written with").hexdigest())
    with pytest.raises(SystemExit, match=r"written with tokenizer sha256 .* but .*tokenizer\.model is .*rerun `make tokens`"):
        train(tiny_config(data, str(tmp_path / "runs")))
    _mix(data, tokenizer_sha256=hashlib.sha256(b"the retrained model").hexdigest())
    assert len(train(tiny_config(data, str(tmp_path / "runs"), steps=2, eval_every=0))) == 2
