"""The evaluator (training.evaluation): each scoring rule on literal items, the packed
log-likelihoods against plain forward passes, greedy answers, few-shot prompts, bad input, and
the command end to end on the real benchmark files."""

from __future__ import annotations

import collections
import json
import os

import pytest
import torch

from tests.fixtures.evaluation import eval_model  # noqa: F401 (fixture)
from tests.fixtures.training import one_thread  # noqa: F401 (fixture)
from training.evaluation import formats, rules, tasks
from training.evaluation.__main__ import main
from training.evaluation.formats import Item
from training.evaluation.loading import Tokenizer, load_hf, load_run
from training.evaluation.run import score_choices
from training.evaluation.scoring import encode_pair, greedy, loglikelihoods, make_group, make_groups
from training.tools import generate

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loaded(eval_model):  # noqa: F811
    model, tok, step = load_run(os.path.join(eval_model.runs, "t"), eval_model.tokenizer)
    assert step == 3
    return model, tok


def plain_loglik(model, ctx: list[int], cont: list[int]) -> float:
    """log P(cont | ctx) from one ordinary causal forward pass over ctx + cont."""
    tokens = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(tokens[:, :-1]).float(), -1)[0]
    return float(sum(logp[len(ctx) - 1 + j, t] for j, t in enumerate(cont)))


def test_packed_loglikelihoods_equal_plain_forward_passes(loaded):
    model, tok = loaded
    items = [("Question: Who was the master?\nAnswer:", [" Botchan", " the headmaster of a school", " Red Shirt"]),
             ("I was born ", ["in Tokyo", "a boy"]),  # a trailing space moves to the continuation
             ("Answer:", [" yes", " no"])]
    groups = [make_group(tok, ctx, conts, model.args.max_seq_len) for ctx, conts in items]
    packed = loglikelihoods(model, groups, CPU, budget=64)  # a small budget: several batches, padding
    for (ctx, conts), group, scores in zip(items, groups, packed):
        for cont, (ll, n) in zip(conts, scores):
            c, x = encode_pair(tok, ctx, cont)
            assert n == len(x) and c == group.context
            assert ll == pytest.approx(plain_loglik(model, c, x), abs=1e-4)


def test_a_context_or_continuation_longer_than_the_model_is_cut_to_fit(loaded):
    model, tok = loaded
    long_ctx, long_cont = "It was a fine day. " * 200, " and then" * 400
    short = [" It rained", " Rain", " It rained", " Rain"]
    groups = make_groups(tok, long_ctx, short, model.args.max_seq_len)
    lengths = {len(encode_pair(tok, long_ctx, c)[1]) for c in short}
    assert len(groups) == len(lengths) < len(short)  # one cut serves the continuations of one length
    assert sorted(idx for _, idx in groups) == [[0, 2], [1, 3]]
    groups = make_groups(tok, long_ctx, [" It rained", long_cont], model.args.max_seq_len)
    assert [g.cut > 0 for g, _ in groups] == [True, True] and [i for _, i in groups] == [[0], [1]]
    assert len(groups[1][0].context) == 1 and len(groups[1][0].continuations[0]) == model.args.max_seq_len
    scores = loglikelihoods(model, [g for g, _ in groups], CPU)
    c, x = groups[0][0].context, groups[0][0].continuations[0]
    assert len(c) + len(x) == model.args.max_seq_len + 1
    assert scores[0][0][0] == pytest.approx(plain_loglik(model, c, x), abs=1e-4)
    assert scores[1][0][1] == model.args.max_seq_len


def test_checkpoint_and_transformers_folder_give_the_same_scores(loaded, eval_model):  # noqa: F811
    model, tok = loaded
    hf_model, hf_tok = load_hf(eval_model.hf)
    group = make_group(tok, "It was a fine day.", [" The sun shone", " It rained"], model.args.max_seq_len)
    assert hf_tok.encode("It was a fine day.") == tok.encode("It was a fine day.")
    ours, theirs = loglikelihoods(model, [group], CPU), loglikelihoods(hf_model, [group], CPU)
    assert [s for s, _ in ours[0]] == pytest.approx([s for s, _ in theirs[0]], abs=1e-5)


def test_character_normalisation_picks_the_longer_choice_the_raw_sum_rejects():
    logliks, choices = [-2.0, -6.0], ["ab", "abcdefgh"]
    assert rules.raw_pick(logliks) == 0
    assert rules.char_norm_pick(logliks, choices) == 1  # -1.0 per char against -0.75


def test_answer_ratio_divides_by_the_unconditional_probability():
    # P(c|ctx)/P(c|"Answer:"): choice 1 is less likely given the context, but far more so than
    # it is a priori.
    assert rules.uncond_pick([-5.0, -6.0], [-1.0, -4.0]) == 1
    assert rules.raw_pick([-5.0, -6.0]) == 0


def test_uncond_task_scores_each_choice_after_answer_colon(loaded):
    model, tok = loaded
    item = Item("x", ["The passage.\nQuestion: is it?\nAnswer:"], ["no", "yes"], 1)
    (record,) = score_choices(model, tok, tasks.TASKS["boolq"], [item], CPU, 8192, False)
    alone = loglikelihoods(model, [make_group(tok, "Answer:", [" no", " yes"], 256)], CPU)[0]
    given = loglikelihoods(model, [make_group(tok, item.contexts[0], [" no", " yes"], 256)], CPU)[0]
    for choice, (u, _), (ll, n) in zip(record["choices"], alone, given):
        assert choice["loglik_unconditional"] == pytest.approx(u) and choice["loglik"] == pytest.approx(ll)
        assert choice["tokens"] == n
    expect = rules.uncond_pick([ll for ll, _ in given], [u for u, _ in alone])
    assert record["prediction"] == expect and record["correct"] == (expect == 1)


def test_exact_match_normalisation():
    assert rules.normalize_answer("  The Eiffel-Tower!  ") == "eiffeltower"
    assert rules.exact_match("the Beatles.", ["Beatles"])
    assert rules.exact_match("An  apple", ["apple", "pear"])
    assert not rules.exact_match("Paris, France", ["Paris"])
    assert not rules.exact_match("", ["Paris"])
    assert not rules.exact_match("", ["---"]) and not rules.exact_match("...", [")"])  # nothing is not an answer


def test_few_shot_prompts_are_deterministic_by_seed_and_never_hold_the_item():
    pool = [Item(str(i), [f"Q: question {i}?\nA:"], [], [f"answer {i}"]) for i in range(30)]
    first = tasks.with_shots(pool[:10], pool, 5, seed=1)
    assert [it.contexts for it in first] == [it.contexts for it in tasks.with_shots(pool[:10], pool, 5, seed=1)]
    assert [it.contexts for it in first] != [it.contexts for it in tasks.with_shots(pool[:10], pool, 5, seed=2)]
    for i, it in enumerate(first):
        shots = it.contexts[0].split("\n\n")
        assert len(shots) == 6 and shots[-1] == pool[i].contexts[0]
        picked = [s.split("\nA: answer ")[1] for s in shots[:-1]]
        assert str(i) not in picked and len(set(picked)) == 5


def test_mmlu_prompt_has_the_subject_header_and_lettered_shots():
    dev = [{"question": "1 + 1 = ?", "choices": ["1", "2", "3", "4"], "answer": 1}]
    prefix = formats.mmlu_prompt("high_school_mathematics", dev)
    item = formats.mmlu({"question": "2 + 2 = ?", "choices": ["4", "5", "6", "7"], "answer": 0, "subject": "m"}, 0, prefix)
    assert item.contexts[0] == ("The following are multiple choice questions (with answers) about high school mathematics."
                                "\n\n1 + 1 = ?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n2 + 2 = ?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer:")
    assert item.continuations() == [" A", " B", " C", " D"] and item.gold == 0


def test_batched_greedy_answers_equal_one_prompt_at_a_time(loaded):
    model, tok = loaded
    prompts = ["Q: who was Botchan?\nA:", "Q: where?\nA:", "It was a long time ago, in a small town where I lived"]
    got = greedy(model, tok, prompts, CPU, stops=("\n", "."), max_new=8, batch=3)
    for prompt, answer in zip(prompts, got):
        ids = [tok.bos_id] + tok.encode(prompt)
        alone = tok.decode(generate(model, ids, 8, temperature=0)[len(ids):])
        assert answer == alone.split("\n")[0].split(".")[0].strip()


def test_malformed_rows_are_counted_and_skipped():
    rows = [{"id": "ok", "question": "q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "B"},
            {"id": "none", "question": "q?", "choices": {"text": [], "label": []}, "answerKey": "A"},
            {"id": "gold", "question": "q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "E"},
            {"id": "broken"}]
    skipped = collections.Counter()
    items = tasks.build_items(tasks.TASKS["arc_easy"], rows, skipped)
    assert [it.id for it in items] == ["ok"] and items[0].gold == 1
    assert skipped == {"gold out of range": 2, "malformed row (KeyError)": 1}
    qa = tasks.build_items(tasks.TASKS["nq_open"], [{"question": "who?", "answer": []},
                                                    {"question": "who?", "answer": [" "]}], skipped)
    assert qa == [] and skipped["empty gold"] == 2


def test_unknown_task_and_missing_checkpoint_are_clear_errors(tmp_path, capsys, eval_model):  # noqa: F811
    with pytest.raises(SystemExit) as exc:
        main(["--run", "t", "--runs-dir", eval_model.runs, "--tasks", "arc_easy,hellaswagg"])
    assert exc.value.code == 2 and "unknown task 'hellaswagg'" in capsys.readouterr().err
    assert main(["--run", "nothing", "--runs-dir", str(tmp_path), "--tokenizer", eval_model.tokenizer]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no checkpoint in") and "Traceback" not in err


def test_command_writes_records_summary_and_table(eval_model, capsys):  # noqa: F811
    argv = ["--run", "t", "--runs-dir", eval_model.runs, "--tokenizer", eval_model.tokenizer, "--limit", "4",
            "--tasks", "arc_challenge,winogrande,openbookqa,nq_open,mmlu", "--shots", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ARC-c" in out and "WinoGrande" in out and "MMLU (1-shot)" in out
    eval_dir = os.path.join(eval_model.runs, "t", "eval")
    with open(os.path.join(eval_dir, "summary.json")) as f:
        summary = json.load(f)
    assert summary["step"] == 3 and set(summary["tasks"]) == {"arc_challenge", "winogrande", "openbookqa", "nq_open", "mmlu"}
    for name, row in summary["tasks"].items():
        with open(os.path.join(eval_dir, f"{name}.jsonl")) as f:
            records = [json.loads(line) for line in f]
        assert row["items"] == len(records) == 4 and row["skipped"] == 0
        assert row["accuracy"] == sum(r["correct"] for r in records) / 4
        for r in records:
            assert {"id", "prediction", "gold", "correct"} <= set(r)
            if name != "nq_open":
                assert all(c["tokens"] > 0 and c["loglik"] < 0 for c in r["choices"])
                assert r["correct"] == (r["prediction"] == r["gold"])
    mmlu = [json.loads(line) for line in open(os.path.join(eval_dir, "mmlu.jsonl"))]
    assert len({r["id"].split("/")[0] for r in mmlu}) == 4  # a small limit covers several subjects


def test_training_records_task_accuracies_against_tokens(tmp_path, eval_model, capsys):  # noqa: F811
    import shutil

    from tests.fixtures.training import tiny_config, write_tokens
    from training.train import parse, train

    data = tmp_path / "data"
    write_tokens(str(data), vocab=400)
    (data / "tokenizer").mkdir()
    shutil.copy(eval_model.tokenizer, data / "tokenizer" / "tokenizer.model")
    cfg = tiny_config(str(data), str(tmp_path / "runs"), steps=4, eval_every=2, eval_tasks="arc_easy,boolq",
                      eval_limit=3)
    train(cfg)
    with open(tmp_path / "runs" / "t" / "metrics.jsonl") as f:
        rows = [json.loads(line) for line in f]
    tasks_rows = [r for r in rows if "task_acc" in r]
    assert [r["step"] for r in tasks_rows] == [2, 4]
    steps = {r["step"]: r["tokens"] for r in rows if "loss" in r}
    for r in tasks_rows:
        assert r["tokens"] == steps[r["step"]] and set(r["task_acc"]) == {"arc_easy", "boolq"}
        assert all(v in (0, 1 / 3, 2 / 3, 1) for v in r["task_acc"].values())
    with pytest.raises(SystemExit):
        parse(["--eval-tasks", "hellaswag,nope", "--data", str(data)])
    assert "unknown task 'nope'" in capsys.readouterr().err
