"""benchmarks/bench_gpu.py on the CPU: its smoke run at a tiny shape, the MFU formula, the verdict
it prints for issue 22, its RESULTS.md section, and the skip without a GPU."""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks import bench_gpu, run as bench_run
from benchmarks.bench_gpu import Case, Result
from benchmarks.common import GPU_SECTION
from tests.fixtures.training import one_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_case_runs_the_trainer_step_and_its_mfu_is_the_formula():
    result = bench_gpu.run_case(Case("ours", 8, 4, loss_chunks=2), torch.device("cpu"), smoke=True, peak_flops=1e12)
    args, seq = bench_gpu._shape(result.case, smoke=True)
    assert args.n_layers == 2 and seq == 32
    assert result.mfu == pytest.approx(args.flops_per_token(seq) * result.tokens_per_s / 1e12)
    # The 4M batch amortises one optimiser step over its micro-batches: never above the micro-batch rate.
    assert 0 < result.tokens_per_s <= result.micro_tokens_per_s
    assert math.isnan(result.peak_gib)  # no CUDA memory counter on the CPU


def test_smoke_run_writes_its_section_once(tmp_path, capsys):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n| stage | metric |\n")
    assert bench_gpu.main(["--cpu-smoke", "--only-8-layers", "--results", str(path)]) == 0
    text = path.read_text()
    assert text.startswith("# Benchmark results") and text.count(GPU_SECTION[0]) == 1
    assert "| 7B width, 8 layers, micro-batch 4 | transformers LlamaForCausalLM eager |" in text
    assert "ours eager --loss-chunks 4" in text and "x transformers eager" in text
    assert "--compile" not in text  # the smoke run does not compile, and does not say it did
    # `make bench` regenerating RESULTS.md on a machine without a GPU keeps the section.
    assert bench_run.main(["--only", "none", "--output", str(path)]) == 0
    assert text[text.index(GPU_SECTION[0]):] in path.read_text()
    bench_gpu.write_section(str(path), "the next run")  # replaces the section, keeps the rest
    assert path.read_text().count(GPU_SECTION[0]) == 1 and "the next run" in path.read_text()
    assert "ours eager --loss-chunks 4" not in path.read_text() and "| stage | metric |" in path.read_text()


def test_verdict_and_recommended_commands():
    results = [Result(Case("theirs", 8, 4), tokens_per_s=100.0, mfu=0.40),
               Result(Case("ours", 8, 4, compile=True, loss_chunks=4), tokens_per_s=135.0, mfu=0.55),
               Result(Case("ours", 8, 4), tokens_per_s=120.0, mfu=0.49),
               Result(Case("ours", 32, 1, compile=True), tokens_per_s=30.0, mfu=0.50),
               Result(Case("ours", 32, 2, compile=True, ac="selective", loss_chunks=2), tokens_per_s=31.0, mfu=0.517),
               Result(Case("ours", 32, 2, compile=True, loss_chunks=2), error="OOM")]
    lines = bench_gpu.verdict(results)
    assert lines[0].startswith("full 7B, best: 51.7% MFU") and "misses the 52% goal" in lines[0]
    assert lines[1].endswith("--model 7b --micro-batch 2 --compile --activation-checkpoint selective --loss-chunks 2")
    assert "1.35x transformers eager" in lines[2] and "meets the 1.3x goal" in lines[2]
    assert "--nproc-per-node 8" in lines[3] and "--micro-batch 4 --compile" in lines[3]
    rows = bench_gpu.rows(results, "H200")
    assert [round(r.ratio, 2) for r in rows[:2]] == [1.35, 1.2]
    assert math.isnan(rows[2].peer)  # no transformers run at full depth: no ratio


def test_skips_without_a_gpu(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench_gpu.main([]) == 0
    assert bench_gpu.run(quick=True) == []
    assert "no CUDA GPU" in capsys.readouterr().out
    assert bench_gpu.main(["--cases", "0,99"]) == 2  # a case number that does not exist: an error
    assert "error: --cases" in capsys.readouterr().err
