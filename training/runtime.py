"""What a run needs before its first step: processes, device, shapes, the model, the optimiser.

Under `torchrun` (WORLD_SIZE > 1) every process joins one group (NCCL on GPU, gloo on CPU) and
the model is sharded with FSDP2 (`fully_shard`, one unit per transformer block, as torchtitan
does). The weights are initialised the same way at any process count, so 1 and N processes
train the same model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import torch
import torch.distributed as dist

from training.config import FLAVORS, ModelArgs, TrainConfig, model_args
from training.data import TokenStream, max_token_id, read_mix
from training.model import Transformer

# Dense bf16 peak FLOP/s from the vendors' data sheets (A100: 312 TFLOP/s; H100/H200 SXM: 989).
_PEAK_FLOPS = {"A100": 312e12, "H100": 989e12, "H200": 989e12, "A10G": 125e12, "L4": 121e12}
# Models smaller than this are initialised whole on the CPU before sharding (identical at any
# process count); larger ones on the meta device, then each shard initialised in place.
_FULL_INIT_LIMIT = 2 * 10**9


@dataclasses.dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(cfg: TrainConfig) -> Dist:
    want_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    if want_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return Dist(rank, world, torch.device("cuda", local))
    return Dist(rank, world, torch.device("cpu"))


def tokenizer_path(cfg: TrainConfig) -> str:
    return os.path.join(cfg.data, "tokenizer", "tokenizer.model")


def resolve_vocab(cfg: TrainConfig, mix: dict, stream: TokenStream | None) -> int:
    """--vocab-size, else mix.json's, else the tokenizer's, else the shards' largest id + 1."""
    if cfg.vocab_size:
        return cfg.vocab_size
    if mix.get("vocab_size"):
        return int(mix["vocab_size"])
    if os.path.exists(tokenizer_path(cfg)):
        import sentencepiece as spm

        return spm.SentencePieceProcessor(model_file=tokenizer_path(cfg)).get_piece_size()
    if stream is not None:
        return max_token_id(stream) + 1
    return FLAVORS[cfg.model].model.vocab_size


def resolve_seq_len(cfg: TrainConfig, mix: dict) -> int:
    """--seq-len, else mix.json's, capped at the flavor's context."""
    context = FLAVORS[cfg.model].model.max_seq_len
    return cfg.seq_len or min(int(mix.get("seq_len", context)), context)


@dataclasses.dataclass
class Batching:
    global_seqs: int  # sequences per optimiser step, all processes together
    micro: int  # sequences per forward pass per process
    accum: int  # forward/backward passes per optimiser step per process


def batching(cfg: TrainConfig, seq_len: int, world: int) -> Batching:
    batch_tokens = cfg.batch_tokens or FLAVORS[cfg.model].batch_tokens
    global_seqs = max(world, batch_tokens // seq_len)
    micro = max(1, min(cfg.micro_batch, global_seqs // world))
    accum = max(1, global_seqs // (micro * world))
    return Batching(micro * world * accum, micro, accum)


def shapes(cfg: TrainConfig, tokens_dir: str) -> tuple[ModelArgs, int, TokenStream | None]:
    """The model's shape and the training stream (None: no shards); stops with a clear message
    on shards the model could not train on."""
    mix = read_mix(tokens_dir)
    seq_len = resolve_seq_len(cfg, mix)
    try:
        stream = TokenStream.train(tokens_dir, seq_len)
    except FileNotFoundError:
        stream = None
    except ValueError as exc:  # a truncated shard, or none long enough for one window
        raise SystemExit(str(exc)) from None
    vocab = resolve_vocab(cfg, mix, stream)
    check_tokens(cfg, mix, tokens_dir, vocab)
    if stream is not None:
        stream.vocab_size = vocab  # every batch is checked: no id past the embedding
    return model_args(cfg, vocab, seq_len), seq_len, stream


def check_tokens(cfg: TrainConfig, mix: dict, tokens_dir: str, vocab: int) -> None:
    """Stops when mix.json (written last by `make tokens`) disagrees with what is on disk: shards
    missing or cut short, a vocabulary smaller than the shards' tokenizer, or another tokenizer in
    DATA/tokenizer than the one the shards were written with (the export would ship it)."""
    if mix.get("vocab_size") and vocab < int(mix["vocab_size"]):
        raise SystemExit(f"--vocab-size {vocab} is smaller than the {mix['vocab_size']} ids of the tokenizer "
                         f"the shards were written with ({tokens_dir}/mix.json)")
    for shard in mix.get("shards", []):
        path = os.path.join(tokens_dir, shard["file"])
        size = os.path.getsize(path) if os.path.exists(path) else None
        if size != 2 * shard["tokens"]:
            found = "missing" if size is None else f"{size:,} bytes"
            raise SystemExit(f"{path}: {found}, but mix.json lists {2 * shard['tokens']:,} bytes "
                             f"({shard['tokens']:,} tokens): the shards are incomplete; rerun `make tokens`")
    if mix.get("tokenizer_sha256") and os.path.exists(tokenizer_path(cfg)):
        with open(tokenizer_path(cfg), "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        if sha != mix["tokenizer_sha256"]:
            raise SystemExit(f"the token shards were written with tokenizer sha256 {mix['tokenizer_sha256'][:16]}..., "
                             f"but {tokenizer_path(cfg)} is {sha[:16]}... (retrained since?): rerun `make tokens`, "
                             f"or put back the tokenizer the shards were made with")


def available_memory(device: torch.device) -> int:
    """Bytes this process can hope to use: the GPU's total memory, or the host's MemAvailable."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0  # unknown (not Linux): no check


def check_memory(args: ModelArgs, env: Dist, available: int) -> None:
    """Stops before allocating a model whose training state cannot fit: fp32 weights, gradients
    and two AdamW moments are 16 bytes a parameter, sharded over the processes (FSDP). On the
    CPU every process shares the host's memory, so the whole state must fit in it."""
    state = 16 * args.num_params()
    need = state / env.world if env.device.type == "cuda" else state
    if available and need > available:
        where = f"GPU ({available / 2**30:.1f} GiB)" if env.device.type == "cuda" else \
            f"host memory available ({available / 2**30:.1f} GiB)"
        raise SystemExit(f"{args.num_params() / 1e9:.2f}B parameters need {need / 2**30:.1f} GiB of weights, "
                         f"gradients and AdamW moments per {'GPU' if env.device.type == 'cuda' else 'host'}, "
                         f"more than the {where}: use more GPUs (torchrun), or fewer layers (--n-layers), "
                         f"and see --dry-run for the estimate per GPU")


def build_model(cfg: TrainConfig, args: ModelArgs, env: Dist) -> torch.nn.Module:
    check_memory(args, env, available_memory(env.device))
    full = args.num_params() * 4 < _FULL_INIT_LIMIT
    with torch.device("cpu" if full else "meta"):
        model = Transformer(args)
    if full:
        model.init_weights(cfg.seed)
    model.set_activation_checkpointing(cfg.activation_checkpoint)
    model.loss_chunks = cfg.loss_chunks
    if cfg.compile:
        for layer in model.layers:
            layer.compile()
    if env.world > 1:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
            if env.device.type == "cuda" and cfg.bf16 else MixedPrecisionPolicy()
        for layer in model.layers:
            fully_shard(layer, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
    if full:
        model.to(env.device)
    else:
        model.to_empty(device=env.device)
        torch.manual_seed(cfg.seed)
        model.init_weights_sharded()
    return model


def peak_flops(cfg: TrainConfig, device: torch.device) -> float:
    if cfg.peak_flops:
        return cfg.peak_flops
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, flops in _PEAK_FLOPS.items():
            if key in name:
                return flops
    return 0.0  # a CPU's peak is not known: give --peak-flops for an MFU figure
