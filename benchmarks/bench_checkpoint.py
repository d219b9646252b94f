"""Checkpoints on 2 CPU processes (gloo, FSDP2): sharded DCP saves beside a gathered torch.save.

The same model and AdamW state, saved and loaded both ways in one run: ours (`training.checkpoint`:
each rank writes its own shards through torch.distributed.checkpoint) and the gathered save of
earlier versions (the full model and both moments gathered onto rank 0, one `torch.save`, every
other rank waiting). Reported: save and load seconds (slowest rank), rank 0's peak host memory
above its resident set before the operation, and the step time of a loop that saves every other
step, with and without `--async-checkpoint`. Each measurement runs in fresh processes, so a peak
is that operation's own.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from benchmarks.common import Row
from training import checkpoint
from training.config import ModelArgs
from training.model import Transformer


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(args: ModelArgs):
    from torch.distributed.fsdp import fully_shard

    model = Transformer(args)
    model.init_weights(0)
    for layer in model.layers:
        fully_shard(layer)
    fully_shard(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    _step(model, optimizer, args)
    return model, optimizer


def _step(model, optimizer, args: ModelArgs) -> None:
    tokens = torch.randint(0, args.vocab_size, (1, 33), generator=torch.Generator().manual_seed(dist.get_rank()))
    model(tokens[:, :-1], tokens[:, 1:]).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _gathered_save(path: str, model, optimizer) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_state, optim_state = get_state_dict(model, optimizer, options=options)
    if dist.get_rank() == 0:
        os.makedirs(path, exist_ok=True)
        torch.save({"model": model_state, "optimizer": optim_state}, os.path.join(path, "state.pt"))
    dist.barrier()


def _gathered_load(path: str, model, optimizer) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    state = torch.load(os.path.join(path, "state.pt"), map_location="cpu", weights_only=False, mmap=True)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"],
                   options=StateDictOptions(full_state_dict=True))


def _measure(fn) -> tuple[float, float]:
    """(seconds on the slowest rank, rank 0's peak MB above its resident set before)."""
    dist.barrier()
    before, start = _rss_mb(), time.perf_counter()
    fn()
    seconds = torch.tensor(time.perf_counter() - start)
    dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
    return float(seconds), max(0.0, _peak_mb() - before)


def _worker(rank: int, port: int, args: ModelArgs, mode: str, folder: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    model, optimizer = _setup(args)
    result = {}
    if mode in ("gathered", "dcp"):
        if mode == "gathered":
            save, load = (lambda: _gathered_save(folder, model, optimizer)), \
                (lambda: _gathered_load(folder, model, optimizer))
        else:
            save = lambda: checkpoint.save(folder, 1, model, optimizer, {})  # noqa: E731
            load = lambda: checkpoint.load(os.path.join(folder, "step-00000001"), model, optimizer)  # noqa: E731
        result["save"] = _measure(save)
        result["load"] = _measure(load)
    else:  # a loop saving every other step, synchronously or not
        saver = checkpoint.Checkpointer(folder, keep=1, async_save=mode == "async")
        steps = 6
        start = time.perf_counter()
        for i in range(1, steps + 1):
            _step(model, optimizer, args)
            if i % 2 == 0:
                saver.save(i, model, optimizer, {})
        saver.wait()
        result["step"] = (time.perf_counter() - start) / steps
    if rank == 0:
        with open(out, "w") as f:
            json.dump(result, f)
    dist.destroy_process_group()


def _spawn(args: ModelArgs, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        out = os.path.join(tmp, "out.json")
        try:
            mp.spawn(_worker, args=(port, args, mode, os.path.join(tmp, "ckpt"), out), nprocs=2)
        except mp.ProcessExitedException as exc:
            raise RuntimeError(f"{mode} checkpoints: {exc}") from None
        with open(out) as f:
            return json.load(f)


def run(quick: bool) -> list[Row]:
    args = ModelArgs(dim=512, n_layers=4, n_heads=8, vocab_size=8000, max_seq_len=64) if quick else \
        ModelArgs(dim=1024, n_layers=12, n_heads=16, vocab_size=32000, max_seq_len=64)
    results = {mode: _spawn(args, mode) for mode in ("gathered", "dcp", "sync", "async")}
    size = f"{args.num_params() / 1e6:.0f}M parameters, fp32 weights + 2 AdamW moments " \
           f"({12 * args.num_params() / 2**20:.0f} MB), 2 gloo processes, local disk"
    ours, peer = results["dcp"], results["gathered"]
    return [
        Row("checkpoint save (2 proc)", "s", ours["save"][0], "gathered torch.save", peer["save"][0], False, size),
        Row("checkpoint load (2 proc)", "s", ours["load"][0], "gathered torch.load", peer["load"][0], False, size),
        Row("checkpoint save, rank 0 peak", "MB above RSS", ours["save"][1], "gathered torch.save",
            peer["save"][1], False, "peak host memory of rank 0 during the save"),
        Row("checkpoint load, rank 0 peak", "MB above RSS", ours["load"][1], "gathered torch.load",
            peer["load"][1], False, "peak host memory of rank 0 during the load"),
        Row("step with a save every 2nd step", "s/step", results["async"]["step"], "synchronous save",
            results["sync"]["step"], False, "--async-checkpoint beside the default; batch 1x32 tokens"),
    ]
