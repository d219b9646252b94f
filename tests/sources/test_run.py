"""sources/run.py, the whole job with the toy source: stats and outputs, deterministic shards,
reruns and killed writes, and the command line (`python -m sources.run`) on what users type."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap

from pipeline import files
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source, stackexchange_dump, write_lines
from tests.fixtures.toy_source import ToyConfig, ToySource

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_whole_job_stats_and_outputs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_lines(raw / "a.txt", ["hello world", "hi", "hello world", "!bad record", "another fine line"])
    write_lines(raw / "b.txt", ["Hello World", "x"])
    out = tmp_path / "data"
    result = run_source(ToySource(ToyConfig(min_words=2)), files.expand_inputs(str(raw)), str(out))
    assert result["documents_in"] == 7
    assert result["documents_out"] == 2
    assert result["dropped"] == {"duplicate": 2, "too_short": 2}
    assert result["errors"] == {"unreadable": 1}
    # chars_in counts the text as read, however later steps edit it.
    assert result["chars_in"] == sum(map(len, ["hello world", "hi", "hello world", "another fine line",
                                                "Hello World", "x"]))
    assert sorted(d["text"] for d in clean_docs(str(out), "toy")) == ["ANOTHER FINE LINE!", "HELLO WORLD!"]
    rejected = read_jsonl_gz(str(out / "rejected" / "toy" / "*.jsonl.gz"))
    assert sorted(r["drop_reason"] for r in rejected) == ["duplicate", "duplicate", "too_short", "too_short"]
    errors = read_jsonl_gz(str(out / "errors" / "toy" / "*.jsonl.gz"))
    assert errors[0]["kind"] == "unreadable" and errors[0]["excerpt"] == "!bad record"


def test_same_input_gives_byte_identical_shards(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in range(3):
        write_lines(raw / f"f{n}.txt", [f"line {n} {i} with words" for i in range(200)])
    digests = []
    for run in ("one", "two"):
        out = tmp_path / run
        run_source(ToySource(), files.expand_inputs(str(raw)), str(out), num_shards=4)
        shards = sorted(glob.glob(str(out / "clean" / "toy" / "toy-*-of-00004.jsonl.gz")))
        assert len(shards) == 4
        digests.append([hashlib.sha256(open(s, "rb").read()).hexdigest() for s in shards])
    assert digests[0] == digests[1]


def test_rerun_with_fewer_shards_removes_stale_ones(tmp_path):
    raw = tmp_path / "in.txt"
    write_lines(raw, ["some words here", "more words here"])
    out = tmp_path / "out"
    run_source(ToySource(), [str(raw)], str(out), num_shards=3)
    run_source(ToySource(), [str(raw)], str(out), num_shards=2)
    names = sorted(os.path.basename(p) for p in glob.glob(str(out / "clean" / "toy" / "*.jsonl.gz")))
    assert names == ["toy-00000-of-00002.jsonl.gz", "toy-00001-of-00002.jsonl.gz"]


def test_killed_write_leaves_no_finished_looking_file(tmp_path):
    target = tmp_path / "toy-00000-of-00001.jsonl.gz"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {ROOT!r})
        from pipeline.files import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"partial data")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    leftovers = os.listdir(tmp_path)
    assert leftovers and all(name.startswith(".tmp-") for name in leftovers)


def test_killed_rerun_never_mixes_two_shard_sets(tmp_path):
    """A rerun with another --num-shards killed while writing used to leave its finished new
    shards beside the old complete set (a reader of `toy-*-of-*` read both). Shards are now
    staged hidden and committed together once all are written."""
    from pipeline.writers import _Commit, _WriteShard, shard_name

    raw = tmp_path / "in.txt"
    write_lines(raw, [f"line {i} with some words" for i in range(40)])
    out = tmp_path / "out"
    run_source(ToySource(), [str(raw)], str(out), num_shards=3)
    clean = out / "clean" / "toy"
    old = sorted(p.name for p in clean.glob("toy-*.jsonl.gz"))
    assert old == [shard_name("toy", i, 3) for i in range(3)]
    (clean / ".tmp-toy-00000-of-00005.jsonl.gz-0123abcd").write_bytes(b"left by a killed run")
    # The new run's shards are written; the job is killed before the commit step.
    writer = _WriteShard(str(clean), "toy")
    staged = [pair for i in range(2) for pair in writer.process((i, [[(f"k{i}", f'{{"i": {i}}}')]]), total=2)]
    assert sorted(p.name for p in clean.glob("toy-*.jsonl.gz")) == old
    # Rerun: the commit replaces the old set with the new one and clears the staging files.
    assert list(_Commit(str(clean), "toy").process(staged)) == [2]
    assert sorted(p.name for p in clean.glob("toy-*.jsonl.gz")) == [shard_name("toy", i, 2) for i in range(2)]
    assert not list(clean.glob(".tmp-*"))
    assert read_jsonl_gz(str(clean / "toy-*-of-00002.jsonl.gz")) == [{"i": 0}, {"i": 1}]
    # A retried commit (Dataflow retries a failed step) finds its work done.
    assert list(_Commit(str(clean), "toy").process(staged)) == [2]


def test_a_fifo_among_the_inputs_is_one_error_not_a_hang(tmp_path):
    """Opening a FIFO blocks until a writer comes: the job would hang forever on it."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("one two three\nfour five six\n")
    os.mkfifo(folder / "pipe.txt")
    stats = run_source(ToySource(), files.expand_inputs(str(folder)), str(tmp_path / "out"))
    assert stats["documents_in"] == 3 and stats["documents_out"] == 2
    assert stats["errors"] == {"special_file": 1}


def _cli(*args, module="sources.run", **kw):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, **kw)


def test_cli_help_lists_sources_and_flags():
    proc = _cli("--help")
    assert proc.returncode == 0
    assert "--keep-rejected" in proc.stdout and "sources:" in proc.stdout


def test_cli_unknown_source_lists_valid_ones():
    proc = _cli("--source", "nosuch", "--input", "x")
    assert proc.returncode == 2
    assert "unknown source 'nosuch'" in proc.stderr and "valid sources" in proc.stderr


def test_old_command_name_runs_the_same_command(tmp_path):
    """`python -m pipeline.run`, the command's first name, still runs it, exit codes included."""
    proc = _cli("--source", "nosuch", "--input", "x", module="pipeline.run")
    assert proc.returncode == 2 and "unknown source 'nosuch'" in proc.stderr
    assert _cli("--help", module="pipeline.run").stdout == _cli("--help").stdout


def test_cli_flag_typos_are_errors_with_a_suggestion(tmp_path):
    """`--num_shards 4` (Beam's spelling of our --num-shards) used to go to Beam, which ignored
    it: the job ran with one shard and no message."""
    (tmp_path / "raw").mkdir()
    stackexchange_dump(tmp_path / "raw")
    proc = _cli("--source", "stackexchange", "--input", str(tmp_path / "raw"), "--output", str(tmp_path / "data"),
                "--num_shards", "4", "--keep_rejected", "--experiments=use_runner_v2")
    assert proc.returncode == 2
    assert "--num_shards (did you mean --num-shards?)" in proc.stderr
    assert "--keep_rejected (did you mean --keep-rejected?)" in proc.stderr
    assert "experiments" not in proc.stderr  # a flag Beam knows passes
    assert not (tmp_path / "data" / "clean").exists()


def test_cli_dataflow_mistakes_are_clear_errors_before_any_work(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    stackexchange_dump(raw)
    proc = _cli("--source", "stackexchange", "--input", "gs://my-bucket/raw", "--output", "gs://my-bucket/data",
                "--runner", "DataflowRunner")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: Beam options" in proc.stderr and "Missing required option: project" in proc.stderr
    # Options complete, but this machine's paths: workers would read nothing and write where
    # nobody looks, found out only when the job ends.
    proc = _cli("--source", "stackexchange", "--input", str(raw), "--output", str(tmp_path / "data"),
                "--runner", "DataflowRunner", "--project", "my-project-123", "--region", "europe-west4",
                "--temp_location", "gs://my-bucket/tmp")
    assert proc.returncode == 2 and "cannot read or write local paths" in proc.stderr
    assert not (tmp_path / "data").exists()


def test_cli_output_that_cannot_be_written_fails_before_the_job(tmp_path):
    """`--output` naming a file used to crash with a traceback once the whole job had run."""
    raw = tmp_path / "raw"
    raw.mkdir()
    stackexchange_dump(raw)
    (tmp_path / "data").write_text("not a folder")
    proc = _cli("--source", "stackexchange", "--input", str(raw), "--output", str(tmp_path / "data"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot write to --output" in proc.stderr


def test_cli_job_counts_a_file_given_twice_once(tmp_path):
    """The real job through `python -m sources.run`: a folder glob, the same Posts.xml named
    again, an editor backup beside it and a trailing comma; each question is counted once."""
    raw = tmp_path / "my dumps é"
    posts = stackexchange_dump(raw)
    (raw / "math.stackexchange.com" / "Posts.xml~").write_bytes(posts.read_bytes())
    out = tmp_path / "data"
    proc = _cli("--source", "stackexchange", "--input", f"{raw}/*, {posts}, ", "--output", str(out),
                "--direct_running_mode", "in_memory")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "clean" / "stackexchange" / "stats.json").read_text())
    assert (result["input_files"], result["documents_in"], result["documents_out"]) == (1, 2, 2)
