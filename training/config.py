"""Model flavors (the paper's Table 2) and the training run's settings.

`FLAVORS["7b"]` is the lookup behind `make train MODEL=7b` (torchtitan keeps its sizes the same
way, `models/llama3/__init__.py`). `TrainConfig` fields map one to one to the flags of
`python -m training.train` (`ckpt_every` -> `--ckpt-every`), through `pipeline.config`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelArgs:
    dim: int
    n_layers: int
    n_heads: int
    vocab_size: int = 32000  # the paper's SentencePiece BPE vocabulary (section 2.1)
    multiple_of: int = 256  # SwiGLU hidden rounded up to this (llama reference model.py)
    norm_eps: float = 1e-6  # RMSNorm epsilon of the reference release (params.json "norm_eps")
    rope_theta: float = 10000.0  # RoPE base of Su et al. (2021), used by LLaMA
    max_seq_len: int = 2048  # context length, Table 2 of the paper

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def ffn_hidden(self) -> int:
        """SwiGLU hidden size 2/3 * 4d, rounded up (section 2.2: "2/3 4d instead of 4d as in PaLM")."""
        hidden = int(2 * (4 * self.dim) / 3)
        return self.multiple_of * math.ceil(hidden / self.multiple_of)

    def num_params(self) -> int:
        """Exact parameter count (the meta-device count in `training.train --dry-run` agrees)."""
        d, h = self.dim, self.ffn_hidden
        per_layer = 4 * d * d + 3 * d * h + 2 * d  # wq wk wv wo, w1 w2 w3, two RMSNorm gains
        return self.n_layers * per_layer + 2 * self.vocab_size * d + d  # embeddings, untied head, final norm

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token: 6N for the matmuls plus 12·L·d·T for attention scores
        (PaLM, Chowdhery et al. 2022, appendix B), N without the embedding table (a lookup)."""
        n = self.num_params() - self.vocab_size * self.dim
        return 6 * n + 12 * self.n_layers * self.dim * seq_len


@dataclass(frozen=True)
class Flavor:
    model: ModelArgs
    lr: float  # peak learning rate (Table 2)
    batch_tokens: int  # tokens per optimiser step (Table 2: 4M)
    train_tokens: float  # tokens for the whole run (Table 2)


_M = 2**20  # the paper's "4M" batch: 4 * 2**20 tokens = 2048 sequences of 2048 tokens

FLAVORS: dict[str, Flavor] = {
    # CPU-sized: trains in a minute or two on the demo tokens. Its lr is the small-model rate of
    # nanoGPT's Shakespeare config (1e-3), the batch a few thousand tokens.
    "tiny": Flavor(ModelArgs(dim=128, n_layers=4, n_heads=4, multiple_of=32, max_seq_len=256),
                   lr=1e-3, batch_tokens=4096, train_tokens=1e6),
    # Table 2 of Touvron et al. (2023): dimension, heads, layers, learning rate, batch, tokens.
    "7b": Flavor(ModelArgs(dim=4096, n_layers=32, n_heads=32), lr=3e-4, batch_tokens=4 * _M, train_tokens=1.0e12),
    "13b": Flavor(ModelArgs(dim=5120, n_layers=40, n_heads=40), lr=3e-4, batch_tokens=4 * _M, train_tokens=1.0e12),
    "33b": Flavor(ModelArgs(dim=6656, n_layers=60, n_heads=52), lr=1.5e-4, batch_tokens=4 * _M, train_tokens=1.4e12),
    "65b": Flavor(ModelArgs(dim=8192, n_layers=80, n_heads=64), lr=1.5e-4, batch_tokens=4 * _M, train_tokens=1.4e12),
}


def _h(text: str) -> dict:
    return {"help": text}


@dataclass
class TrainConfig:
    model: str = field(default="tiny", metadata=_h("flavor: " + ", ".join(FLAVORS)))
    # `--run-name` first: torchrun reads a bare `--run` itself (a prefix of its --run-path), so
    # `torchrun ... -m training.train --run x` stops before the trainer starts; `--run` stays an alias.
    run: str = field(default="", metadata={"help": "run name: writes runs/<run>/ (default: the flavor's name); "
                                                   "`--run` is an alias outside torchrun",
                                           "flags": ("--run-name", "--run")})
    data: str = field(default="data", metadata=_h("data root; token shards are read from <data>/tokens/"))
    runs_dir: str = field(default="runs", metadata=_h("folder holding the run folders"))
    steps: int = field(default=0, metadata=_h("optimiser steps (0: the flavor's tokens / batch)"))
    batch_tokens: int = field(default=0, metadata=_h("tokens per optimiser step (0: the flavor's)"))
    micro_batch: int = field(default=8, metadata=_h("sequences per forward pass per process; "
                                                     "gradient accumulation makes up the batch"))
    seq_len: int = field(default=0, metadata=_h("tokens per sequence (0: mix.json's, capped at the context)"))
    vocab_size: int = field(default=0, metadata=_h("0: from mix.json, else the tokenizer, else the flavor's"))
    dim: int = field(default=0, metadata=_h("override the flavor's width (0: keep)"))
    n_layers: int = field(default=0, metadata=_h("override the flavor's depth (0: keep)"))
    n_heads: int = field(default=0, metadata=_h("override the flavor's heads (0: keep)"))
    lr: float = field(default=0.0, metadata=_h("peak learning rate (0: the flavor's)"))
    warmup_steps: int = field(default=2000, metadata=_h("linear warm-up steps (section 2.3), at most "
                                                         "a tenth of the run"))
    min_lr_ratio: float = field(default=0.1, metadata=_h("cosine ends at this fraction of the peak (2.3)"))
    weight_decay: float = field(default=0.1, metadata=_h("AdamW weight decay on 2-D weights (2.3)"))
    beta1: float = field(default=0.9, metadata=_h("AdamW beta1 (2.3)"))
    beta2: float = field(default=0.95, metadata=_h("AdamW beta2 (2.3)"))
    grad_clip: float = field(default=1.0, metadata=_h("gradient norm clipping (2.3)"))
    seed: int = field(default=1234, metadata=_h("seed for the weights' initialisation"))
    device: str = field(default="auto", metadata=_h("auto, cpu, cuda"))
    bf16: bool = field(default=True, metadata=_h("bf16 autocast / FSDP mixed precision on GPU (fp32 on CPU)"))
    compile: bool = field(default=False, metadata=_h("torch.compile each transformer block"))
    activation_checkpoint: str = field(default="none", metadata=_h(
        "none, full, selective (2.4: keep the outputs of linear layers, recompute the rest) or selective-casts "
        "(selective, also keeping autocast's bf16 copies of the weights rather than casting again)"))
    loss_chunks: int = field(default=0, metadata=_h("output layer + cross-entropy in this many chunks of tokens, each "
                                                     "chunk's gradient taken at once, so no (tokens x vocab) logits are "
                                                     "kept (0: whole logits, F.cross_entropy)"))
    peak_flops: float = field(default=0.0, metadata=_h("device peak FLOP/s for MFU (0: known GPUs, else no MFU)"))
    ckpt_every: int = field(default=500, metadata=_h("checkpoint every N steps (and at the end)"))
    async_checkpoint: bool = field(default=False, metadata=_h("write checkpoints in the background (DCP async_save) "
                                                               "while training goes on; the next save waits for it"))
    keep_checkpoints: int = field(default=2, metadata=_h("newest checkpoints kept on disk"))
    eval_every: int = field(default=100, metadata=_h("validation loss every N steps (0: never)"))
    eval_batches: int = field(default=4, metadata=_h("validation windows per source, in training batches"))
    eval_tasks: str = field(default="", metadata=_h("benchmarks scored during training, comma-separated (e.g. "
                                                    "hellaswag,arc_easy; python -m training.evaluation --help "
                                                    "lists them): accuracies in metrics.jsonl and TensorBoard"))
    eval_tasks_every: int = field(default=0, metadata=_h("score --eval-tasks every N steps (0: at --eval-every) "
                                                          "and at the end"))
    eval_limit: int = field(default=100, metadata=_h("items per task scored during training (0: all)"))
    tensorboard: bool = field(default=True, metadata=_h("write TensorBoard events to runs/<run>/tb"))
    export: bool = field(default=True, metadata=_h("export runs/<run>/hf/ at the end of the run"))
    dry_run: bool = field(default=False, metadata=_h("print parameters, FLOPs/token, steps, memory; no training"))
    gpus: int = field(default=8, metadata=_h("GPU count for --dry-run's memory estimate"))
    disk_gbps: float = field(default=1.0, metadata=_h("GB/s each process writes checkpoints at, for --dry-run's "
                                                       "save time estimate"))
    sample: str = field(default="", metadata=_h("generate text from the newest checkpoint after this prompt"))
    sample_tokens: int = field(default=64, metadata=_h("tokens --sample generates"))
    temperature: float = field(default=0.8, metadata=_h("--sample temperature (0: greedy)"))
    demo: bool = field(default=False, metadata=_h("CPU demo: a short run sized to finish in about a minute"))

    @property
    def run_name(self) -> str:
        return self.run or self.model


def model_args(cfg: TrainConfig, vocab_size: int, seq_len: int) -> ModelArgs:
    """The flavor's shape with the command line's overrides and the data's vocabulary."""
    base = FLAVORS[cfg.model].model
    changes = {"vocab_size": vocab_size, "max_seq_len": max(base.max_seq_len, seq_len)}
    for name in ("dim", "n_layers", "n_heads"):
        if getattr(cfg, name):
            changes[name] = getattr(cfg, name)
    return dataclasses.replace(base, **changes)
