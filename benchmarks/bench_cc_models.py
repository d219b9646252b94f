"""`make lm` and `make classifier`: peak memory at 1x and 4x their input, with the sample caps
below the 1x input, so what is measured is the cap, not the corpus (goal: flat, 4x ~ 1x).

Input: clean Wikipedia in three languages, as the Wikipedia job writes it (`meta.language`): the
106 articles of the enwiki dump asset (en, ~3.3M characters of training lines), Debian's German
fortunes in documents of 20 (de, ~2.7M; none where fortunes-de is not installed) and the bgwiki
asset (bg, ~8,000 characters: below `--min-chars`, so it gets no model), and the URLs the English
articles cite as the Wikipedia job writes them; `make lm` is run with `--languages en,de,bg`, one
streamed pass and a capped sample per language. Raw CommonCrawl: the sample's WET files
(`samples.commoncrawl.build`, 60 of whose pages those articles cite). 4x is four copies of each with
new ids (a clean shard and a cited-URL file per copy; the sample built with four seeds, so new WARC
record ids). Every run is its own process; its peak is that process's VmHWM (lmplz, a child, not
counted; the classifier's Beam job runs in that process: the in-memory DirectRunner).
Full mode adds the commands at their default caps (above this input: the whole input is held).

    python -m benchmarks.bench_cc_models [--full]
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import Row

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Caps below the 1x input (~3.3M characters of English Wikipedia lines and ~2.7M of German, ~320
# English and ~375 raw pages), small enough that each command runs in seconds.
LANGUAGES = ("en", "de", "bg")
LM_CAPS = ["--languages", ",".join(LANGUAGES), "--max-chars", "1000000", "--reference-pages", "100",
           "--vocab-size", "2000"]
FORTUNES_A_DOC = 20
CLASSIFIER_CAPS = ["--max-examples", "50", "--epochs", "5"]
IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]  # the Beam job's memory is this process's


def wikipedia_texts() -> dict[str, list[str]]:
    """The 1x clean Wikipedia text of each language of LANGUAGES."""
    import random

    from pipeline.assets import asset_path
    from samples.commoncrawl import fortunes
    from sources.commoncrawl import lm

    sayings = fortunes("de", random.Random(0))
    return {"en": list(lm.dump_texts(asset_path(lm.ENWIKI_ASSET))),
            "de": ["\n".join(sayings[i:i + FORTUNES_A_DOC]) for i in range(0, len(sayings), FORTUNES_A_DOC)],
            "bg": list(lm.dump_texts(asset_path("bgwiki-latest-pages-articles-shortened.xml.bz2")))}


def write_input(data: str, copies: int) -> int:
    """`copies` copies of the clean Wikipedia and raw CommonCrawl input under `data`; returns bytes."""
    import html

    from pipeline.assets import asset_path
    from samples import commoncrawl as sample
    from samples.wikipedia import split_real_dump
    from sources.commoncrawl import lm
    from sources.wikipedia.citations import cited_urls

    clean = os.path.join(data, "clean", "wikipedia")
    raw = os.path.join(data, "raw", "commoncrawl")
    os.makedirs(os.path.join(clean, "cited_urls"), exist_ok=True)
    texts = wikipedia_texts()
    cited = sorted({url for page in split_real_dump(asset_path(lm.ENWIKI_ASSET))[1:-1]
                    for url in cited_urls(html.unescape(page))})
    for copy in range(copies):
        with gzip.open(os.path.join(clean, f"wikipedia-{copy:05d}-of-{copies:05d}.jsonl.gz"), "wt",
                       encoding="utf-8") as f:
            for lang, docs in texts.items():
                for i, text in enumerate(docs):
                    f.write(json.dumps({"id": f"wikipedia/{lang}/{copy}/{i}", "text": text, "source": "wikipedia",
                                        "meta": {"language": lang}}) + "\n")
        with gzip.open(os.path.join(clean, "cited_urls", f"cited_urls-{copy:05d}-of-{copies:05d}.txt.gz"), "wt",
                       encoding="utf-8") as f:
            f.write("".join(url + "\n" for url in cited))
        os.makedirs(os.path.join(raw, f"copy{copy}"), exist_ok=True)
        sample.build(os.path.join(raw, f"copy{copy}"), os.path.dirname(asset_path("lid.176.ftz")), 1234 + copy)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(data) for f in names)


def child(command: str, args: list[str]) -> dict:
    """One command in this process; its peak resident set (VmHWM) and wall time."""
    import contextlib
    import io

    from sources.commoncrawl import classifier, lm

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = (lm.main if command == "lm" else classifier.main)(args)
    seconds = time.perf_counter() - start
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    return {"rc": rc, "peak_rss_mb": peak, "seconds": seconds}


def measured(command: str, data: str, caps: list[str]) -> dict:
    out = os.path.join(data, f"models-{command}")
    model = os.path.join(out, "wiki_classifier.bin")
    where = ["--lm-dir", out] if command == "lm" else ["--output", model, *IN_PROCESS]
    cmd = [sys.executable, "-m", "benchmarks.bench_cc_models", "--child", command, "--data", data, *where, *caps]
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:6])} failed: {proc.stderr.strip()[-500:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, result
    if command == "lm":  # the languages that got a model (bg has too little text for one)
        result["models"] = sorted(name.split(".")[0] for name in os.listdir(out) if name.endswith(".arpa.bin"))
    if command == "classifier":  # the paper's positives, not the fallback: the row measures that job
        with open(os.path.join(out, "wiki_classifier.json")) as f:
            assert json.load(f)["positives"] == "wikipedia_cited_pages"
    return result


def rows_for(command: str, label: str, one: dict, four: dict, note: str) -> list[Row]:
    return [
        Row(f"make {command}", f"peak RSS MB, 4x input ({label})", four["peak_rss_mb"], "1x input",
            one["peak_rss_mb"], higher_is_better=False, notes=f"ratio = 1x / 4x; goal ~1.0 (flat); {note}"),
        Row(f"make {command}", f"seconds, 4x input ({label})", four["seconds"], "1x input", one["seconds"],
            higher_is_better=False, notes="ratio = 1x / 4x: reading still grows with the input"),
    ]


def run(quick: bool = True) -> list[Row]:
    runs = [("capped", LM_CAPS, CLASSIFIER_CAPS)]
    if not quick:
        runs.append(("default caps", [*LM_CAPS[:2], "--vocab-size", "2000"], ["--epochs", "5"]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = {n: os.path.join(tmp, f"{n}x") for n in (1, 4)}
        size = {n: write_input(path, n) for n, path in data.items()}
        note = f"input {size[1] / 1e6:.1f} MB vs {size[4] / 1e6:.1f} MB compressed"
        for label, lm_caps, classifier_caps in runs:
            for command, caps in (("lm", lm_caps), ("classifier", classifier_caps)):
                one, four = (measured(command, data[n], caps) for n in (1, 4))
                models = f"; models for {','.join(one['models'])}" if command == "lm" else ""
                assert one.get("models") == four.get("models"), (one, four)
                rows += rows_for(command, label, one, four, f"{' '.join(caps)}{models}; {note}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3:])))
    else:
        for row in run(quick="--full" not in sys.argv):
            print(f"{row.stage:<16} {row.metric:<40} 4x {row.ours:8.1f}  1x {row.peer:8.1f}  ratio {row.ratio:5.2f}"
                  f"  {row.notes}")
