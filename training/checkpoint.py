"""Checkpoints written atomically, and the newest one found again after a crash.

A checkpoint is a folder `runs/<run>/checkpoints/step-00000042/` holding `state.pt`: the model,
the optimiser (keyed by parameter name, so it loads at any process count), the step, the data
position and every process's RNG states. It is written under a temporary name and renamed
into place, so a run killed at any instant (SIGKILL included) leaves either the whole
checkpoint or none of it (the temp-then-rename rule of nanochat's `dataset.py`).
"""

from __future__ import annotations

import os
import random
import re
import shutil

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict

_NAME = re.compile(r"^step-(\d{8})$")


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(ckpt_dir: str, step: int, model, optimizer, extra: dict, keep: int = 2) -> str | None:
    """Collective under torch.distributed (every rank calls it); rank 0 writes. Returns the path."""
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_state, optim_state = get_state_dict(model, optimizer, options=options)
    rngs = [None] * dist.get_world_size() if dist.is_initialized() else None
    if dist.is_initialized():
        dist.all_gather_object(rngs, rng_state())
    else:
        rngs = [rng_state()]
    path = None
    if _rank() == 0:
        os.makedirs(ckpt_dir, exist_ok=True)
        path = os.path.join(ckpt_dir, f"step-{step:08d}")
        tmp = os.path.join(ckpt_dir, f".tmp-step-{step:08d}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        state = {"step": step, "model": model_state, "optimizer": optim_state, "rng": rngs, **extra}
        torch.save(state, os.path.join(tmp, "state.pt"))
        _fsync_dir(tmp)
        if os.path.exists(path):  # a rerun of the same step: replace it whole
            shutil.rmtree(path)
        os.rename(tmp, path)
        _fsync_dir(ckpt_dir)
        _prune(ckpt_dir, keep)
    if dist.is_initialized():
        dist.barrier()
    return path


def _fsync_dir(path: str) -> None:
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoints(ckpt_dir: str) -> list[tuple[int, str]]:
    """Complete checkpoints, oldest first (temporary folders of interrupted writes are ignored)."""
    if not os.path.isdir(ckpt_dir):
        return []
    found = []
    for name in os.listdir(ckpt_dir):
        match = _NAME.match(name)
        if match and os.path.exists(os.path.join(ckpt_dir, name, "state.pt")):
            found.append((int(match.group(1)), os.path.join(ckpt_dir, name)))
    return sorted(found)


def latest(ckpt_dir: str) -> str | None:
    found = checkpoints(ckpt_dir)
    return found[-1][1] if found else None


def _prune(ckpt_dir: str, keep: int) -> None:
    for _, path in checkpoints(ckpt_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(path, ignore_errors=True)
    for name in os.listdir(ckpt_dir):  # leftovers of writes killed half-way
        if name.startswith(".tmp-step-") and not name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(os.path.join(ckpt_dir, name), ignore_errors=True)


def load(path: str, model, optimizer=None, model_args: dict | None = None) -> dict:
    """Restores model (+ optimiser) in place, and this rank's RNG; returns the rest of the state.
    With `model_args`, a checkpoint of another shape stops the run with a clear message."""
    state = torch.load(os.path.join(path, "state.pt"), map_location="cpu", weights_only=False, mmap=True)
    saved = state.get("model_args")
    if model_args is not None and saved is not None and saved != model_args:
        diff = ", ".join(f"{k} {saved.get(k)} there, {v} here" for k, v in model_args.items() if saved.get(k) != v)
        raise SystemExit(f"{path} holds another model ({diff}): give this run another --run name, "
                         f"or the same model settings to resume it")
    options = StateDictOptions(full_state_dict=True)
    if optimizer is None:
        set_state_dict(model, optimizers=(), model_state_dict=state["model"], optim_state_dict={},
                       options=options)
    else:
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"],
                       options=options)
    rngs = state["rng"]
    set_rng_state(rngs[_rank()] if _rank() < len(rngs) else rngs[0])
    return {k: v for k, v in state.items() if k not in ("model", "optimizer", "rng")}

