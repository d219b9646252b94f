"""The evaluator: multiple-choice items/s of ours beside lm-evaluation-harness, same model, items
and device.

The model is a randomly initialised LLaMA (the demo's `tiny` shape in quick mode, a wider one in
full mode) with a SentencePiece tokenizer trained on a real text, exported to a transformers
folder by `training.export`. Both score the same items of HellaSwag, ARC-Easy and PIQA (every
choice's summed log-likelihood after its context, then the character-normalised pick), end to
end from the prompt strings: ours with `training.evaluation.run.score_choices` (each context
once, the choices packed beside it), the harness with its HF model's `loglikelihood` (one
sequence per (context, choice) pair) at batch size 32. fp32 on CPU; bf16 on a GPU for both.
They are timed alternately, best of a few rounds. lm-eval is test-only (requirements/nodeps.lock).
"""

from __future__ import annotations

import os
import tempfile
import time

import torch

from benchmarks.common import Row
from training.config import ModelArgs
from training.evaluation import rules
from training.evaluation.loading import load_hf
from training.evaluation.run import score_choices
from training.evaluation.tasks import TASKS, load_items
from training.export import export
from training.model import Transformer

TASK_NAMES = ("hellaswag", "arc_easy", "piqa")


def _tokenizer(out_dir: str, vocab: int) -> str:
    import sentencepiece as spm

    from pipeline.assets import asset_path

    with open(asset_path("lee_background.cor"), encoding="utf-8", errors="replace") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    prefix = os.path.join(out_dir, "tokenizer")
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=prefix, vocab_size=vocab,
                                   model_type="bpe", byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                   minloglevel=2)
    return prefix + ".model"


def _model_dir(root: str, args: ModelArgs) -> str:
    model = Transformer(args)
    model.init_weights(seed=0)
    return export(model.state_dict(), args, os.path.join(root, "hf"), _tokenizer(root, args.vocab_size))


def _ours(model, tok, items: dict, device: torch.device, bf16: bool) -> list[int]:
    preds = []
    for name, task_items in items.items():
        preds += [r["prediction"] for r in score_choices(model, tok, TASKS[name], task_items, device, 8192, bf16)]
    return preds


def _theirs(lm, items: dict) -> list[int]:
    from lm_eval.api.instance import Instance

    requests, spans = [], []
    for task_items in items.values():
        for item in task_items:
            start = len(requests)
            requests += [Instance("loglikelihood", {}, (item.contexts[0], c), len(requests)) for c in item.continuations()]
            spans.append((item, start))
    scores = [ll for ll, _ in lm.loglikelihood(requests, disable_tqdm=True)]
    return [rules.char_norm_pick(scores[s:s + len(item.choices)], item.choices) for item, s in spans]


def run(quick: bool = True) -> list[Row]:
    from lm_eval.models.huggingface import HFLM

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    args = ModelArgs(dim=128, n_layers=4, n_heads=4, vocab_size=2000, multiple_of=32, max_seq_len=256) if quick else \
        ModelArgs(dim=512, n_layers=8, n_heads=8, vocab_size=2000, multiple_of=64, max_seq_len=512)
    per_task = 30 if quick else 200
    with tempfile.TemporaryDirectory() as root:
        hf_dir = _model_dir(root, args)
        model, tok = load_hf(hf_dir)
        model.to(device)
        lm = HFLM(pretrained=hf_dir, backend="causal", batch_size=32, add_bos_token=True, device=str(device),
                  dtype="bfloat16" if cuda else "float32")
        items = {name: load_items(TASKS[name], limit=per_task)[0] for name in TASK_NAMES}
        n = sum(len(v) for v in items.values())
        ours_s, theirs_s, agree = float("inf"), float("inf"), 0
        for _ in range(2 if quick else 3):
            t0 = time.perf_counter()
            ours = _ours(model, tok, items, device, bf16=cuda)
            if cuda:
                torch.cuda.synchronize()
            ours_s = min(ours_s, time.perf_counter() - t0)
            t0 = time.perf_counter()
            theirs = _theirs(lm, items)
            theirs_s = min(theirs_s, time.perf_counter() - t0)
            agree = sum(a == b for a, b in zip(ours, theirs))
    where = torch.cuda.get_device_name(0) if cuda else f"CPU, {torch.get_num_threads()} threads"
    shape = f"dim {args.dim}, {args.n_layers} layers, vocab {args.vocab_size}"
    return [Row("eval multiple choice", "items/s", n / ours_s, "lm-eval HFLM (batch 32)", n / theirs_s,
                notes=f"{n} items of {', '.join(TASK_NAMES)}; {shape}; {where}; picks agree on {agree}/{n}")]
