"""The documentation (README.md and docs/**/*.md) against the project.

- Every fenced code block declares its kind (```sh, ```text, ...).
- Every command of a ```sh block either runs here (it asks for `--help` or `--dry-run`) or is
  matched by NOT_RUN below, which says why it cannot run here. A `make` command that is not run
  must name a target and variables the Makefile has; a `python -m` / `torchrun -m` command that is
  not run must name only flags its entry point (or Apache Beam, for the Beam jobs) accepts.
- In a ```text block, a line `$ <command>` is a quoted run: the command is run here and every
  line quoted under it must be a line of its output (so a figure copied from `--dry-run` follows
  the code).
- A `stage`, `metric` pair on a table line of docs/scale-and-cost.md names a row of
  benchmarks/RESULTS.md, and the row's figure is written on that line.
- Every Makefile target is in the README's command table; every relative link and anchor resolves.

Adding a page or a command is editing markdown: a new `--help`/`--dry-run` command is run as it is,
and a new command that cannot run here needs a NOT_RUN pattern only when none matches it yet.
All the commands that run go through one Python process (one import of Beam and torch).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = sorted(["README.md", *(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                                                                              recursive=True))])
FENCE_KINDS = {"sh", "text", "sql", "json"}
README_MAX_BYTES = 10_000  # a front page: what it is, quickstart, links (the rest is in docs/)

# (pattern matched at the start of a command, why it is not run here). First match wins.
_SOURCES_JOBS = "a corpus job on real data; every source's job runs on its sample in tests/sources/"
NOT_RUN: list[tuple[str, str]] = [
    (r"git clone ", "clones the repository over the network"),
    (r"(curl|wget|rsync) ", "a download from the data's publisher (no network here)"),
    (r"for lang in .*wget ", "a download from the data's publisher (no network here)"),
    (r"(gsutil|aws|bq) ", "needs a cloud account (Google Cloud or AWS)"),
    (r"ARGS=.*DataflowRunner", "Dataflow flags for the commands after it: needs a Google Cloud account"),
    (r"make \w+ .*(DATA|INPUT)=.?(gs|s3)://", "reads or writes a bucket: needs a cloud account"),
    (r"mkdir -p (downloads|data/raw/\w+)$", "makes the folder a download goes to"),
    (r"zcat data/clean/", "reads the output of the command before it"),
    (r"make demo$", "the whole recipe on the sample, minutes of CPU; each stage runs on its sample in the "
                    "tests of its package (tests/sources, tests/tokenizer, tests/tokens, tests/training)"),
    (r"make test$", "the whole test suite, which this test is part of (CI runs it on a fresh clone)"),
    (r"make corpus SOURCE=commoncrawl INPUT='downloads/", "reads a downloaded Common Crawl WET file"),
    (r"make corpus ", _SOURCES_JOBS),
    (r"make (lm|classifier)\b", "trains on Wikipedia and crawl data; tests/sources/test_commoncrawl_models.py"),
    (r"make tokenizer", "trains on the clean corpus; tests/tokenizer/test_tokenizer.py"),
    (r"make tokens", "encodes the clean corpus; tests/tokens/test_tokens.py"),
    (r"make train ", "trains a model on token shards; tests/training/test_train.py"),
    (r"make eval ", "needs a trained run; tests/training/test_eval.py (test_command_writes_records_summary_and_table)"),
    (r"python -m training.train .*--eval-tasks ", "trains a model; tests/training/test_eval.py "
                                                  "(test_training_records_task_accuracies_against_tokens)"),
    (r"python -m training.train .*--sample ", "needs a trained checkpoint; tests/training/test_model.py "
                                              "(test_export_carries_the_tokenizer_and_sample_writes_text)"),
    (r"python -m training.export ", "needs a trained checkpoint; tests/training/test_model.py and test_checkpoint.py"),
    (r"torchrun --nproc-per-node 8 ", "needs 8 GPUs; the README's line runs on 2 CPU processes in "
                                      "tests/training/test_checkpoint.py"),
    (r"torchrun --nnodes ", "needs several GPU nodes"),
]
# Variables the commands take besides the Makefile's own `NAME ?=` ones (read by scripts/*.sh).
SCRIPT_VARIABLES = {"TORCH", "UPGRADE", "PYTHON"}


# --- reading the pages -------------------------------------------------------------------------
def read(page: str) -> str:
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(kind, lines) of every fenced block (indented fences of list items too)."""
    blocks, kind, lines, indent = [], None, [], 0
    for line in text.splitlines():
        stripped = line.strip()
        if kind is None and stripped.startswith("```"):
            kind, lines, indent = stripped[3:].strip(), [], len(line) - len(line.lstrip())
        elif kind is not None and stripped == "```":
            blocks.append((kind, lines))
            kind = None
        elif kind is not None:
            lines.append(line[indent:] if line[:indent].strip() == "" else line)
    assert kind is None, "a fenced block is not closed"
    return blocks


def commands(lines: list[str]) -> list[str]:
    """The commands of a ```sh block: `\\` continuations joined, comments and blank lines left out."""
    out, current = [], ""
    for line in lines:
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        words = shlex.split(current, comments=True)
        if words:
            out.append(re.sub(r"\s+", " ", current.split(" #", 1)[0]).strip())
        current = ""
    return out


def quoted_runs(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(command, output lines quoted under it) for each `$ command` line of a ```text block."""
    runs: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("$ "):
            runs.append((line[2:].strip(), []))
        elif runs and line.strip():
            runs[-1][1].append(line.strip())
    return runs


def all_blocks() -> list[tuple[str, str, list[str]]]:
    return [(page, kind, lines) for page in PAGES for kind, lines in fenced_blocks(read(page))]


def why_not_run(command: str) -> str | None:
    for pattern, reason in NOT_RUN:
        if re.match(pattern, command):
            return reason
    return None


def runs_here(command: str) -> bool:
    words = shlex.split(command)
    return words[:2] == ["python", "-m"] and ("--help" in words or "--dry-run" in words)


# --- running entry points in one process -------------------------------------------------------
_CHILD = r"""
import contextlib, io, json, runpy, sys, warnings
warnings.simplefilter("ignore")
todo, done = sys.argv[1], sys.argv[2]
results = []
for argv in json.load(open(todo)):
    out = io.StringIO()
    sys.argv = [argv[0], *argv[1:]]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    results.append([code, out.getvalue()])
json.dump(results, open(done, "w"))
"""


def run_modules(argvs: list[list[str]], tmp_path) -> list[tuple[int, str]]:
    """Runs each [module, *args] as `python -m module args` in one Python process; (code, output)."""
    todo, done = tmp_path / "argvs.json", tmp_path / "results.json"
    todo.write_text(json.dumps(argvs))
    env = dict(os.environ, PYTHONPATH=ROOT, COLUMNS="200")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(todo), str(done)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [tuple(r) for r in json.loads(done.read_text())]


def module_argv(command: str) -> tuple[list[str], list[str]]:
    """(module and the words after it, the words before `-m`) of a python/torchrun command."""
    words = shlex.split(command)
    i = words.index("-m")
    return words[i + 1:], words[:i]


def help_argv(argv: list[str]) -> list[str]:
    """The `--help` call that lists every flag `argv` may use (a source's own flags too)."""
    extra = argv[argv.index("--source"):argv.index("--source") + 2] if "--source" in argv else []
    return [argv[0], *extra, "--help"]


def flags(words: list[str]) -> set[str]:
    return {w.split("=", 1)[0] for w in words if w.startswith("--")}


def beam_flags() -> set[str]:
    from apache_beam.options.pipeline_options import PipelineOptions

    return {"--" + name for name in PipelineOptions([]).get_all_options()}


# --- the tests ---------------------------------------------------------------------------------
def test_every_fenced_block_says_what_it_holds():
    bad = [(page, kind) for page, kind, _ in all_blocks() if kind not in FENCE_KINDS]
    assert bad == [], f"fenced blocks need one of {sorted(FENCE_KINDS)} after the ```: {bad}"


def test_every_command_runs_here_or_says_why_not():
    unexplained = [(page, c) for page, kind, lines in all_blocks() if kind == "sh"
                   for c in commands(lines) if not runs_here(c) and why_not_run(c) is None]
    assert unexplained == [], ("these commands neither run here (--help, --dry-run) nor match NOT_RUN "
                               f"in tests/project/test_docs.py: {unexplained}")


def test_commands_run_and_the_others_name_what_exists(tmp_path):
    """Runs every runnable command and every quoted `$ command`, and checks the flags of the
    python/torchrun commands that are not run against their entry point's --help, in one process."""
    shown = [c for _, kind, lines in all_blocks() if kind == "sh" for c in commands(lines)]
    quoted = [(c, out) for _, kind, lines in all_blocks() if kind == "text" for c, out in quoted_runs(lines)]
    for command, _ in quoted:
        assert runs_here(command), f"a quoted run must be one that runs here (--help, --dry-run): {command}"
    to_run = [c for c in shown if runs_here(c)] + [c for c, _ in quoted]
    checked = [c for c in shown if not runs_here(c) and re.search(r"(^|\s)-m\s", c) and c.split()[0] in
               ("python", "torchrun")]
    argvs = [module_argv(c)[0] for c in to_run] + [help_argv(module_argv(c)[0]) for c in checked]
    unique = list(dict.fromkeys(map(tuple, argvs)))
    results = dict(zip(unique, run_modules([list(a) for a in unique], tmp_path)))
    for command in to_run:
        code, output = results[tuple(module_argv(command)[0])]
        assert code == 0, f"{command} exited {code}:\n{output[-2000:]}"
    for command, lines in quoted:
        output = {line.strip() for line in results[tuple(module_argv(command)[0])][1].splitlines()}
        missing = [line for line in lines if line not in output]
        assert missing == [], f"`{command}` no longer prints these quoted lines: {missing}"
    beam = beam_flags()
    for command in checked:
        argv, before = module_argv(command)
        code, helptext = results[tuple(help_argv(argv))]
        assert code == 0, f"{help_argv(argv)} exited {code}:\n{helptext[-2000:]}"
        known = set(re.findall(r"--[\w-]+", helptext)) | (beam if "Apache Beam" in helptext else set())
        unknown = sorted(flags(argv[1:]) - known)
        assert unknown == [], f"`{command}`: {argv[0]} takes no {unknown}"
        if before[0] == "torchrun":
            assert "--nproc-per-node" in before or "--nnodes" in before, command


def makefile_targets_and_variables() -> tuple[list[str], set[str]]:
    text = read("Makefile")
    targets = re.findall(r"^([\w-]+):", text, flags=re.M)
    variables = set(re.findall(r"^(\w+) \?=", text, flags=re.M)) | SCRIPT_VARIABLES
    return targets, variables


def test_make_commands_name_targets_and_variables_the_makefile_has():
    targets, variables = makefile_targets_and_variables()
    for page, kind, lines in all_blocks():
        for command in (commands(lines) if kind == "sh" else []):
            words = shlex.split(command)
            for i in [i for i, w in enumerate(words) if w == "make"]:
                args = words[i + 1:]
                named = [w for w in args if re.fullmatch(r"[\w-]+", w)]
                assert named and named[0] in targets, f"{page}: `{command}`: no Makefile target {named[:1]}"
                given = {w.split("=", 1)[0] for w in args if re.match(r"[A-Z_]+=", w)}
                assert given <= variables, f"{page}: `{command}`: the Makefile takes no {sorted(given - variables)}"


def test_every_makefile_target_is_in_the_readme():
    targets, _ = makefile_targets_and_variables()
    readme = read("README.md")
    missing = [t for t in targets if not re.search(rf"`make {re.escape(t)}\b", readme)]
    assert missing == [], f"the README's command table does not name make {missing}"
    assert len(readme.encode()) <= README_MAX_BYTES, "the README is a front page: move detail into docs/"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    text = "\n".join(line for line in _outside_code(read(page)))
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _outside_code(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def links(page: str) -> list[str]:
    text = "\n".join(_outside_code(read(page)))
    text = re.sub(r"``.*?``|`[^`\n]*`", "", text)  # a link inside a code span is no link
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for page in PAGES:
        for target in links(page):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            if not os.path.exists(os.path.join(ROOT, resolved)):
                broken.append(f"{page}: {target} (no {resolved})")
            elif anchor and (not resolved.endswith(".md") or anchor not in anchors(resolved)):
                broken.append(f"{page}: {target} (no heading #{anchor} in {resolved})")
    assert broken == [], broken


def results_rows() -> dict[tuple[str, str], str]:
    rows = {}
    for line in read("benchmarks/RESULTS.md").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 3 and cells[0] not in ("stage", "---"):
            rows[(cells[0], cells[1])] = cells[2]
    return rows


def test_scale_and_cost_figures_come_from_named_benchmark_rows():
    rows = results_rows()
    cited = 0
    for line in read("docs/scale-and-cost.md").splitlines():
        if not line.startswith("|"):
            continue
        for stage, metric in re.findall(r"`([^`]+)`, `([^`]+)`", line):
            assert (stage, metric) in rows, f"benchmarks/RESULTS.md has no row {stage!r}, {metric!r}: {line}"
            assert rows[(stage, metric)] in line, f"the row {stage!r}, {metric!r} says {rows[(stage, metric)]}: {line}"
            cited += 1
    assert cited > 0


def project_code() -> str:
    """The text of every .py and .sh file of the project and of the Makefile: what prints messages."""
    paths = [os.path.join(ROOT, "Makefile")]
    for top in ("pipeline", "sources", "tokenizer", "tokens", "training", "scripts", "samples"):
        paths += glob.glob(os.path.join(ROOT, top, "**", "*.py"), recursive=True)
    paths += glob.glob(os.path.join(ROOT, "scripts", "*.sh"))
    text = "\n".join(read(os.path.relpath(p, ROOT)) for p in paths)
    return re.sub(r"[\"']\s*\n\s*[rfb]*[\"']", "", text)  # a message's string literals split over lines, joined


def message_fragments(message: str) -> list[str]:
    """The runs of a quoted message that the code writes literally: what lies between the parts
    that vary (paths, figures, quoted values, `...`), with the `error: ` / `[setup] ` prefix off."""
    def varies(word: str) -> bool:
        return word.startswith("--") or bool(re.search(r"[/.'\"`*=]", word)) or (
            bool(re.search(r"\d", word)) and not re.search("[A-Za-z]", word))

    runs, current = [], []
    for word in re.sub(r"^(error: |\[setup\] )", "", message).split() + ["/"]:
        if varies(word):
            if len(current) >= 2 and len(" ".join(current)) >= 10:
                runs.append(" ".join(current))
            current = []
        else:
            current.append(word)
    return runs


def test_faq_quotes_messages_the_code_prints():
    """Each message docs/faq.md quotes (a bold code span) shares words with the code that prints
    it, so a message reworded or gone shows here."""
    code = project_code()
    messages = re.findall(r"^\*\*`+ ?(.+?) ?`+\*\*", read("docs/faq.md"), flags=re.M)
    assert len(messages) >= 10
    unknown = []
    for message in messages:
        if not any(candidate in code for candidate in message_fragments(message)):
            unknown.append(message)
    assert unknown == [], f"docs/faq.md quotes messages the code does not print: {unknown}"


# --- the checks catch what they are for ---------------------------------------------------------
def test_the_parsers_find_commands_quotes_links_and_anchors():
    block = ["make corpus SOURCE=github \\", "  INPUT=x   # a comment", "", "# only a comment", "python -m a --help"]
    assert commands(block) == ["make corpus SOURCE=github INPUT=x", "python -m a --help"]
    assert quoted_runs(["$ python -m t --dry-run", "line one", "$ python -m u --help", "x"]) == [
        ("python -m t --dry-run", ["line one"]), ("python -m u --help", ["x"])]
    assert slug("Several GPUs, several nodes: `torchrun`") == "several-gpus-several-nodes-torchrun"
    assert slug("Dataflow (or any Beam runner)") == "dataflow-or-any-beam-runner"
    assert why_not_run("wget -P data https://x") and why_not_run("python -m sources.run --source x") is None
    assert runs_here("python -m training.train --model 7b --dry-run") and not runs_here("make demo --dry-run")
    assert message_fragments("error: input '/x/*.gz' matches no file") == ["matches no file"]
    assert message_fragments("error: --vocab-size 70,000: token shards are uint16, at most 65,536 pieces") == [
        "token shards are uint16, at most"]
    assert "matches no file" in project_code() and "the frobnicator exploded" not in project_code()
