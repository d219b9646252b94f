"""Sharded (DCP) checkpoints under torchrun: the README's command, SIGKILL and exact resume on 2
processes, resume on 1 and 4 processes, async saves, and the export from a 2-process checkpoint."""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from pipeline import config as flags
from tests.fixtures.training import SEQ, one_thread, tiny_config, write_tokens  # noqa: F401 (fixture)
from training import checkpoint
from training.config import ModelArgs, TrainConfig
from training.model import Transformer
from training.train import train

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 30  # a step takes milliseconds: enough of them that the kill lands mid-run
TINY = ["--dim", "64", "--n-layers", "2", "--n-heads", "4", "--batch-tokens", str(4 * SEQ), "--micro-batch", "2",
        "--steps", str(STEPS), "--ckpt-every", "3", "--keep-checkpoints", "10", "--eval-every", "3",
        "--eval-batches", "1", "--warmup-steps", "3", "--lr", "0.003", "--no-tensorboard"]


def readme_torchrun() -> list[str]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.startswith("torchrun ")]
    assert lines, "the README shows no torchrun command"
    return lines


def torchrun(nproc: int, data: str, runs: str, *extra: str) -> list[str]:
    """The README's torchrun line as written, on `nproc` CPU processes, for the tiny model:
    the flavor becomes tiny, --compile (minutes on a CPU) is left out, the test's sizes added."""
    words = shlex.split(readme_torchrun()[0])[1:]
    words[words.index("--nproc-per-node") + 1] = str(nproc)
    words[words.index("--model") + 1] = "tiny"
    words = [w for w in words if w != "--compile"]
    return [sys.executable, "-m", "torch.distributed.run", *words, "--data", data, "--runs-dir", runs,
            "--device", "cpu", *TINY, *extra]


def env() -> dict:
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")


def metrics(run_dir: str) -> list[dict]:
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (torchrun starts its workers in sessions of their own)."""
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        found = children.get(todo.pop(), [])
        out += found
        todo += found
    return out


def run_name() -> str:
    words = shlex.split(readme_torchrun()[0])
    return words[words.index("--run-name") + 1]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The README's torchrun command on 2 processes, never interrupted, synchronous saves."""
    root = tmp_path_factory.mktemp("ckpt")
    data = str(root / "data")
    write_tokens(data)
    cmd = [w for w in torchrun(2, data, str(root / "whole")) if w != "--async-checkpoint"]
    done = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return data, os.path.join(root, "whole", run_name())


def test_every_readme_torchrun_line_reaches_the_trainer_intact():
    from torch.distributed.run import get_args_parser

    trainer = argparse.ArgumentParser()
    flags.add_arguments(trainer, TrainConfig)
    for line in readme_torchrun():
        words = shlex.split(line)[1:]
        parsed = get_args_parser().parse_args(words)  # exits on "ambiguous option", as torchrun did
        assert parsed.module and parsed.training_script == "training.train"
        assert parsed.training_script_args == words[words.index("training.train") + 1:]
        trainer.parse_args(parsed.training_script_args)
    # No flag of the trainer is one torchrun takes for its own (a prefix of one of its options),
    # but `--run`, the alias that the README says not to use under torchrun.
    ours = [o for a in trainer._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    theirs = [o for a in get_args_parser()._actions for o in a.option_strings]
    assert [o for o in ours if any(t.startswith(o) for t in theirs)] == ["--run"]


def test_two_processes_killed_and_resumed_give_bitwise_the_same_losses(whole, tmp_path):
    """SIGKILL to every process of a 2-process run (saving asynchronously), then the same
    command: the losses of the run never interrupted, bit for bit; checkpoints are per rank
    and their bytes those of the synchronous saves."""
    data, expected_dir = whole
    runs = str(tmp_path / "killed")
    cmd = torchrun(2, data, runs)
    assert "--async-checkpoint" in cmd
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("step 8/"):
            for pid in [proc.pid, *descendants(proc.pid)]:  # torchrun and its workers, as a node dying
                os.kill(pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ckpt_dir = os.path.join(runs, run_name(), "checkpoints")
    os.makedirs(os.path.join(ckpt_dir, "step-00000099"))  # a checkpoint whose write never finished
    os.makedirs(os.path.join(ckpt_dir, ".tmp-step-00000010"))
    resumed = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    match = re.search(r"resumed from \S+ \(step (\d+),", resumed.stdout)
    assert match and 6 <= int(match.group(1)) < STEPS, resumed.stdout  # a mid-run checkpoint
    got, expected = metrics(os.path.join(runs, run_name())), metrics(expected_dir)
    assert [r["step"] for r in got if "loss" in r] == list(range(1, STEPS + 1))
    for key in ("loss", "grad_norm", "lr", "val_loss"):  # bitwise: float equality, no tolerance
        assert [(r["step"], r[key]) for r in got if key in r] == [(r["step"], r[key]) for r in expected if key in r]
    assert [s for s, _ in checkpoint.checkpoints(ckpt_dir)] == list(range(3, STEPS + 1, 3))
    assert not [n for n in os.listdir(ckpt_dir) if n.startswith(".tmp")]
    for step, path in checkpoint.checkpoints(ckpt_dir):
        names = sorted(os.listdir(path))
        assert names == [".metadata", "__0_0.distcp", "__1_0.distcp", "meta.json", "rng-00000.pt", "rng-00001.pt"]
        sizes = [os.path.getsize(os.path.join(path, f"__{r}_0.distcp")) for r in (0, 1)]
        assert max(sizes) < 0.6 * sum(sizes)  # each rank its half, never the gathered state
        sync = os.path.join(expected_dir, "checkpoints", f"step-{step:08d}")
        # Async bytes == synchronous bytes (the RNG files differ: Python seeds `random` per process).
        assert filecmp.cmpfiles(path, sync, names[1:3], shallow=False)[0] == names[1:3], step


def _resume_elsewhere(whole, tmp_path, step: int) -> tuple[str, str]:
    """A new run folder holding only the 2-process run's checkpoint of `step`."""
    data, whole_dir = whole
    runs = tmp_path / "runs"
    src = os.path.join(whole_dir, "checkpoints", f"step-{step:08d}")
    shutil.copytree(src, runs / run_name() / "checkpoints" / f"step-{step:08d}")
    return data, str(runs)


def test_a_two_process_checkpoint_resumes_on_one_process(whole, tmp_path):
    data, runs = _resume_elsewhere(whole, tmp_path, 6)
    rows = train(tiny_config(data, runs, run=run_name(), micro_batch=2, steps=STEPS, ckpt_every=3, lr=0.003,
                             warmup_steps=3, export=False))
    expected = [r for r in metrics(whole[1]) if "loss" in r]
    assert [r["step"] for r in rows] == list(range(7, STEPS + 1))  # data position and step carried over
    assert [r["loss"] for r in rows] == pytest.approx([r["loss"] for r in expected[6:]], abs=1e-5)
    assert [r["lr"] for r in rows] == [r["lr"] for r in expected[6:]]


def test_a_two_process_checkpoint_resumes_on_four_processes(whole, tmp_path):
    data, runs = _resume_elsewhere(whole, tmp_path, 24)
    done = subprocess.run(torchrun(4, data, runs, "--no-export"), cwd=ROOT, env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(1 x 1 accum x 4 proc)" in done.stdout  # the same global batch of 4 sequences
    got = [r for r in metrics(os.path.join(runs, run_name())) if "loss" in r]
    expected = [r for r in metrics(whole[1]) if "loss" in r]
    assert [r["step"] for r in got] == list(range(25, STEPS + 1))
    assert [r["loss"] for r in got] == pytest.approx([r["loss"] for r in expected[24:]], abs=1e-5)


def test_async_save_writes_the_bytes_of_a_synchronous_one_while_training_goes_on(tmp_path):
    torch.manual_seed(0)
    args = ModelArgs(dim=64, n_layers=2, n_heads=4, vocab_size=128, multiple_of=32, max_seq_len=16)
    model = Transformer(args)
    model.init_weights(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)

    def step():
        model(torch.randint(0, 128, (2, 16)), torch.randint(0, 128, (2, 16))).backward()
        optimizer.step()
        optimizer.zero_grad()

    step()
    rng = torch.get_rng_state()
    sync = checkpoint.save(str(tmp_path / "sync"), 1, model, optimizer, {"data_position": 4})
    torch.set_rng_state(rng)  # both saves record the same RNG state
    saver = checkpoint.Checkpointer(str(tmp_path / "async"), async_save=True)
    path = saver.save(1, model, optimizer, {"data_position": 4})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step()  # changes every weight and moment while the save may still be writing
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    saver.wait()
    names = ["__0_0.distcp", "meta.json", "rng-00000.pt"]
    assert filecmp.cmpfiles(sync, path, names, shallow=False)[0] == names
    fresh = Transformer(args)
    checkpoint.load(path, fresh)
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items())


def test_export_of_a_two_process_checkpoint_matches_transformers(whole, tmp_path):
    from transformers import LlamaForCausalLM

    from training.export import export_checkpoint

    _, whole_dir = whole
    path = checkpoint.latest(os.path.join(whole_dir, "checkpoints"))
    model = Transformer(ModelArgs(**checkpoint.read_meta(path)["model_args"])).eval()
    model.load_state_dict(checkpoint.load_tensors(path, checkpoint.model_names(path)))
    out = export_checkpoint(path, str(tmp_path / "hf"))
    for hf_dir in (out, os.path.join(whole_dir, "hf")):  # exported here, and by the run at its end
        hf = LlamaForCausalLM.from_pretrained(hf_dir, attn_implementation="sdpa", dtype=torch.float32).eval()
        ids = torch.randint(0, model.args.vocab_size, (2, SEQ), generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            assert (hf(ids).logits - model(ids)).abs().max() < 1e-5
    shards = sorted(n for n in os.listdir(out) if n.endswith(".safetensors"))
    assert len(shards) == model.args.n_layers + 2  # embedding, one per block, norm + head


def test_the_export_reads_one_layer_at_a_time(whole, tmp_path):
    from training.export import export

    path = checkpoint.latest(os.path.join(whole[1], "checkpoints"))
    args = ModelArgs(**checkpoint.read_meta(path)["model_args"])
    reads = []

    def fetch(names):
        reads.append(names)
        return checkpoint.load_tensors(path, names)

    export(fetch, args, str(tmp_path / "hf"))
    assert sorted(n for names in reads for n in names) == sorted(checkpoint.model_names(path))
    assert max(len(names) for names in reads) == 9  # one block's weights and norms at most


KILLED_DURING_ASYNC_SAVE = """
import os, signal, sys, torch
from training import checkpoint
from training.config import ModelArgs
from training.model import Transformer
model = Transformer(ModelArgs(dim=256, n_layers=4, n_heads=8, vocab_size=8000, multiple_of=32, max_seq_len=16))
saver = checkpoint.Checkpointer(sys.argv[1], async_save=True)
saver.save(1, model, torch.optim.AdamW(model.parameters()), {})  # ~80 MB, still being written
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_during_an_async_save_no_checkpoint_looks_complete(tmp_path):
    ckpt_dir = str(tmp_path / "checkpoints")
    killed = subprocess.run([sys.executable, "-c", KILLED_DURING_ASYNC_SAVE, ckpt_dir], cwd=ROOT, env=env(),
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert os.listdir(ckpt_dir) == [".tmp-step-00000001"]  # killed mid-write: only the temporary folder
    assert checkpoint.checkpoints(ckpt_dir) == [] and checkpoint.latest(ckpt_dir) is None
    model = Transformer(ModelArgs(dim=32, n_layers=1, n_heads=2, vocab_size=64, multiple_of=32, max_seq_len=8))
    checkpoint.save(ckpt_dir, 2, model, torch.optim.AdamW(model.parameters()), {})
    assert os.listdir(ckpt_dir) == ["step-00000002"]  # the next save cleared the leftover


def test_a_checkpoint_of_the_gathered_format_stops_the_resume_with_a_clear_message(tmp_path):
    old = tmp_path / "checkpoints" / "step-00000004"
    old.mkdir(parents=True)
    torch.save({"step": 4}, old / "state.pt")
    with pytest.raises(SystemExit, match=r"step-00000004 is a checkpoint of an earlier version .*not read any more"):
        checkpoint.latest(str(tmp_path / "checkpoints"))
