"""`--loss-chunks`: the output layer and cross-entropy in chunks give the whole-logits loss and
gradients, keep no (tokens x vocab) tensor for the backward, and leave the golden losses."""

from __future__ import annotations

import json

import pytest
import torch

from tests.fixtures.make_golden import ASSET, golden_losses
from tests.fixtures.training import one_thread  # noqa: F401 (fixture)
from training.config import ModelArgs
from training.loss import linear_cross_entropy
from training.model import Transformer
from training.train import parse

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ModelArgs(dim=64, n_layers=2, n_heads=4, vocab_size=512, multiple_of=32, max_seq_len=64)
TOKENS = torch.randint(0, SMALL.vocab_size, (2, 33), generator=torch.Generator().manual_seed(0))


def loss_and_grads(chunks: int, dtype: torch.dtype | None = None, scale: float = 0.5):
    """Loss and parameter gradients of one backward of `scale` x loss (the trainer divides by
    the accumulation count), under CPU autocast to `dtype` if given."""
    model = Transformer(SMALL)
    model.init_weights(0)
    model.loss_chunks = chunks
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        loss = model(TOKENS[:, :-1], TOKENS[:, 1:])
    (loss * scale).backward()
    return loss.item(), {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("chunks", [1, 3, 64, 1000])  # 1000 > the 64 tokens: one token a chunk
def test_chunked_loss_and_gradients_match_whole_logits_in_float32(chunks):
    loss, grads = loss_and_grads(0)
    got_loss, got_grads = loss_and_grads(chunks)
    assert got_loss == pytest.approx(loss, rel=1e-6)
    for name, grad in grads.items():
        torch.testing.assert_close(got_grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_chunked_loss_under_bf16_autocast_is_within_bf16_noise_of_whole_logits():
    """Under autocast both run the head in bf16; each chunk's share of the head's weight
    gradient is summed in float32, so the chunked gradients are no further from float32's than
    the whole-logits ones (which round the whole sum to bf16 once)."""
    ref_loss, ref = loss_and_grads(0)  # float32
    loss, whole = loss_and_grads(0, torch.bfloat16)
    got_loss, chunked = loss_and_grads(4, torch.bfloat16)
    assert got_loss == pytest.approx(loss, abs=2e-3) and loss == pytest.approx(ref_loss, abs=2e-2)
    for name, grad in ref.items():
        scale = grad.abs().max()
        err_whole = (whole[name] - grad).abs().max() / scale
        err_chunked = (chunked[name] - grad).abs().max() / scale
        assert err_chunked < 2e-2, name  # bf16 has 8 bits of mantissa (2^-8 = 3.9e-3)
        assert err_chunked <= 1.5 * err_whole + 1e-3, name


def test_no_logits_are_kept_for_the_backward():
    tokens = TOKENS.shape[0] * (TOKENS.shape[1] - 1)
    for chunks, expect_logits in ((0, True), (4, False)):
        model = Transformer(SMALL)
        model.init_weights(0)
        model.loss_chunks = chunks
        shapes = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: shapes.append(t.shape) or t, lambda t: t):
            model(TOKENS[:, :-1], TOKENS[:, 1:])
        logits = [s for s in shapes if len(s) and s[-1] == SMALL.vocab_size and s.numel() >= tokens * SMALL.vocab_size]
        assert bool(logits) == expect_logits, (chunks, shapes)


def test_loss_without_gradients_matches():
    hidden = torch.randn(40, 16, generator=torch.Generator().manual_seed(1))
    weight = torch.randn(100, 16, generator=torch.Generator().manual_seed(2))
    targets = torch.randint(0, 100, (40,), generator=torch.Generator().manual_seed(3))
    expected = torch.nn.functional.cross_entropy(hidden @ weight.t(), targets)
    with torch.no_grad():
        assert linear_cross_entropy(hidden, weight, targets, 3).item() == pytest.approx(expected.item(), rel=1e-6)
    assert linear_cross_entropy(hidden, weight, targets, 7).item() == pytest.approx(expected.item(), rel=1e-6)


def test_golden_losses_with_chunked_loss(tmp_path):
    """`--loss-chunks 3` trains the tiny model to the golden losses (float32 rounding apart)."""
    with open(ASSET) as f:
        expected = json.load(f)["losses"]
    assert golden_losses(str(tmp_path), loss_chunks=3) == pytest.approx(expected, rel=1e-5)


def test_loss_chunks_and_checkpointing_flags():
    assert parse(["--activation-checkpoint", "selective-casts"]).activation_checkpoint == "selective-casts"
    with pytest.raises(SystemExit):
        parse(["--activation-checkpoint", "some"])
    assert parse(["--loss-chunks", "8"]).loss_chunks == 8
    assert parse([]).loss_chunks == 0
    with pytest.raises(SystemExit):
        parse(["--loss-chunks", "-1"])
