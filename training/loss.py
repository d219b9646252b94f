"""The output layer and the mean cross-entropy in chunks of tokens (`--loss-chunks N`).

The plain path (`F.cross_entropy(output(h).float(), targets)`) keeps the logits of every token of
the micro-batch: in the compute dtype from the head, in float32 for the loss, the float32
log-softmax saved for the backward, and its float32 gradient, about 14 bytes a token per
vocabulary entry (8,192 tokens x 32,000 entries: 3.7 GB). Here the tokens go through the head N
chunks at a time, and for each chunk the gradient of the loss is taken at once, in the forward,
from its closed form (softmax minus the one-hot target, over the token count): the gradient
with respect to the chunk's hidden states and the chunk's share of the head's weight gradient.
No logits outlive their chunk; the backward only scales the two stored gradients by the
incoming one (1 for a plain loss, 1/accumulation after the trainer's division). The matmuls are
the same three a head's forward and backward run (logits, input gradient, weight gradient),
so there is no recomputation (Liger-Kernel's fused linear cross-entropy works the same way).

Under autocast the head runs in the autocast dtype (bf16), the softmax, the loss and the sum of
the chunks' weight gradients in float32, as the plain path does; every position counts (no
ignore index: token ids are never negative).
"""

from __future__ import annotations

import torch


def compute_dtype(hidden: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    """The dtype the head's matmul runs in: autocast's if it is on for this device, else the
    promoted dtype of its operands (what `nn.Linear` would give)."""
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return torch.promote_types(hidden.dtype, weight.dtype)


def _bounds(n: int, chunks: int) -> list[tuple[int, int]]:
    size = -(-n // max(1, min(chunks, n)))  # ceil(n / chunks)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _chunk(logits: torch.Tensor, targets: torch.Tensor, scale: float, grad: bool):
    """Summed cross-entropy of one chunk of logits (C, V), and with `grad` the gradient of the
    mean loss with respect to them, (softmax - one-hot) * scale, in the logits' dtype."""
    z = logits.float()  # (C, V); the softmax below overwrites it (the logits are not needed after)
    lse = torch.logsumexp(z, dim=-1)  # (C,)
    loss = (lse - z.gather(1, targets[:, None]).squeeze(1)).sum()
    if not grad:
        return loss, None
    probs = z.sub_(lse[:, None]).exp_()
    probs[torch.arange(len(targets), device=targets.device), targets] -= 1.0
    return loss, probs.mul_(scale).to(logits.dtype)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, chunks, dtype):
        # hidden (N, D), weight (V, D), targets (N,); grad mode is off in here.
        n = hidden.shape[0]
        w = weight.to(dtype)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_h = torch.empty_like(hidden)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        for start, end in _bounds(n, chunks):
            h, t = hidden[start:end].to(dtype), targets[start:end]
            loss, g = _chunk(h @ w.t(), t, 1.0 / n, grad=True)  # g: (C, V)
            total += loss
            grad_h[start:end] = g @ w  # (C, D)
            grad_w += g.t() @ h  # (V, D): summed in float32 across chunks
        ctx.save_for_backward(grad_h, grad_w)
        ctx.weight_dtype = weight.dtype
        return total / n

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w = ctx.saved_tensors
        return grad_h * grad_out, (grad_w * grad_out).to(ctx.weight_dtype), None, None, None


@torch.no_grad()
def _loss_only(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunks: int,
               dtype: torch.dtype) -> torch.Tensor:
    w, total = weight.to(dtype), torch.zeros((), dtype=torch.float32, device=hidden.device)
    for start, end in _bounds(hidden.shape[0], chunks):
        total += _chunk(hidden[start:end].to(dtype) @ w.t(), targets[start:end], 1.0, grad=False)[0]
    return total / hidden.shape[0]


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                         chunks: int) -> torch.Tensor:
    """mean over tokens of cross_entropy(hidden @ weight.T, targets), `chunks` token chunks at a
    time: hidden (N, D), weight (V, D) (the head's), targets (N,) -> a float32 scalar."""
    dtype = compute_dtype(hidden, weight)
    with torch.autocast(hidden.device.type, enabled=False):  # the dtypes are chosen above
        if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
            return _LinearCrossEntropy.apply(hidden, weight, targets, chunks, dtype)
        return _loss_only(hidden, weight, targets, chunks, dtype)
