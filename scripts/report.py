"""`make report`: data/report/index.html (self-contained, opens offline) plus its PNGs.

Sections: per-source funnels from stats.json; the CommonCrawl perplexity histogram with its
bucket cutoffs (one per language when the job ran with several --languages); language-ID
scores; the books near-duplicate cluster sizes; tokenizer bytes per token; the token mixture
beside the paper's Table 1; the training loss and per-source validation losses; the benchmarks'
accuracies during training and of `make eval` (`scripts/report_eval.py`). A section
whose inputs do not exist yet says so; an input that is damaged or from an older version (a
shard cut short, a stats.json lacking a field, a metrics.jsonl whose last line a killed run
left unfinished) is used as far as it can be read, and the page says what was skipped.

This module holds the sections and the command; the page and its HTML are in
`scripts/report_page.py`, the damage-tolerant reading of inputs in `scripts/report_inputs.py`.
"""

from __future__ import annotations

import argparse
import glob
import html
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from scripts.report_eval import benchmarks  # noqa: E402
from scripts.report_inputs import Scan, doc_meta, read_json  # noqa: E402
from scripts.report_page import Report, html_table, missing_note  # noqa: E402
from sources.registry import ALL_SOURCES  # noqa: E402
from sources.table1 import TABLE1  # noqa: E402

# The counts every stats.json carries today (DESIGN.md); a file written by an older version of a
# job may lack some. Those show as n/a and the report names them, the rest is still drawn.
STATS_FIELDS = ("documents_in", "documents_out", "dropped", "errors", "chars_in", "chars_out")


def _number(stats: dict, key: str):
    value = stats.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _counts(stats: dict, key: str) -> dict:
    value = stats.get(key)
    return {k: v for k, v in value.items() if isinstance(v, (int, float))} if isinstance(value, dict) else {}


def _fmt(value, spec: str = ",") -> str:
    return "n/a" if value is None else format(value, spec)


def classifier_note(stats: dict) -> str:
    """What the CommonCrawl job's Wikipedia-reference classifier was trained on (its stats.json
    `wiki_classifier`, from the JSON `make classifier` writes beside the model); loud when the
    positives were not the pages Wikipedia cites."""
    info = stats.get("wiki_classifier")
    if not isinstance(info, dict):
        return ""
    if info.get("positives") == "wikipedia_cited_pages":
        text = (f"Wikipedia-reference classifier: positives are {_fmt(info.get('positives_used'))} of the "
                f"{_fmt(info.get('cited_pages_found'))} crawl pages Wikipedia cites, negatives "
                f"{_fmt(info.get('negatives_used'))} of {_fmt(info.get('other_pages_found'))} other crawl pages.")
        return f"<p>{html.escape(text)}</p>"
    warning = info.get("warning") or f"positives: {info.get('positives')}"
    return f'<p class="warning"><strong>Wikipedia-reference classifier: {html.escape(str(warning))}</strong></p>'


def funnels(report: Report, data: str) -> None:
    body, rows, notes, absent, unreadable = [], [], [], [], []
    for source in ALL_SOURCES:
        path = os.path.join(data, "clean", source, "stats.json")
        stats = read_json(path)
        if not isinstance(stats, dict):
            (unreadable if os.path.exists(path) else absent).append(source)
            continue
        lacking = [k for k in STATS_FIELDS if k not in stats]
        if lacking:
            notes.append(f"{source}: stats.json lacks {', '.join(lacking)} (written by an older version of the "
                         f"job; rerun `make corpus SOURCE={source}` to fill them)")
        n_in, n_out = _number(stats, "documents_in"), _number(stats, "documents_out")
        c_in, c_out = _number(stats, "chars_in"), _number(stats, "chars_out")
        dropped, errors = _counts(stats, "dropped"), _counts(stats, "errors")
        chars_dropped = _counts(stats, "chars_dropped")
        rows.append([source, _fmt(n_in), _fmt(n_out), _fmt(sum(dropped.values()) if "dropped" in stats else None),
                     _fmt(sum(errors.values()) if "errors" in stats else None), _fmt(c_in), _fmt(c_out),
                     _fmt(_number(stats, "seconds"), ".1f")])
        if n_out == 0:
            notes.append(f"{source}: the job kept 0 documents" + (" (it read none)" if n_in == 0 else ""))
        steps = [("in", n_in or 0, c_in or 0)]
        for reason, n in sorted(dropped.items(), key=lambda kv: -kv[1]):
            steps.append((f"- {reason}", -n, -chars_dropped.get(reason, 0)))
        for kind, n in sorted(errors.items(), key=lambda kv: -kv[1]):
            steps.append((f"- error {kind}", -n, 0))
        steps.append(("out", n_out or 0, c_out or 0))
        fig, axes = plt.subplots(1, 2, figsize=(11, 0.35 * len(steps) + 1.2), sharey=True)
        for ax, col, unit in ((axes[0], 1, "documents"), (axes[1], 2, "characters")):
            labels = [s[0] for s in steps]
            values = [abs(s[col]) for s in steps]
            colors = ["#4c72b0" if s[0] in ("in", "out") else "#c44e52" for s in steps]
            ax.barh(range(len(steps)), values, color=colors)
            ax.set_yticks(range(len(steps)), labels, fontsize=8)
            ax.set_xlabel(unit)
            ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter())
        axes[0].invert_yaxis()
        fig.suptitle(f"{source}: what each filter removed")
        body.append(f"<h3>{source}</h3>" + report.figure(fig, f"funnel_{source}")
                    + (classifier_note(stats) if source == "commoncrawl" else ""))
    if unreadable:
        notes.append(f"unreadable stats.json (not JSON, or cut short): {', '.join(unreadable)}")
    if absent and (rows or unreadable):
        notes.append(f"not built yet (no stats.json): {', '.join(absent)}")
    note = "".join(f'<p class="missing">{html.escape(n)}.</p>' for n in notes)
    if not rows:
        report.section("funnels", "Corpus funnels", note if unreadable else missing_note("no stats.json under data/clean/"))
        return
    table = html_table(["source", "docs in", "docs out", "dropped", "errors", "chars in", "chars out", "seconds"], rows)
    report.section("funnels", "Corpus funnels", table + note + "\n".join(body))


def perplexity(report: Report, data: str) -> None:
    stats = read_json(os.path.join(data, "clean", "commoncrawl", "stats.json"))
    stats = stats if isinstance(stats, dict) else {}
    used = stats.get("perplexity_cutoffs")  # the cutoffs the job applied (flags or make lm's)
    used = used if isinstance(used, dict) else {}
    # With --languages beyond one, the job scores each page with its own language's LM and cutoffs
    # (sources/commoncrawl/source.py `extra_stats`): one histogram per language, each with its own lines.
    by_language = used.get("by_language") if isinstance(used.get("by_language"), dict) else {}
    by_language = {lang: c for lang, c in by_language.items() if isinstance(c, dict)}
    scan, groups = Scan(), {}
    for pattern in (f"{data}/clean/commoncrawl/*.jsonl.gz", f"{data}/rejected/commoncrawl/*.jsonl.gz"):
        for d in scan.docs(pattern):
            meta = doc_meta(d)
            value = meta.get("perplexity")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                lang = meta.get("language") if by_language else ""
                groups.setdefault(lang if lang in by_language or not by_language else "other", []).append(value)
    if not groups:
        report.section("perplexity", "CommonCrawl perplexity",
                       scan.note() + missing_note("no documents with a perplexity"))
        return

    def lines(c: dict) -> list:
        return [c[k] for k in ("head", "tail") if isinstance(c.get(k), (int, float)) and c[k] > 0]

    order = [lang for lang in by_language if lang in groups] + sorted(k for k in groups if k not in by_language)
    fig, axes = plt.subplots(len(order), 1, figsize=(8, 3.5 * len(order)), squeeze=False)
    for ax, lang in zip(axes[:, 0], order):
        cutoffs = lines(by_language.get(lang, {}) if by_language else used)
        ax.hist([min(v, 2000) for v in groups[lang]], bins=80, color="#4c72b0")
        for cut in cutoffs:
            ax.axvline(cut, color="#c44e52", linestyle="--")
        for cut, name, y in zip(sorted(cutoffs), ("head | middle", "middle | tail"), (0.92, 0.75)):
            ax.text(cut, ax.get_ylim()[1] * y, f" {name} {cut:g}", color="#c44e52", fontsize=8)
        ax.set_ylabel("documents")
        if by_language:
            ax.set_title(f"{lang} ({len(groups[lang])} documents)" if lang in by_language
                         else f"pages of no listed language ({len(groups[lang])})", fontsize=9)
    axes[-1, 0].set_xlabel("document perplexity (KenLM 5-gram; values over 2000 shown at 2000)")
    total = sum(len(v) for v in groups.values())
    if by_language:
        table = html_table(["language", "head | middle", "middle | tail", "cutoffs from", "documents"],
                       [[lang, _fmt(_number(c, "head"), "g"), _fmt(_number(c, "tail"), "g"), c.get("from", "-"),
                         len(groups.get(lang, []))] for lang, c in by_language.items()])
        text = f"<p>{total} documents (kept and rejected), each scored with its language's LM and cutoffs.</p>" + table
    else:
        text = (f"<p>{total} documents (kept and rejected); cutoffs {lines(used)}.</p>" if lines(used) else
                f"<p>{total} documents (kept and rejected).</p>"
                + missing_note("the cutoffs the job applied (stats.json perplexity_cutoffs)"))
    report.section("perplexity", "CommonCrawl perplexity", text + scan.note() + report.figure(fig, "perplexity"))


def language_scores(report: Report, data: str) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.5))
    any_values, scan = False, Scan()
    for source in ("commoncrawl", "c4"):
        values = []
        for pattern in (f"{data}/clean/{source}/*.jsonl.gz", f"{data}/rejected/{source}/*.jsonl.gz"):
            values += [doc_meta(d)["language_score"] for d in scan.docs(pattern)
                       if isinstance(doc_meta(d).get("language_score"), (int, float))]
        if values:
            any_values = True
            ax.hist(values, bins=40, range=(0, 1), alpha=0.6, label=f"{source} ({len(values)})")
    if not any_values:
        plt.close(fig)
        report.section("langid", "Language-ID scores", scan.note() + missing_note("no documents with a language_score"))
        return
    ax.set_xlabel("fastText lid.176 score of the top language")
    ax.set_ylabel("documents")
    ax.legend()
    report.section("langid", "Language-ID scores", scan.note() + report.figure(fig, "language_scores"))


def book_clusters(report: Report, data: str) -> None:
    scan = Scan()
    sizes = [doc_meta(d).get("cluster_size", 1) for d in scan.docs(f"{data}/clean/books/*.jsonl.gz")]
    sizes = [s for s in sizes if isinstance(s, int)]
    if not sizes:
        report.section("books", "Books near-duplicate clusters", scan.note() + missing_note("no clean books"))
        return
    counts: dict[int, int] = {}
    for s in sizes:
        counts[s] = counts.get(s, 0) + 1
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar([str(k) for k in sorted(counts)], [counts[k] for k in sorted(counts)], color="#55a868")
    ax.set_xlabel("cluster size (books sharing > 90% content; one kept per cluster)")
    ax.set_ylabel("kept books")
    report.section("books", "Books near-duplicate clusters",
                   html_table(["cluster size", "kept books"], [[k, counts[k]] for k in sorted(counts)])
                   + scan.note() + report.figure(fig, "book_clusters"))


def tokenizer_section(report: Report, data: str) -> None:
    info = read_json(os.path.join(data, "tokenizer", "tokenizer.json")) or {}
    bpt = info.get("bytes_per_token") or {}
    if not bpt:
        report.section("tokenizer", "Tokenizer bytes per token", missing_note("data/tokenizer/tokenizer.json with bytes_per_token"))
        return
    rows, names, ours, ref = [], [], [], []
    for source, value in sorted(bpt.items()):
        mine = value.get("ours") if isinstance(value, dict) else value
        theirs = value.get("reference") if isinstance(value, dict) else None
        rows.append([source, f"{mine:.3f}" if mine else "n/a", f"{theirs:.3f}" if theirs else "n/a"])
        names.append(source)
        ours.append(mine or 0)
        ref.append(theirs or 0)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], ours, width=0.4, label=f"ours (vocab {info.get('vocab_size', '?')})")
    if any(ref):
        ax.bar([x + 0.2 for x in xs], ref, width=0.4, label="reference 32k LLaMA-style")
    ax.set_xticks(list(xs), names, rotation=20)
    ax.set_ylabel("bytes per token (higher = fewer tokens)")
    ax.legend()
    report.section("tokenizer", "Tokenizer bytes per token",
                   html_table(["source", "ours", "reference"], rows) + report.figure(fig, "bytes_per_token"))


def mixture(report: Report, data: str) -> None:
    mix = read_json(os.path.join(data, "tokens", "mix.json"))
    if not mix:
        report.section("mixture", "Token mixture vs the paper's Table 1", missing_note("data/tokens/mix.json"))
        return
    rows = []
    for source, row in TABLE1.items():
        m = (mix.get("sources") or {}).get(source) or {}
        asked, real = m.get("proportion_asked"), m.get("proportion_realised")
        rows.append([source, f"{row.proportion:.1%}", f"{row.epochs:.2f}", row.disk_size,
                     f"{asked:.1%}" if isinstance(asked, (int, float)) else "-",
                     f"{real:.2%}" if isinstance(real, (int, float)) else "-",
                     f"{m['epochs']:.2f}" if isinstance(m.get("epochs"), (int, float)) else "-",
                     _fmt(_number(m, "tokens_available")) if m else "-"])
    header = ["source", "paper: proportion", "paper: epochs", "paper: disk", "asked", "realised", "epochs",
              "tokens available"]
    shards = [s for s in mix.get("shards") or [] if isinstance(s, dict)]
    total = sum(_number(s, "tokens") or 0 for s in shards)
    absent = [s for s in TABLE1 if not (mix.get("sources") or {}).get(s)]
    note = (f'<p class="missing">Not in the mixture: {html.escape(", ".join(absent))} (no clean shards when '
            f"`make tokens` ran; their weight was spread over the others).</p>") if absent else ""
    report.section("mixture", "Token mixture vs the paper's Table 1",
                   f"<p>Sequence length {mix.get('seq_len')}, {len(shards)} train shards, "
                   f"{total:,} tokens.</p>" + html_table(header, rows) + note)


def training(report: Report, runs: str) -> None:
    paths = sorted(glob.glob(os.path.join(runs, "*", "metrics.jsonl")), key=os.path.getmtime)
    if not paths:
        report.section("training", "Training loss", missing_note("no runs/<run>/metrics.jsonl"))
        return
    path = paths[-1]
    steps, losses, val_steps, val, bad = [], [], [], {}, 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            # A run killed while appending leaves its last line cut short (training/train.py `Log`
            # appends a line a step); such a line is skipped and counted, never the whole report.
            try:
                m = json.loads(line)
            except ValueError:
                m = None
            if not isinstance(m, dict) or not isinstance(m.get("step"), int):
                bad += bool(line.strip())
                continue
            if isinstance(m.get("loss"), (int, float)):
                steps.append(m["step"])
                losses.append(m["loss"])
            if isinstance(m.get("val_loss"), (int, float)):
                val_steps.append(m["step"])
                per_source = {k[len("val_loss/"):]: v for k, v in m.items() if k.startswith("val_loss/")}
                per_source.update(m.get("val_losses") if isinstance(m.get("val_losses"), dict) else {})
                per_source["all"] = m["val_loss"]
                for k, v in per_source.items():
                    if isinstance(v, (int, float)):
                        val.setdefault(k, []).append((m["step"], v))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].plot(steps, losses, color="#4c72b0")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("training loss")
    for k, points in sorted(val.items()):
        axes[1].plot([p[0] for p in points], [p[1] for p in points], marker="o", label=k)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("validation loss")
    if val:
        axes[1].legend(fontsize=7)
    else:
        axes[1].text(0.5, 0.5, "no validation rows yet", ha="center", va="center", transform=axes[1].transAxes)
    run = os.path.basename(os.path.dirname(path))
    summary = (f"<p>Run <code>{html.escape(run)}</code>: {len(steps)} steps, loss {losses[0]:.3f} at step "
               f"{steps[0]}, {losses[-1]:.3f} at step {steps[-1]}.</p>") if losses else missing_note("training steps")
    if not val:
        summary += missing_note(f"validation losses (run {run} has no val_loss rows: no evaluation step reached, "
                            f"or no data/tokens/val/*.bin)")
    if bad:
        summary += (f'<p class="missing">{bad} line(s) of {html.escape(run)}/metrics.jsonl that are not JSON rows '
                    f"skipped.</p>")
    report.section("training", "Training loss", summary + report.figure(fig, "training_loss"))


SECTIONS = ("funnels", "perplexity", "langid", "books", "tokenizer", "mixture", "training", "benchmarks")


def build_report(data: str, runs: str, out_dir: str) -> str:
    report = Report(out_dir)
    funnels(report, data)
    perplexity(report, data)
    language_scores(report, data)
    book_clusters(report, data)
    tokenizer_section(report, data)
    mixture(report, data)
    training(report, runs)
    benchmarks(report, runs)
    return report.write()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.report", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--output", default=None, help="default: DATA/report")
    args = parser.parse_args(argv)
    path = build_report(args.data, args.runs, args.output or os.path.join(args.data, "report"))
    print(f"[report] written: {os.path.abspath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
