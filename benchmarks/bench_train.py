"""Training step on CPU: tokens/s of our model beside transformers' LlamaForCausalLM, same shape.

Both run the same work, measured alternately in one process: forward with the mean
cross-entropy, backward, AdamW step, fp32, SDPA attention in both. Beside them runs the step's
kernel floor: the same matmuls, SDPA calls, cross-entropy and fused AdamW step, each called
directly on ready tensors with nothing between them. No implementation of the same arithmetic
with these kernels is faster than that floor, so transformers' time over the floor's bounds what
any such model can gain over it. Full mode adds our model with its blocks compiled. A GPU MFU figure needs a GPU: `torchrun ... -m training.train
--model 7b --n-layers 4 --compile --activation-checkpoint selective` prints MFU on every step.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import Row
from training.config import ModelArgs
from training.export import hf_config
from training.model import Transformer


def _ours(args: ModelArgs):
    model = Transformer(args)
    model.init_weights(0)
    return model, lambda tokens: model(tokens[:, :-1], tokens[:, 1:])


def _theirs(args: ModelArgs):
    from transformers import LlamaForCausalLM

    config = hf_config(args)
    config._attn_implementation = "sdpa"
    model = LlamaForCausalLM(config)
    # transformers shifts the labels itself: the same next-token loss (over T-1 positions).
    return model, lambda tokens: model(input_ids=tokens[:, :-1], labels=tokens[:, :-1]).loss


class _Stepper:
    """One training step of a model: forward with the loss, backward, AdamW."""

    def __init__(self, model, loss_fn):
        self.loss_fn = loss_fn
        # Fused AdamW for both: ours by default, transformers' Trainer by default on torch >= 2.8.
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)

    def __call__(self, tokens: torch.Tensor) -> float:
        start = time.perf_counter()
        self.loss_fn(tokens).backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return time.perf_counter() - start


class _KernelFloor:
    """The step's unavoidable kernels alone: for each linear layer its forward and two backward
    matmuls, SDPA forward and backward per layer, the cross-entropy over the logits with its
    gradient, and one fused AdamW step over tensors of the model's parameter shapes."""

    def __init__(self, args: ModelArgs, batch: int, seq: int):
        with torch.device("meta"):
            model = Transformer(args)
        n, gen = batch * seq, torch.Generator().manual_seed(1)

        def randn(*shape, grad=False):
            return torch.randn(*shape, generator=gen).requires_grad_(grad)

        self.linears = [(randn(n, m.in_features), randn(m.out_features, m.in_features), randn(n, m.out_features))
                        for m in model.modules() if isinstance(m, nn.Linear)]
        qkv_shape = (batch, args.n_heads, seq, args.head_dim)  # (B, H, T, K)
        self.qkv = [randn(*qkv_shape, grad=True) for _ in range(3)]
        self.attn_grad, self.n_layers = randn(*qkv_shape), args.n_layers
        self.logits = randn(n, args.vocab_size, grad=True)  # (B*T, V)
        self.targets = torch.randint(0, args.vocab_size, (n,), generator=gen)
        params = [torch.zeros(p.shape) for p in model.parameters()]
        for p in params:
            p.grad = randn(*p.shape)
        self.opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)

    def __call__(self, tokens: torch.Tensor) -> float:
        start = time.perf_counter()
        for x, w, grad_out in self.linears:
            torch.mm(x, w.t())  # forward, as F.linear
            torch.mm(grad_out, w)  # gradient of the input
            torch.mm(grad_out.t(), x)  # gradient of the weight
        for _ in range(self.n_layers):
            out = F.scaled_dot_product_attention(*self.qkv, is_causal=True)
            torch.autograd.grad(out, self.qkv, self.attn_grad)
        torch.autograd.grad(F.cross_entropy(self.logits, self.targets), self.logits)
        self.opt.step()
        return time.perf_counter() - start


def _race(steppers: dict, tokens: torch.Tensor, rounds: int) -> dict[str, float]:
    """Best step time of each, alternating step by step (a shared machine's drift hits all alike);
    round 0 warms up allocators and kernels (and compiles, for a compiled model)."""
    best = {name: float("inf") for name in steppers}
    for i in range(rounds + 1):
        for name, step in steppers.items():
            elapsed = step(tokens)
            if i:
                best[name] = min(best[name], elapsed)
    return best


def run(quick: bool) -> list[Row]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per core: steadier than two threads on a shared two-core machine
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool) -> list[Row]:
    args = ModelArgs(dim=256, n_layers=4, n_heads=8, vocab_size=8000, max_seq_len=512)
    batch, seq = (4, 128) if quick else (8, 256)
    rounds = 12 if quick else 30
    tokens = torch.randint(0, args.vocab_size, (batch, seq + 1), generator=torch.Generator().manual_seed(0))
    steppers = {"ours": _Stepper(*_ours(args)), "theirs": _Stepper(*_theirs(args)),
                "floor": _KernelFloor(args, batch, seq)}
    if not quick:  # compiling takes ~30 s on two cores: full mode only
        model, loss_fn = _ours(args)
        for layer in model.layers:
            layer.compile()
        steppers["ours compiled"] = _Stepper(model, loss_fn)
    best = _race(steppers, tokens, rounds)
    n = batch * seq
    shape = (f"dim {args.dim}, {args.n_layers} layers, vocab {args.vocab_size}, batch {batch}x{seq}, fp32, "
             f"1 thread, best of {rounds} alternated steps (forward+backward+AdamW)")
    rows = [Row("train step (CPU)", "tokens/s per core", n / best["ours"], "transformers LlamaForCausalLM (sdpa)",
                n / best["theirs"], True, shape + "; GPU MFU not measured: no GPU on this machine")]
    if "ours compiled" in best:
        rows.append(Row("train step (CPU), --compile", "tokens/s per core", n / best["ours compiled"],
                        "transformers LlamaForCausalLM (sdpa, eager)", n / best["theirs"], True,
                        shape + "; our blocks through torch.compile"))
    rows.append(Row("train step (CPU), kernel floor", "tokens/s per core", n / best["ours"],
                    "its matmuls + SDPA + cross-entropy + AdamW alone", n / best["floor"], True,
                    f"transformers runs at {best['floor'] / best['theirs']:.0%} of the floor's speed: no model "
                    f"doing the same arithmetic with these kernels can be more than "
                    f"{best['theirs'] / best['floor']:.2f}x faster than it"))
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row, f"ratio {row.ratio:.2f}")
