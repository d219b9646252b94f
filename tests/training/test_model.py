"""The model against transformers' LlamaForCausalLM, the paper's sizes, and the golden losses."""

from __future__ import annotations

import collections
import json

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tests.fixtures.make_golden import ASSET, golden_losses
from tests.fixtures.training import (
    one_thread,  # noqa: F401 (fixture)
    tiny_config,
    write_tokens,
)
from training.config import FLAVORS, ModelArgs
from training.export import export, permute_rope
from training.model import Transformer, count_parameters
from training.tools import generate
from training.train import train

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ModelArgs(dim=64, n_layers=2, n_heads=4, vocab_size=512, multiple_of=32, max_seq_len=64)


def random_model(args: ModelArgs = SMALL, seed: int = 0) -> Transformer:
    model = Transformer(args)
    model.init_weights(seed)
    with torch.no_grad():  # random norm gains too, so a misplaced norm weight would show
        gen = torch.Generator().manual_seed(seed + 1)
        for p in model.parameters():
            if p.ndim == 1:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen))
    return model.eval()


def load_hf(path: str):
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(path, attn_implementation="sdpa", dtype=torch.float32).eval()


def test_logits_match_transformers_loaded_from_our_export(tmp_path):
    model = random_model()
    export(model.state_dict(), SMALL, str(tmp_path / "hf"))
    hf = load_hf(str(tmp_path / "hf"))
    tokens = torch.randint(0, SMALL.vocab_size, (2, 48), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours, theirs = model(tokens), hf(tokens).logits
    assert ours.shape == theirs.shape == (2, 48, SMALL.vocab_size)
    assert (ours - theirs).abs().max().item() < 1e-5
    # Without the RoPE permutation the two disagree: the test can tell.
    state = model.state_dict()
    for i in range(SMALL.n_layers):
        for w in ("wq", "wk"):
            key = f"layers.{i}.attention.{w}.weight"
            state[key] = permute_rope(state[key], SMALL.n_heads)  # applied twice by export: wrong order
    export(state, SMALL, str(tmp_path / "wrong"))
    with torch.no_grad():
        assert (load_hf(str(tmp_path / "wrong"))(tokens).logits - ours).abs().max().item() > 1e-3


def test_greedy_generation_matches_transformers(tmp_path):
    model = random_model(seed=5)
    export(model.state_dict(), SMALL, str(tmp_path / "hf"))
    hf = load_hf(str(tmp_path / "hf"))
    prompt = [1, 17, 300, 42]
    ours = generate(model, prompt, 12, temperature=0)
    theirs = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False, pad_token_id=0)[0].tolist()
    assert ours == theirs


@pytest.mark.parametrize("name, billions, ffn", [("7b", 6.74, 11008), ("13b", 13.02, 13824),
                                                 ("33b", 32.53, 17920), ("65b", 65.29, 22016)])
def test_parameter_counts_of_the_paper_flavors(name, billions, ffn):
    args = FLAVORS[name].model
    n = count_parameters(args)  # meta device: nothing allocated
    assert round(n / 1e9, 2) == billions
    assert n == args.num_params()
    assert args.ffn_hidden == ffn  # 2/3 * 4d rounded up to 256, as the released checkpoints


def test_table2_hyperparameters():
    got = {k: (f.model.dim, f.model.n_heads, f.model.n_layers, f.lr, f.batch_tokens, f.train_tokens, f.model.max_seq_len)
           for k, f in FLAVORS.items() if k != "tiny"}
    assert got == {"7b": (4096, 32, 32, 3e-4, 4 * 2**20, 1.0e12, 2048), "13b": (5120, 40, 40, 3e-4, 4 * 2**20, 1.0e12, 2048),
                   "33b": (6656, 52, 60, 1.5e-4, 4 * 2**20, 1.4e12, 2048),
                   "65b": (8192, 64, 80, 1.5e-4, 4 * 2**20, 1.4e12, 2048)}


@pytest.mark.parametrize("mode", ["full", "selective", "selective-casts"])
def test_activation_checkpointing_keeps_the_gradients(mode):
    tokens = torch.randint(0, SMALL.vocab_size, (2, 33), generator=torch.Generator().manual_seed(0))
    grads = {}
    for setting in ("none", mode):
        model = random_model().train()
        model.set_activation_checkpointing(setting)
        model(tokens[:, :-1], tokens[:, 1:]).backward()
        grads[setting] = [p.grad.clone() for p in model.parameters()]
    for a, b in zip(grads["none"], grads[mode]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


class _CountOps(TorchDispatchMode):
    """Counts the aten ops run inside it, by (op, the first argument's number of dimensions)."""

    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func), args[0].dim() if args and isinstance(args[0], torch.Tensor) else -1] += 1
        return func(*args, **(kwargs or {}))


def test_selective_casts_keeps_autocasts_weight_copies_for_the_backward():
    """Under bf16 autocast, `selective` casts every weight to bf16 again in the backward's
    recomputation; `selective-casts` keeps the forward's copies, as no checkpointing does, with
    the same gradients."""
    tokens = torch.randint(0, SMALL.vocab_size, (2, 17), generator=torch.Generator().manual_seed(0))
    casts, grads = {}, {}
    for mode in ("none", "selective", "selective-casts"):
        model = random_model().train()
        model.set_activation_checkpointing(mode)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(tokens[:, :-1], tokens[:, 1:])
        with _CountOps() as ops:
            loss.backward()
        casts[mode] = ops.counts["aten._to_copy.default", 2]  # 2-D: weights (and their gradients)
        grads[mode] = [p.grad for p in model.parameters()]
    assert casts["selective"] == casts["none"] + 7 * SMALL.n_layers  # wq wk wv wo w1 w2 w3 cast again
    assert casts["selective-casts"] == casts["none"]
    for a, b in zip(grads["selective"], grads["selective-casts"]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_selective_casts_keeps_the_weight_copies_under_compile_too():
    """torch.compile's partitioner follows the policy: the backward graph casts each weight's
    gradient to float32 and no weight to bf16 (`selective` there casts all seven again)."""
    from functorch.compile import make_boxed_func, min_cut_rematerialization_partition
    from torch._dynamo.backends.common import aot_autograd

    casts = collections.Counter()

    def backward_compiler(gm, example_inputs):
        for node in gm.graph.nodes:
            source = node.args[0].meta.get("val") if node.args and hasattr(node.args[0], "meta") else None
            if node.target is torch.ops.aten._to_copy.default and source is not None and source.dim() == 2:
                casts[node.kwargs["dtype"]] += 1
        return make_boxed_func(gm.forward)

    backend = aot_autograd(fw_compiler=lambda gm, example_inputs: make_boxed_func(gm.forward),
                           bw_compiler=backward_compiler, partition_fn=min_cut_rematerialization_partition)
    torch._dynamo.reset()
    model = random_model(ModelArgs(dim=64, n_layers=1, n_heads=4, vocab_size=512, multiple_of=32)).train()
    model.set_activation_checkpointing("selective-casts")
    model.layers[0].compile(backend=backend)
    tokens = torch.randint(0, 512, (2, 17), generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(tokens[:, :-1], tokens[:, 1:])
    loss.backward()
    torch._dynamo.reset()
    assert casts == {torch.float32: 7}


def test_selective_checkpointing_saves_attention_from_every_fused_kernel():
    """Whichever kernel SDPA picks (cuDNN on some GPUs), its output is saved, not recomputed. The
    math fallback is composite: it reaches the policy as the matmuls it is made of (saved)."""
    from training.model import _SAVE

    names = {name.split(".")[0].removeprefix("aten::") for name in torch._C._dispatch_get_all_op_names()
             if name.startswith("aten::_scaled_dot_product_")}
    kernels = [name for name in names if not name.endswith(("_backward", "_for_mps"))
               and not torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{name}", "CompositeImplicitAutograd")]
    assert len(kernels) >= 5
    for name in kernels:
        assert getattr(torch.ops.aten, name).default in _SAVE, name


def test_rmsnorm_runs_in_float32():
    model = random_model()
    x = torch.randn(2, 5, SMALL.dim, dtype=torch.bfloat16) * 300  # squares overflow bf16's precision
    out = model.norm(x)
    ref = (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6) * model.norm.weight).bfloat16()
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_golden_losses_of_tiny(tmp_path):
    # Catches silent numerical changes: these are the losses recorded by tests/make_golden.py
    # for fixed data, seed and settings. A change to init, RMSNorm, RoPE, attention, the loss,
    # AdamW or the schedule moves them. Regenerate only for a deliberate change.
    with open(ASSET) as f:
        expected = json.load(f)["losses"]
    got = golden_losses(str(tmp_path))
    assert len(got) == len(expected) == 8
    assert got == pytest.approx(expected, rel=1e-5)
    assert got[-1] < got[0]


def test_export_carries_the_tokenizer_and_sample_writes_text(tmp_path):
    import sentencepiece as spm
    from transformers import AutoTokenizer, LlamaTokenizer

    from pipeline.assets import asset_path
    from training.config import TrainConfig
    from training.tools import sample

    with open(asset_path("botchan.txt"), encoding="utf-8", errors="replace") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    tok_dir = tmp_path / "data" / "tokenizer"
    tok_dir.mkdir(parents=True)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines[:2000]), model_prefix=str(tok_dir / "tokenizer"),
                                   vocab_size=400, model_type="bpe", byte_fallback=True, split_digits=True,
                                   normalization_rule_name="identity", remove_extra_whitespaces=False,
                                   unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    write_tokens(str(tmp_path / "data"), vocab=400)
    cfg = tiny_config(str(tmp_path / "data"), str(tmp_path / "runs"), steps=2, export=True)
    train(cfg)
    hf_dir = str(tmp_path / "runs" / "t" / "hf")
    sp = spm.SentencePieceProcessor(model_file=str(tok_dir / "tokenizer.model"))
    auto = AutoTokenizer.from_pretrained(hf_dir)
    texts = lines[2000:2200] + ["Digits 12345, tabs\tand  double  spaces.", " leading space", "ünïcødé ☃ 日本"]
    for text in texts:
        assert auto(text)["input_ids"] == [1] + sp.encode(text), text
        assert auto.decode(auto(text)["input_ids"], skip_special_tokens=True) == text
    assert LlamaTokenizer.from_pretrained(hf_dir)("Botchan")["input_ids"][0] == 1
    assert load_hf(hf_dir).config.vocab_size == 400
    prompt = "I was"
    text = sample(TrainConfig(**{**cfg.__dict__, "sample": prompt, "sample_tokens": 5}))
    assert text.startswith(prompt) and len(sp.encode(text)) > len(sp.encode(prompt))


def test_compiled_blocks_give_the_eager_loss_and_gradients():
    """`--compile` runs RoPE in real arithmetic (inductor has no complex numbers): the same
    rotation, so the same loss and gradients as eager, to float32 rounding."""
    eager, compiled = random_model().train(), random_model().train()
    for layer in compiled.layers:
        layer.compile()
    tokens = torch.randint(0, SMALL.vocab_size, (2, 33), generator=torch.Generator().manual_seed(3))
    losses = []
    for model in (eager, compiled):
        loss = model(tokens[:, :-1], tokens[:, 1:])
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    for (name, a), b in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4, msg=name)
