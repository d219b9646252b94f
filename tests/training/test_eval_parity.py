"""Parity with lm-evaluation-harness (the `lm-eval` package, test-only, requirements/nodeps.lock):
on our exported tiny model, its HF model's log-likelihoods of the same (context, continuation)
pairs of ARC, HellaSwag and BoolQ agree with ours, and so do the acc_norm picks."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures.evaluation import eval_model  # noqa: F401 (fixture)
from tests.fixtures.training import one_thread  # noqa: F401 (fixture)
from training.evaluation import rules
from training.evaluation.loading import load_hf
from training.evaluation.run import score_choices
from training.evaluation.scoring import loglikelihoods, make_group
from training.evaluation.tasks import TASKS, load_items

pytestmark = pytest.mark.usefixtures("one_thread")
# Items per task: ARC-e 4 choices, ARC-c 4, HellaSwag 4, BoolQ 2 -> 14 * 15 = 210 pairs.
PER_TASK = 15


def test_loglikelihoods_and_acc_norm_picks_agree_with_lm_evaluation_harness(eval_model):  # noqa: F811
    pytest.importorskip("lm_eval", reason="lm-eval is installed by `make setup` (requirements/nodeps.lock)")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model, tok = load_hf(eval_model.hf)
    cpu = torch.device("cpu")
    pairs, records = [], {}
    for name in ("arc_easy", "arc_challenge", "hellaswag", "boolq"):
        items, _ = load_items(TASKS[name], limit=PER_TASK)
        records[name] = (items, score_choices(model, tok, TASKS[name], items, cpu, 8192, False))
        pairs += [(name, k, item.contexts[0], cont) for k, item in enumerate(items) for cont in item.continuations()]
    assert len(pairs) >= 200
    lm = HFLM(pretrained=eval_model.hf, backend="causal", batch_size=32, add_bos_token=True, device="cpu",
              dtype="float32")
    requests = [Instance("loglikelihood", {}, (ctx, cont), i) for i, (_, _, ctx, cont) in enumerate(pairs)]
    theirs = [ll for ll, _ in lm.loglikelihood(requests, disable_tqdm=True)]
    # Ours pair by pair (one context, one continuation a group) and as the evaluator scores them.
    ours = loglikelihoods(model, [make_group(tok, ctx, [cont], 256) for _, _, ctx, cont in pairs], cpu)
    assert [s for (s, _), in ours] == pytest.approx(theirs, abs=1e-4)
    at = 0
    for name, (items, recs) in records.items():
        for item, rec in zip(items, recs):
            n = len(item.choices)
            mine, harness = [c["loglik"] for c in rec["choices"]], theirs[at:at + n]
            at += n
            assert mine == pytest.approx(harness, abs=1e-4)
            if TASKS[name].rule == "char_norm":  # the harness's acc_norm: the same rule
                assert rec["prediction"] == rules.char_norm_pick(harness, item.choices), (name, item.id)
    assert at == len(pairs)
