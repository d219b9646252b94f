"""The shared plumbing: filter adapter, stats invariant, atomic and deterministic writers, runner."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import files, stats
from pipeline.dedup import ExactDedup, RemoveRepeatedSpans
from pipeline.document import Document
from pipeline.filters import ApplyFilter, Filter, run_filters
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source
from pipeline.filters import MinWords
from tests.fixtures.toy_source import ToyConfig, ToySource

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def doc(i, text):
    return Document(id=f"toy/{i:04d}", text=text, source="toy")


class Exploding(Filter):
    name = "exploding"

    def filter(self, d):
        if "boom" in d.text:
            raise ValueError("boom")
        return (False, "has_x") if "x" in d.text else True


def test_filter_normalises_results():
    assert MinWords(2)(doc(1, "two words")) == (True, "")
    assert MinWords(2)(doc(1, "one")) == (False, "too_short")
    assert Exploding()(doc(1, "x marks")) == (False, "has_x")


def test_adapter_counts_reasons_and_dead_letters_exceptions():
    docs = [doc(1, "fine"), doc(2, "x one"), doc(3, "x two"), doc(4, "boom")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | ApplyFilter(Exploding())
        assert_that(out["kept"] | "KeptIds" >> beam.Map(lambda d: d.id), equal_to(["toy/0001"]), label="kept")
        assert_that(out["rejected"] | "Reasons" >> beam.Map(lambda r: r.reason),
                    equal_to(["has_x", "has_x"]), label="rejected")
        assert_that(out["errors"] | "Kinds" >> beam.Map(lambda e: (e.input, e.kind)),
                    equal_to([("toy/0004", "exploding_exception")]), label="errors")


def test_run_filters_plain_loop():
    kept, rejected = run_filters([MinWords(2)], [doc(1, "a b"), doc(2, "a")])
    assert [d.id for d in kept] == ["toy/0001"]
    assert [(r.doc.id, r.reason) for r in rejected] == [("toy/0002", "too_short")]


def test_exact_dedup_keeps_lowest_id():
    docs = [doc(3, "same"), doc(1, "same"), doc(2, "other"), doc(4, "same")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | ExactDedup(lambda d: d.text)
        assert_that(out["kept"] | "K" >> beam.Map(lambda d: d.id), equal_to(["toy/0001", "toy/0002"]), label="k")
        assert_that(out["rejected"] | "R" >> beam.Map(lambda r: (r.doc.id, r.doc.meta["duplicate_of"])),
                    equal_to([("toy/0003", "toy/0001"), ("toy/0004", "toy/0001")]), label="r")


def test_exact_dedup_accounts_for_equal_ids():
    docs = [doc(1, "same"), doc(1, "same"), doc(1, "same")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | ExactDedup(lambda d: d.text)
        assert_that(out["kept"] | "K" >> beam.Map(lambda d: d.id), equal_to(["toy/0001"]), label="k")
        assert_that(out["rejected"] | "R" >> beam.Map(lambda r: r.doc.id), equal_to(["toy/0001"] * 2), label="r")


def _line_spans(d):
    return [(files.stable_hash64(line), i) for i, line in enumerate(d.text.split("\n"))]


def _drop_lines(d, positions):
    lines = [line for i, line in enumerate(d.text.split("\n")) if i not in positions]
    return Document(d.id, "\n".join(lines), d.source, d.meta)


@pytest.mark.parametrize("keep_first,expected", [
    (False, {"toy/0001": "a", "toy/0002": "b"}),  # CCNet: every copy of a repeated line goes
    (True, {"toy/0001": "a\nboiler", "toy/0002": "b"}),  # C4: the first copy (lowest id) survives
])
def test_remove_repeated_spans(keep_first, expected):
    docs = [doc(1, "a\nboiler"), doc(2, "boiler\nb"), doc(3, "boiler")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | RemoveRepeatedSpans(_line_spans, _drop_lines, keep_first=keep_first)
        assert_that(out["kept"] | "K" >> beam.Map(lambda d: (d.id, d.text)),
                    equal_to(sorted(expected.items())), label="k")
        assert_that(out["rejected"] | "R" >> beam.Map(lambda r: (r.doc.id, r.reason)),
                    equal_to([("toy/0003", "empty_after_dedup")]), label="r")


def _write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def test_whole_job_stats_and_outputs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _write_lines(raw / "a.txt", ["hello world", "hi", "hello world", "!bad record", "another fine line"])
    _write_lines(raw / "b.txt", ["Hello World", "x"])
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


@settings(max_examples=15, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="ab !\u00e9", max_size=12), st.just("!err")), max_size=25),
       st.integers(min_value=0, max_value=3))
def test_stats_invariant_holds_for_any_input(tmp_path_factory, lines, min_words):
    tmp = tmp_path_factory.mktemp("inv")
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    _write_lines(tmp / "in.txt", lines)
    result = run_source(ToySource(ToyConfig(min_words=min_words)), [str(tmp / "in.txt")], str(tmp / "out"))
    n_lines = len((tmp / "in.txt").read_text(encoding="utf-8").split("\n")) - 1
    assert result["documents_in"] == n_lines
    assert result["documents_in"] == (result["documents_out"] + sum(result["dropped"].values())
                                      + sum(result["errors"].values()))


def test_same_input_gives_byte_identical_shards(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in range(3):
        _write_lines(raw / f"f{n}.txt", [f"line {n} {i} with words" for i in range(200)])
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
    _write_lines(raw, ["some words here", "more words here"])
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


def test_expand_inputs_walks_folders_and_rejects_typos(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    (tmp_path / "b.txt").write_text("y")
    (tmp_path / ".hidden").write_text("z")
    assert files.expand_inputs(str(tmp_path)) == sorted([str(tmp_path / "b.txt"), str(tmp_path / "sub" / "a.txt")])
    assert files.expand_inputs(str(tmp_path / "*.txt")) == [str(tmp_path / "b.txt")]
    with pytest.raises(FileNotFoundError, match="matches no file"):
        files.expand_inputs(str(tmp_path / "nope*"))


def test_tally_counts_every_kind():
    entries = [stats.LedgerEntry("in", "", 5), stats.LedgerEntry("in", "", 0), stats.LedgerEntry("out", "", 5),
               stats.LedgerEntry("error", "bad_gzip", 0)]
    result = stats.tally("toy", entries)
    assert (result["documents_in"], result["documents_out"], result["errors"]) == (2, 1, {"bad_gzip": 1})
    stats.check_invariant(result)
    with pytest.raises(AssertionError, match="documents_in=3"):
        stats.check_invariant(stats.tally("toy", entries + [stats.LedgerEntry("in", "", 1)]))


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "sources.run", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, **kw)


def test_cli_help_lists_sources_and_flags():
    proc = _cli("--help")
    assert proc.returncode == 0
    assert "--keep-rejected" in proc.stdout and "sources:" in proc.stdout


def test_cli_unknown_source_lists_valid_ones():
    proc = _cli("--source", "nosuch", "--input", "x")
    assert proc.returncode == 2
    assert "unknown source 'nosuch'" in proc.stderr and "valid sources" in proc.stderr


# --- input expansion on what users really type -------------------------------------------------

def _stackexchange_dump(folder, site="math.stackexchange.com"):
    """An extracted site of the StackExchange dump: `<site>/Posts.xml`, two questions, one answer."""
    (folder / site).mkdir(parents=True)
    rows = [
        '<row Id="1" PostTypeId="1" Score="3" Title="How do sets work?" Body="&lt;p&gt;What is a set in '
        'mathematics and how is one written down?&lt;/p&gt;" AnswerCount="1" />',
        '<row Id="2" PostTypeId="2" ParentId="1" Score="5" Body="&lt;p&gt;A set is a collection of distinct '
        'objects, written between braces.&lt;/p&gt;" />',
        '<row Id="3" PostTypeId="1" Score="1" Title="What is a group?" Body="&lt;p&gt;What are the axioms '
        'of a group?&lt;/p&gt;" AnswerCount="0" />',
    ]
    (folder / site / "Posts.xml").write_text('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
                                             + "\n".join("  " + r for r in rows) + "\n</posts>\n")
    return folder / site / "Posts.xml"


def test_expand_inputs_blank_entries_are_not_the_filesystem_root(tmp_path):
    """`--input 'a.xml, '` (a trailing comma and space) used to become the pattern '' and then
    '/**': every file on the machine was read as input."""
    (tmp_path / "a.xml").write_text("x")
    assert files.expand_inputs(f"{tmp_path / 'a.xml'}, ") == [str(tmp_path / "a.xml")]
    assert files.expand_inputs(f" {tmp_path / 'a.xml'} , ,") == [str(tmp_path / "a.xml")]
    with pytest.raises(FileNotFoundError, match="no input given"):
        files.expand_inputs(" , ")


def test_expand_inputs_glob_of_folders_walks_them(tmp_path):
    """StackExchange's dump unpacked: a glob naming site folders reads their Posts.xml (it used
    to match only plain files: `raw/*` silently left the folders out, `raw/*.com` failed)."""
    raw = tmp_path / "raw"
    posts = _stackexchange_dump(raw)
    (raw / "gis.stackexchange.com.7z").write_bytes(b"7z")
    assert files.expand_inputs(str(raw / "*")) == [str(raw / "gis.stackexchange.com.7z"), str(posts)]
    assert files.expand_inputs(str(raw / "*.com")) == [str(posts)]


def test_expand_inputs_reads_a_file_named_twice_once(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.xml").write_text("x")
    monkeypatch.chdir(tmp_path)
    found = files.expand_inputs(f"raw/a.xml,./raw/a.xml,{tmp_path}/raw//a.xml,raw,raw/*.xml")
    assert len(found) == 1 and os.path.samefile(found[0], raw / "a.xml")


def test_expand_inputs_leaves_out_hidden_files_and_editor_backups(tmp_path):
    """A copy of an input beside it (`x~`, vim's `.x.swp`, macOS `._x`) would count its documents
    twice; a glob leaves them out as a folder walk does, a file named on its own is read."""
    for name in ("enwiki.xml", "enwiki.xml~", ".enwiki.xml.swp", "._enwiki.xml", "#enwiki.xml#"):
        (tmp_path / name).write_text("x")
    expected = [str(tmp_path / "enwiki.xml")]
    assert files.expand_inputs(str(tmp_path)) == expected
    assert files.expand_inputs(str(tmp_path / "*")) == expected
    assert files.expand_inputs(str(tmp_path / "enwiki.xml~")) == [str(tmp_path / "enwiki.xml~")]


def test_expand_inputs_non_utf8_file_name_is_a_clear_error(tmp_path):
    """A Latin-1 name (unpacked from an old archive) cannot travel as a Beam string: it used to
    crash the job inside Beam's coder; now it is named before any work."""
    os.makedirs(os.path.join(str(tmp_path).encode(), b"books"))
    with open(os.path.join(str(tmp_path).encode(), b"books", b"Mis\xe9rables.txt"), "w") as f:
        f.write("x")
    with pytest.raises(ValueError, match=r"not UTF-8: .*Mis\\\\xe9rables\.txt"):
        files.expand_inputs(str(tmp_path / "books"))


def test_cli_job_counts_a_file_given_twice_once(tmp_path):
    """The real job through `python -m sources.run`: a folder glob, the same Posts.xml named
    again, an editor backup beside it and a trailing comma; each question is counted once."""
    raw = tmp_path / "my dumps é"
    posts = _stackexchange_dump(raw)
    (raw / "math.stackexchange.com" / "Posts.xml~").write_bytes(posts.read_bytes())
    out = tmp_path / "data"
    proc = _cli("--source", "stackexchange", "--input", f"{raw}/*, {posts}, ", "--output", str(out),
                "--direct_running_mode", "in_memory")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "clean" / "stackexchange" / "stats.json").read_text())
    assert (result["input_files"], result["documents_in"], result["documents_out"]) == (1, 2, 2)


# --- Beam flags ---------------------------------------------------------------------------------

def test_beam_options_keep_the_users_direct_runner_flags():
    """Without --runner the defaults (multi-processing, all cores) used to be appended after the
    user's own `--direct_running_mode` / `--direct_num_workers`, overriding them."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    from pipeline.options import beam_options
    opts = beam_options(["--direct_running_mode", "in_memory"]).view_as(DirectOptions)
    assert opts.direct_running_mode == "in_memory"
    opts = beam_options(["--direct_num_workers=3"])
    assert opts.view_as(DirectOptions).direct_num_workers == 3
    assert opts.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert opts.view_as(StandardOptions).runner == "DirectRunner"


def test_cli_flag_typos_are_errors_with_a_suggestion(tmp_path):
    """`--num_shards 4` (Beam's spelling of our --num-shards) used to go to Beam, which ignored
    it: the job ran with one shard and no message."""
    (tmp_path / "raw").mkdir()
    _stackexchange_dump(tmp_path / "raw")
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
    _stackexchange_dump(raw)
    proc = _cli("--source", "stackexchange", "--input", str(raw), "--output", str(tmp_path / "data"),
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
    _stackexchange_dump(raw)
    (tmp_path / "data").write_text("not a folder")
    proc = _cli("--source", "stackexchange", "--input", str(raw), "--output", str(tmp_path / "data"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot write to --output" in proc.stderr


# --- shard sets ---------------------------------------------------------------------------------

def test_killed_rerun_never_mixes_two_shard_sets(tmp_path):
    """A rerun with another --num-shards killed while writing used to leave its finished new
    shards beside the old complete set (a reader of `toy-*-of-*` read both). Shards are now
    staged hidden and committed together once all are written."""
    from pipeline.writers import _Commit, _WriteShard, shard_name

    raw = tmp_path / "in.txt"
    _write_lines(raw, [f"line {i} with some words" for i in range(40)])
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
