"""The report renders in a real browser: every section present, no broken image."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess

import pytest

from scripts.report import SECTIONS, build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _write_docs(path, docs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d) + "\n")


def _world(root):
    data, runs = root / "data", root / "runs"
    for source, dropped in (("commoncrawl", {"not_english": 3, "perplexity_tail": 2}), ("books", {"near_duplicate": 2})):
        os.makedirs(data / "clean" / source)
        stats = {"source": source, "documents_in": 10, "documents_out": 10 - sum(dropped.values()),
                 "dropped": dropped, "errors": {}, "chars_in": 1000, "chars_out": 600,
                 "chars_dropped": {k: 50 for k in dropped}, "seconds": 1.0,
                 "perplexity_cutoffs": {"head": 340.0, "tail": 520.0}}
        (data / "clean" / source / "stats.json").write_text(json.dumps(stats))
    _write_docs(str(data / "clean" / "commoncrawl" / "commoncrawl-00000-of-00001.jsonl.gz"),
                [{"id": f"cc/{i}", "text": "t", "source": "commoncrawl",
                  "meta": {"perplexity": 100.0 + 40 * i, "language_score": 0.5 + i / 20}} for i in range(10)])
    _write_docs(str(data / "clean" / "books" / "books-00000-of-00001.jsonl.gz"),
                [{"id": f"b/{i}", "text": "t", "source": "books", "meta": {"cluster_size": 1 + i % 3}} for i in range(6)])
    os.makedirs(data / "tokenizer")
    (data / "tokenizer" / "tokenizer.json").write_text(json.dumps(
        {"vocab_size": 4000, "bytes_per_token": {"books": {"ours": 3.1, "reference": 3.6}}}))
    os.makedirs(data / "tokens")
    (data / "tokens" / "mix.json").write_text(json.dumps(
        {"seq_len": 256, "sources": {"commoncrawl": {"proportion_asked": 0.67, "proportion_realised": 0.668,
                                                     "epochs": 1.1, "tokens_available": 1000}},
         "shards": [{"file": "train-00000.bin", "tokens": 2570}]}))
    os.makedirs(runs / "demo")
    with open(runs / "demo" / "metrics.jsonl", "w") as f:
        for step in range(1, 21):
            f.write(json.dumps({"step": step, "loss": 8 - step * 0.1, "lr": 1e-3, "tokens_per_s": 1000,
                                "tokens": 4096 * step}) + "\n")
            if step % 10 == 0:
                f.write(json.dumps({"step": step, "val_loss": 7.5, "val_losses": {"books": 7.4}}) + "\n")
                f.write(json.dumps({"step": step, "tokens": 4096 * step,
                                    "task_acc": {"hellaswag": 0.25 + step / 1000, "boolq": 0.6}}) + "\n")
    os.makedirs(runs / "demo" / "eval")
    (runs / "demo" / "eval" / "summary.json").write_text(json.dumps({"tasks": {
        "hellaswag": {"task": "hellaswag", "title": "HellaSwag", "shots": 0, "items": 100, "accuracy": 0.26},
        "arc_easy": {"task": "arc_easy", "title": "ARC-e", "shots": 0, "items": 100, "accuracy": 0.60}}}))
    return data, runs


def test_report_has_every_section_with_figures(tmp_path):
    data, runs = _world(tmp_path)
    path = build_report(str(data), str(runs), str(tmp_path / "report"))
    page = open(path).read()
    for key in SECTIONS:
        assert f'<section id="{key}">' in page
    assert "Not available yet" not in page  # every section had its inputs
    pngs = sorted(os.listdir(tmp_path / "report"))
    assert {"perplexity.png", "language_scores.png", "book_clusters.png", "bytes_per_token.png",
            "training_loss.png", "funnel_books.png", "funnel_commoncrawl.png", "benchmarks_during_training.png"} <= set(pngs)


def test_report_draws_benchmarks_against_tokens_and_says_which_are_near_chance(tmp_path):
    from scripts.report_eval import curves, near_chance

    data, runs = _world(tmp_path)
    rows = [json.loads(line) for line in open(runs / "demo" / "metrics.jsonl")]
    val, acc = curves(rows)
    assert val == [(40960, 7.5), (81920, 7.5)]
    assert acc == {"hellaswag": [(40960, 0.26), (81920, 0.27)], "boolq": [(40960, 0.6), (81920, 0.6)]}
    assert near_chance(0.26, 0.25, 100) and not near_chance(0.60, 0.25, 100)
    section = _sections(open(build_report(str(data), str(runs), str(tmp_path / "report"))).read())["benchmarks"]
    assert "<td>HellaSwag</td>" not in section and "<th>HellaSwag</th>" in section and "<td>26.0</td>" in section
    assert "1 of 2 multiple-choice accuracies are within two standard errors of chance" in section


def test_report_renders_in_headless_chromium(tmp_path):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package `chromium`; `make setup` installs it when it can)")
    data, runs = _world(tmp_path)
    path = build_report(str(data), str(runs), str(tmp_path / "report"))
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
         f"file://{os.path.abspath(path)}"],
        capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body, f"no DOM from Chromium: {proc.stderr[-500:]}"
    images = int(re.search(r'data-images="(\d+)"', body.group(0)).group(1))
    broken = int(re.search(r'data-broken-images="(\d+)"', body.group(0)).group(1))
    assert images == len([p for p in os.listdir(tmp_path / "report") if p.endswith(".png")]) == 8
    assert broken == 0
    for key in SECTIONS:
        assert f'id="{key}"' in dom
    assert dom.count("<table>") >= 3


def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page, re.S))


@pytest.mark.parametrize("stage", ["nothing", "one_corpus", "corpus", "tokenizer", "tokens", "run"])
def test_report_renders_each_stage_and_names_what_is_missing(tmp_path, stage):
    """`make report` after only some stages: what exists is drawn, every other section says so."""
    data, runs = _world(tmp_path)
    order = ["nothing", "one_corpus", "corpus", "tokenizer", "tokens", "run"]
    reached = order.index(stage)
    if reached < 5:
        shutil.rmtree(runs / "demo")
    if reached < 4:
        shutil.rmtree(data / "tokens")
    if reached < 3:
        shutil.rmtree(data / "tokenizer")
    if reached < 2:
        shutil.rmtree(data / "clean" / "commoncrawl")
    if reached < 1:
        shutil.rmtree(data / "clean")
    sections = _sections(open(build_report(str(data), str(runs), str(tmp_path / "report"))).read())
    assert set(sections) == set(SECTIONS)
    present = {"funnels": reached >= 1, "perplexity": reached >= 2, "langid": reached >= 2, "books": reached >= 1,
               "tokenizer": reached >= 3, "mixture": reached >= 4, "training": reached >= 5}
    for key, there in present.items():
        assert ("Not available yet" not in sections[key]) == there, (key, sections[key][:300])
        assert ("<img" in sections[key] or "<table>" in sections[key]) == there or key == "mixture", key
    if reached == 1:  # one source's corpus: the others are named as not built
        assert "not built yet (no stats.json): commoncrawl, c4, github, wikipedia, arxiv, stackexchange" in sections["funnels"]


def test_report_reads_a_stats_json_of_an_older_version_and_an_unreadable_one(tmp_path):
    """A stats.json written before `errors`/`chars_*` existed is drawn with n/a and the missing
    fields named; one cut short is named as unreadable; a job that kept nothing is said plainly."""
    data, runs = _world(tmp_path)
    for source, stats in (("wikipedia", {"source": "wikipedia", "documents_in": 12, "documents_out": 9,
                                         "dropped": {"redirect": 3}}),
                          ("arxiv", {"source": "arxiv", "documents_in": 4, "documents_out": 0,
                                     "dropped": {"too_little_text": 3}, "errors": {"bad_gzip": 1},
                                     "chars_in": 900, "chars_out": 0, "chars_dropped": {"too_little_text": 800}})):
        os.makedirs(data / "clean" / source)
        (data / "clean" / source / "stats.json").write_text(json.dumps(stats))
    os.makedirs(data / "clean" / "c4")
    (data / "clean" / "c4" / "stats.json").write_text(json.dumps({"source": "c4", "documents_in": 5})[:20])
    page = open(build_report(str(data), str(runs), str(tmp_path / "report"))).read()
    funnels = _sections(page)["funnels"]
    assert "<tr><td>wikipedia</td><td>12</td><td>9</td><td>3</td><td>n/a</td><td>n/a</td><td>n/a</td>" in funnels
    assert "wikipedia: stats.json lacks errors, chars_in, chars_out" in funnels
    assert "arxiv: the job kept 0 documents" in funnels
    assert "unreadable stats.json (not JSON, or cut short): c4" in funnels
    assert "not built yet (no stats.json): github, stackexchange" in funnels
    assert {"funnel_wikipedia.png", "funnel_arxiv.png"} <= set(os.listdir(tmp_path / "report"))


def test_report_draws_each_languages_perplexity_cutoffs(tmp_path):
    """`--languages en,fr,de`: the job writes perplexity_cutoffs.by_language; each language's pages
    are drawn against that language's cutoffs, not all against English's."""
    data, runs = _world(tmp_path)
    by_language = {"en": {"head": 340.0, "tail": 520.0, "from": "en.cutoffs.json"},
                   "fr": {"head": 505.5, "tail": 880.0, "from": "fr.cutoffs.json"},
                   "de": {"head": 410.0, "tail": 690.0, "from": "flags"}}
    stats_path = data / "clean" / "commoncrawl" / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats["perplexity_cutoffs"] = {**by_language["en"], "by_language": by_language}
    stats_path.write_text(json.dumps(stats))
    langs = ["en"] * 5 + ["fr"] * 3 + ["de"] * 2
    _write_docs(str(data / "clean" / "commoncrawl" / "commoncrawl-00000-of-00001.jsonl.gz"),
                [{"id": f"cc/{i}", "text": "t", "source": "commoncrawl",
                  "meta": {"perplexity": 100.0 + 40 * i, "language": lang, "language_score": 0.9}}
                 for i, lang in enumerate(langs)])
    section = _sections(open(build_report(str(data), str(runs), str(tmp_path / "report"))).read())["perplexity"]
    assert "<td>fr</td><td>505.5</td><td>880</td><td>fr.cutoffs.json</td><td>3</td>" in section
    assert "<td>de</td><td>410</td><td>690</td><td>flags</td><td>2</td>" in section
    assert "<td>en</td><td>340</td><td>520</td><td>en.cutoffs.json</td><td>5</td>" in section


def test_report_survives_a_cut_shard_and_a_killed_runs_last_line(tmp_path):
    """A clean shard copied half-way (gzip cut short) and a metrics.jsonl whose last line a killed
    run left unfinished: the report uses what it can read and says what it skipped."""
    data, runs = _world(tmp_path)
    shard = data / "clean" / "books" / "books-00000-of-00001.jsonl.gz"
    rng = __import__("random").Random(0)
    words = "the of and a to in he was that it his her with as had for".split()
    _write_docs(str(shard), [{"id": f"b/{i}", "text": " ".join(rng.choice(words) for _ in range(3000)),
                              "source": "books", "meta": {"cluster_size": 1}} for i in range(40)])
    blob = shard.read_bytes()
    shard.write_bytes(blob[: len(blob) // 2])
    with open(runs / "demo" / "metrics.jsonl", "a") as f:
        f.write('{"step": 21, "loss": 5.9, "lr": 0.0009')  # killed mid-append
    sections = _sections(open(build_report(str(data), str(runs), str(tmp_path / "report"))).read())
    books = sections["books"]
    assert "unreadable shard(s) skipped from the fault on: books-00000-of-00001.jsonl.gz (EOFError)" in books
    kept = int(re.search(r"<tr><td>1</td><td>(\d+)</td></tr>", books).group(1))
    assert 0 < kept < 40  # the books before the cut are counted
    assert "20 steps" in sections["training"]
    assert "1 line(s) of demo/metrics.jsonl that are not JSON rows skipped" in sections["training"]


def test_report_says_a_run_has_no_validation_rows(tmp_path):
    data, runs = _world(tmp_path)
    with open(runs / "demo" / "metrics.jsonl", "w") as f:
        for step in range(1, 6):
            f.write(json.dumps({"step": step, "loss": 8 - step * 0.1, "lr": 1e-3, "tokens_per_s": 1000}) + "\n")
    training = _sections(open(build_report(str(data), str(runs), str(tmp_path / "report"))).read())["training"]
    assert "5 steps" in training and "<img" in training
    assert "run demo has no val_loss rows" in training


def test_report_page_is_self_contained(tmp_path):
    """Opens offline: no URL to fetch (fonts, scripts, CDNs); every image is inline and a PNG."""
    data, runs = _world(tmp_path)
    page = open(build_report(str(data), str(runs), str(tmp_path / "report"))).read()
    assert not re.search(r"(https?:)?//[\w.-]+\.\w", page.replace("<!doctype html>", ""))
    assert not re.search(r"<(link|iframe|object|embed)\b|@import|url\(|<script[^>]*\bsrc=", page, re.I)
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) == 8
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert __import__("base64").b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
