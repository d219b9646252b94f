"""The LLaMA architecture (Touvron et al., 2023, section 2.2), read top to bottom.

Pre-normalisation with RMSNorm, SwiGLU feed-forward, rotary embeddings, no biases, an untied
output head. Parameter names are those of the reference release (`tok_embeddings`,
`layers.N.attention.wq`, `feed_forward.w1`, `attention_norm`, `ffn_norm`, `norm`, `output`), so
its checkpoints map one to one. Shapes: B batch, T sequence, D dim, H heads, K head dim, V vocab.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from training.config import ModelArgs
from training.loss import linear_cross_entropy


class RMSNorm(nn.Module):
    """Zhang & Sennrich (2019); computed in float32 whatever the activations' dtype."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.eps).type_as(x)


def rope_frequencies(head_dim: int, seq_len: int, theta: float) -> torch.Tensor:
    """cos and sin of position * theta^(-2j/K), Su et al. (2021): (T, K/2, 2), the last axis
    (cos, sin), which is e^(i * angle) as `torch.view_as_complex` reads it."""
    inv = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # (K/2,)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv)  # (T, K/2)
    return torch.stack((angles.cos(), angles.sin()), dim=-1)  # (T, K/2, 2)


def apply_rope(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Rotates each consecutive pair (x[2j], x[2j+1]) of every head by the position's angle (the
    reference's complex product): x (B, T, H, K), freqs (T, K/2, 2), or (B, T, K/2, 2) when each
    sequence has positions of its own (packed evaluation)."""
    pairs = x.float().unflatten(-1, (-1, 2))  # (B, T, H, K/2, 2)
    if torch.compiler.is_compiling():
        # Inductor generates no code for complex numbers: the same rotation in real arithmetic,
        # which it fuses into one kernel (eager, the complex product is the faster of the two).
        x0, x1 = pairs.unbind(-1)  # (B, T, H, K/2) each
        cos, sin = freqs[..., None, :, 0], freqs[..., None, :, 1]  # ([B,] T, 1, K/2)
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2).type_as(x)
    rotated = torch.view_as_complex(pairs) * torch.view_as_complex(freqs).unsqueeze(-2)  # (B, T, H, K/2)
    return torch.view_as_real(rotated).flatten(-2).type_as(x)  # (B, T, H, K)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.head_dim = args.n_heads, args.head_dim
        self.wq = nn.Linear(args.dim, args.n_heads * args.head_dim, bias=False)
        self.wk = nn.Linear(args.dim, args.n_heads * args.head_dim, bias=False)
        self.wv = nn.Linear(args.dim, args.n_heads * args.head_dim, bias=False)
        self.wo = nn.Linear(args.n_heads * args.head_dim, args.dim, bias=False)

    def forward(self, x: torch.Tensor, freqs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """mask (B, 1, T, T), True where a query may attend (packed evaluation); None: causal."""
        b, t, _ = x.shape  # (B, T, D)
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim)  # (B, T, H, K)
        k = self.wk(x).view(b, t, self.n_heads, self.head_dim)
        v = self.wv(x).view(b, t, self.n_heads, self.head_dim)
        q, k = apply_rope(q, freqs), apply_rope(k, freqs)
        # Causal attention by SDPA: flash / memory-efficient kernels on GPU (section 2.4).
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_mask=mask, is_causal=mask is None)  # (B, H, T, K)
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))  # (B, T, D)


class FeedForward(nn.Module):
    """SwiGLU (Shazeer 2020): w2(silu(w1 x) * w3 x), hidden 2/3 * 4d rounded up."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.w1 = nn.Linear(args.dim, args.ffn_hidden, bias=False)
        self.w2 = nn.Linear(args.ffn_hidden, args.dim, bias=False)
        self.w3 = nn.Linear(args.dim, args.ffn_hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))  # (B, T, D)


# Section 2.4: "we save the activations that are expensive to compute, such as the outputs of
# linear layers"; everything else (norms, RoPE, SiLU, products) is recomputed in the backward.
# Attention's output is saved whichever fused kernel SDPA picks (flash, memory-efficient, cuDNN,
# a backend's own), as torchtitan's op-level policy does: recomputing it would rerun the
# attention. torchtitan also recomputes every second matmul to save more memory; the paper does
# not, nor do we.
_SAVE = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default,
         torch.ops.aten._scaled_dot_product_flash_attention.default,
         torch.ops.aten._scaled_dot_product_efficient_attention.default,
         torch.ops.aten._scaled_dot_product_cudnn_attention.default,
         torch.ops.aten._scaled_dot_product_fused_attention_overrideable.default,
         torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default}


def _save_linear_outputs(ctx, op, *args, **kwargs) -> CheckpointPolicy:
    return CheckpointPolicy.MUST_SAVE if op in _SAVE else CheckpointPolicy.PREFER_RECOMPUTE


def _is_weight_cast(op, args, kwargs) -> bool:
    """autocast's bf16 copy of a linear layer's float32 weight: a 2-D tensor (the activations a
    block casts are 3-D, (B, T, D))."""
    return op is torch.ops.aten._to_copy.default and args[0].dim() == 2 and kwargs.get("dtype") in (
        torch.bfloat16, torch.float16)


def _save_linear_outputs_and_casts(ctx, op, *args, **kwargs) -> CheckpointPolicy:
    """`selective-casts`: the linear outputs, and the weights' bf16 copies that autocast makes in
    the forward, kept for the backward instead of cast again there (6 bytes of memory traffic a
    parameter per micro-batch saved, 2 bytes a parameter held; the matmuls need them anyway).
    Without checkpointing autograd keeps those copies too; under FSDP's bf16 parameters there are
    none."""
    if _is_weight_cast(op, args, kwargs):
        return CheckpointPolicy.MUST_SAVE
    return _save_linear_outputs(ctx, op, *args, **kwargs)


_POLICIES = {"selective": _save_linear_outputs, "selective-casts": _save_linear_outputs_and_casts}
CHECKPOINT_MODES = ("none", "full", *_POLICIES)


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.attention = Attention(args)
        self.feed_forward = FeedForward(args)
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)
        self.checkpointing = "none"  # one of CHECKPOINT_MODES (set by `set_activation_checkpointing`)

    def _forward(self, x: torch.Tensor, freqs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), freqs, mask)  # pre-normalisation (GPT-3)
        return h + self.feed_forward(self.ffn_norm(h))

    def forward(self, x: torch.Tensor, freqs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.checkpointing == "none" or not torch.is_grad_enabled():
            return self._forward(x, freqs, mask)
        policy = _POLICIES.get(self.checkpointing)
        context = {"context_fn": functools.partial(create_selective_checkpoint_contexts, policy)} if policy else {}
        return checkpoint(self._forward, x, freqs, mask, use_reentrant=False, **context)


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(TransformerBlock(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)  # untied from the embeddings
        self.register_buffer("freqs", rope_frequencies(args.head_dim, args.max_seq_len, args.rope_theta),
                             persistent=False)
        self.loss_chunks = 0  # 0: the loss from whole logits; N: training.loss in N chunks (--loss-chunks)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor | None = None, positions: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, keep: torch.Tensor | None = None) -> torch.Tensor:
        """tokens (B, T) -> logits (B, T, V); with targets (B, T), the mean cross-entropy instead.

        Packed evaluation (training.evaluation.scoring) gives each token its position (B, T), an
        attention mask (B, 1, T, T) and the positions whose logits it wants, keep (B, N) -> (B, N, V)."""
        t = tokens.shape[1]
        h = self.tok_embeddings(tokens)  # (B, T, D)
        freqs = self.freqs[:t] if positions is None else self.freqs[positions]  # (T | B T, K/2, 2)
        for layer in self.layers:
            h = layer(h, freqs, mask)
        if keep is not None:
            h = h.gather(1, keep[..., None].expand(-1, -1, h.shape[-1]))  # (B, N, D)
        h = self.norm(h)
        if targets is not None and self.loss_chunks:  # no (B, T, V) logits kept
            return linear_cross_entropy(h.flatten(0, 1), self.output.weight, targets.flatten(), self.loss_chunks)
        logits = self.output(h)  # (B, T, V)
        if targets is None:
            return logits
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())

    @torch.no_grad()
    def init_weights(self, seed: int) -> None:
        """N(0, 0.02) weights; the residual projections (wo, w2) scaled by 1/sqrt(2L) (GPT-2)."""
        gen = torch.Generator().manual_seed(seed)
        out_std = 0.02 / math.sqrt(2 * self.args.n_layers)
        for name, p in self.named_parameters():
            if p.ndim == 1:
                p.fill_(1.0)  # RMSNorm gains
            else:
                std = out_std if name.endswith(("wo.weight", "w2.weight")) else 0.02
                p.copy_(torch.randn(p.shape, generator=gen) * std)
        self.freqs = rope_frequencies(self.args.head_dim, self.args.max_seq_len, self.args.rope_theta).to(
            self.freqs.device)

    @torch.no_grad()
    def init_weights_sharded(self) -> None:
        """The same distributions on parameters that are already sharded (large models, FSDP),
        drawn from the global RNG (seeded by the caller) rather than a full-size generator."""
        out_std = 0.02 / math.sqrt(2 * self.args.n_layers)
        for name, p in self.named_parameters():
            if p.ndim == 1:
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, std=out_std if name.endswith(("wo.weight", "w2.weight")) else 0.02)
        self.freqs = rope_frequencies(self.args.head_dim, self.args.max_seq_len, self.args.rope_theta).to(
            self.freqs.device)

    def set_activation_checkpointing(self, mode: str) -> None:
        if mode not in CHECKPOINT_MODES:
            raise ValueError(f"--activation-checkpoint must be one of {', '.join(CHECKPOINT_MODES)}, not {mode!r}")
        for layer in self.layers:
            layer.checkpointing = mode


def count_parameters(args: ModelArgs) -> int:
    """Parameters of the model built on the meta device (no memory is allocated)."""
    with torch.device("meta"):
        model = Transformer(args)
    return sum(p.numel() for p in model.parameters())

