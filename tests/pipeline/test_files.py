"""pipeline/files.py: `expand_inputs` on what users really type, and the size-capped line reader
`capped_lines`."""

from __future__ import annotations

import io
import os

import pytest

from pipeline import files
from tests.fixtures.helpers import stackexchange_dump


def test_expand_inputs_walks_folders_and_rejects_typos(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    (tmp_path / "b.txt").write_text("y")
    (tmp_path / ".hidden").write_text("z")
    assert files.expand_inputs(str(tmp_path)) == sorted([str(tmp_path / "b.txt"), str(tmp_path / "sub" / "a.txt")])
    assert files.expand_inputs(str(tmp_path / "*.txt")) == [str(tmp_path / "b.txt")]
    with pytest.raises(FileNotFoundError, match="matches no file"):
        files.expand_inputs(str(tmp_path / "nope*"))


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
    posts = stackexchange_dump(raw)
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


def test_capped_lines_reads_past_a_line_over_the_cap():
    stream = io.BytesIO(b"short\n" + b"z" * 2000 + b"\n" + b"y" * 5000 + b"\n" + b"next\n" + b"last")
    lines = list(files.capped_lines(stream, 2000))
    assert lines == [b"short\n", b"z" * 2000 + b"\n", files.LongLine(b"y" * 1024), b"next\n", b"last"]
    assert [type(line) for line in lines] == [bytes, bytes, files.LongLine, bytes, bytes]


def test_expand_inputs_scheme_without_filesystem_is_not_no_match():
    """A URL whose scheme has no Beam filesystem here (a typo, or gs:// without apache-beam[gcp])
    used to read as "matches no file"; it names the missing filesystem."""
    from pipeline.store import StoreError, check_paths

    with pytest.raises(ValueError, match="no filesystem for s4://"):
        files.expand_inputs("s4://bucket/raw/*")
    from apache_beam.options.pipeline_options import PipelineOptions

    with pytest.raises(StoreError, match="no filesystem for s4://"):
        check_paths(["data/raw", "s4://bucket/raw"], PipelineOptions([]))
