"""Sharded checkpoints (torch.distributed.checkpoint), written atomically, found again after a crash.

A checkpoint is a folder `runs/<run>/checkpoints/step-00000042/` in DCP's layout: every process
writes its own shards of the model and the AdamW moments (`__<rank>_0.distcp`, no gather onto one
process), rank 0 the index (`.metadata`); beside them each process's RNG states
(`rng-<rank>.pt`) and `meta.json` (step, data position, process count, config, model shape).
Tensors are keyed by parameter name, so DCP reshards on load: a checkpoint written by N
processes resumes on M. All of it is written under `.tmp-step-00000042/` and renamed into
place once complete (`meta.json` last), so a run killed at any instant (SIGKILL, during an
async save too) leaves either the whole checkpoint or none of it. Checkpoints of earlier
versions (one gathered `state.pt`) are not read: resuming such a run stops and says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import threading
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import FileSystemReader, FileSystemWriter
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

_NAME = re.compile(r"^step-(\d{8})$")
META, INDEX = "meta.json", ".metadata"


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


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


@contextlib.contextmanager
def _quiet():
    """DCP warns "assuming the intent is to save/load in a single process" without a process
    group: that is the intent of a one-process run, the export and --sample."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*assuming the intent is to", category=UserWarning)
        yield


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Checkpointer:
    """Saves a run's checkpoints; collective under torch.distributed (every rank calls `save`).

    With `async_save`, `save` returns once this rank's state is copied to host memory and the
    files are written by a background thread (DCP's `async_save`, over a gloo group of its own so
    its collectives never interleave with training's); the next `save`, and `wait`, wait for it."""

    def __init__(self, ckpt_dir: str, keep: int = 2, async_save: bool = False):
        self.dir, self.keep, self.async_save = ckpt_dir, keep, async_save
        self.pending = None  # (future, tmp, path, meta) of the save in flight
        self.lock = threading.Lock()
        self.group = dist.new_group(backend="gloo") if async_save and dist.is_initialized() else None

    def save(self, step: int, model, optimizer, extra: dict) -> str:
        """Writes step-NNNNNNNN/ (or starts writing it, with async_save); returns its path."""
        self.wait()
        path = os.path.join(self.dir, f"step-{step:08d}")
        tmp = os.path.join(self.dir, f".tmp-step-{step:08d}")
        if _rank() == 0:
            os.makedirs(self.dir, exist_ok=True)
            for name in os.listdir(self.dir):  # leftovers of writes killed half-way
                if name.startswith(".tmp-step-"):
                    shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)
        _barrier()
        os.makedirs(tmp, exist_ok=True)
        with open(os.path.join(tmp, f"rng-{_rank():05d}.pt"), "wb") as f:
            torch.save(rng_state(), f)
            f.flush()
            os.fsync(f.fileno())
        model_state, optim_state = get_state_dict(model, optimizer)
        state = {"model": model_state, "optimizer": optim_state}
        meta = {"step": step, "world_size": _world(), **extra}
        if not self.async_save:
            with _quiet():
                dcp.save(state, storage_writer=FileSystemWriter(tmp), no_dist=not dist.is_initialized())
            self._finish(tmp, path, meta)
            _barrier()
            return path
        with _quiet():
            future = dcp.async_save(state, storage_writer=FileSystemWriter(tmp), process_group=self.group,
                                    no_dist=not dist.is_initialized())
        future = getattr(future, "upload_completion", future)
        self.pending = (future, tmp, path, meta)
        if _rank() == 0:  # rename as soon as the files are down, not at the next save
            future.add_done_callback(lambda f: f.exception() is None and self._finish(tmp, path, meta))
        return path

    def wait(self) -> None:
        """Blocks until the save in flight (if any) is complete and renamed into place."""
        if self.pending is None:
            return
        future, tmp, path, meta = self.pending
        self.pending = None
        future.result()
        self._finish(tmp, path, meta)
        _barrier()

    def _finish(self, tmp: str, path: str, meta: dict) -> None:
        """Rank 0, once every rank's shards are written (DCP writes the index after gathering
        every rank's results): meta.json, then the rename that makes the checkpoint visible."""
        if _rank() != 0:
            return
        with self.lock:
            if not os.path.isdir(tmp):  # done already (by the async save's callback)
                return
            with open(os.path.join(tmp, META), "w", encoding="utf-8") as f:
                json.dump(meta, f)
                f.flush()
                os.fsync(f.fileno())
            _fsync(tmp)
            if os.path.exists(path):  # a rerun of the same step: replace it whole
                shutil.rmtree(path)
            os.rename(tmp, path)
            _fsync(self.dir)
            for _, old in checkpoints(self.dir)[:-self.keep] if self.keep > 0 else []:
                shutil.rmtree(old, ignore_errors=True)


def save(ckpt_dir: str, step: int, model, optimizer, extra: dict, keep: int = 2) -> str:
    """One synchronous save (every rank calls it)."""
    return Checkpointer(ckpt_dir, keep).save(step, model, optimizer, extra)


def checkpoints(ckpt_dir: str) -> list[tuple[int, str]]:
    """Complete checkpoints, oldest first (temporary folders of interrupted writes are ignored)."""
    if not os.path.isdir(ckpt_dir):
        return []
    found = []
    for name in os.listdir(ckpt_dir):
        match = _NAME.match(name)
        full = os.path.join(ckpt_dir, name)
        if match and os.path.exists(os.path.join(full, META)) and os.path.exists(os.path.join(full, INDEX)):
            found.append((int(match.group(1)), full))
    return sorted(found)


def latest(ckpt_dir: str) -> str | None:
    found = checkpoints(ckpt_dir)
    if not found and os.path.isdir(ckpt_dir):
        old = [n for n in os.listdir(ckpt_dir) if _NAME.match(n) and os.path.exists(os.path.join(ckpt_dir, n, "state.pt"))]
        if old:
            raise SystemExit(f"{ckpt_dir}/{max(old)} is a checkpoint of an earlier version (one gathered state.pt), "
                             f"which is not read any more: start the run again under another --run-name")
    return found[-1][1] if found else None


def read_meta(path: str) -> dict:
    with open(os.path.join(path, META), encoding="utf-8") as f:
        return json.load(f)


def load(path: str, model, optimizer=None, model_args: dict | None = None) -> dict:
    """Restores model (+ optimiser) in place from the shards this rank needs (resharded by DCP
    at any process count), and this rank's RNG; returns meta.json. With `model_args`, a
    checkpoint of another shape stops the run with a clear message."""
    meta = read_meta(path)
    saved = meta.get("model_args")
    if model_args is not None and saved is not None and saved != model_args:
        diff = ", ".join(f"{k} {saved.get(k)} there, {v} here" for k, v in model_args.items() if saved.get(k) != v)
        raise SystemExit(f"{path} holds another model ({diff}): give this run another --run-name, "
                         f"or the same model settings to resume it")
    optimizers = () if optimizer is None else optimizer
    model_state, optim_state = get_state_dict(model, optimizers)
    state = {"model": model_state} | ({} if optimizer is None else {"optimizer": optim_state})
    with _quiet():
        dcp.load(state, storage_reader=FileSystemReader(path), no_dist=not dist.is_initialized())
    set_state_dict(model, optimizers, model_state_dict=model_state,
                   optim_state_dict=optim_state if optimizer is not None else {})
    mine = os.path.join(path, f"rng-{_rank():05d}.pt")
    rng = mine if os.path.exists(mine) else os.path.join(path, "rng-00000.pt")
    set_rng_state(torch.load(rng, weights_only=False))
    return meta


def load_tensors(path: str, names: list[str]) -> dict[str, torch.Tensor]:
    """Just these model tensors (full, on the CPU) from a checkpoint written at any process count,
    read by this process alone: the export and `--sample` read a checkpoint a layer at a time."""
    index = FileSystemReader(path).read_metadata().state_dict_metadata
    state = {name: torch.empty(index[f"model.{name}"].size, dtype=index[f"model.{name}"].properties.dtype)
             for name in names}
    with _quiet():
        dcp.load({"model": state}, storage_reader=FileSystemReader(path), no_dist=True)
    return state


def model_names(path: str) -> list[str]:
    """The model's tensor names in a checkpoint."""
    index = FileSystemReader(path).read_metadata().state_dict_metadata
    return [k[len("model."):] for k in index if k.startswith("model.")]
