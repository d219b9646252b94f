"""Reading GitHub exports (sources/github/read.py): bad input counted, never a crash."""

from __future__ import annotations

import bz2
import gzip

from pipeline.document import Document, ErrorRecord
from sources.github.read import decode_content, is_export, parse_record
from sources.github.source import GitHubConfig, GitHubSource
from tests.fixtures.github import record


def test_decode_content_problems():
    assert decode_content(b"x = 1\n", 100) == ("x = 1\n", None)
    assert decode_content(b"\xef\xbb\xbfx = 1\n", 100) == ("x = 1\n", None)  # BOM dropped
    assert decode_content(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 100)[1] == "binary"
    assert decode_content(b"caf\xe9 = 1\n", 100)[1] == "not_utf8"
    assert decode_content(b"x" * 101, 100) == ("", "file_too_large")
    assert decode_content(b"  \n", 100) == ("", "empty")


def test_parse_record_bad_inputs():
    max_file_bytes = 1000
    row = record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit")
    good = parse_record(row, "e.json:1", max_file_bytes)
    assert isinstance(good, Document) and good.meta == {"repo": "o/r", "path": "a.py", "license": "mit"}
    assert good.id.startswith("github/o/r/a.py#")
    again = parse_record(record(repo_name="o/r", path="a.py", content="x = 1\n"), "other.json:1", max_file_bytes)
    assert again.id != good.id  # the same repo/path in another export file: still a unique id
    moved = parse_record(row, "gs://bucket/raw/e.json:1", max_file_bytes)
    assert moved.id == good.id  # the same file elsewhere (local, gs://): the same id
    errors = [parse_record(line, "e.json:2", max_file_bytes) for line in (
        record(path="a.py", content="x"), record(repo_name="o/r", path="a.py"),
        record(repo_name="o/r", path="a.py", content=None), b"{not json\n", b"[1, 2]\n")]
    assert [e.kind for e in errors] == ["missing_field"] * 3 + ["bad_json"] * 2
    flagged = [parse_record(line, "e.json:3", max_file_bytes).meta.get("problem") for line in (
        record(repo_name="o/r", path="b.bin", content=None, binary=True),
        record(repo_name="o/r", path="b.c", content="ab\u0000cd"),
        b'{"repo_name": "o/r", "path": "c.c", "content": "caf\xe9"}\n',
        record(repo_name="o/r", path="d.c", content="\udcff bad surrogate"),
        record(repo_name="o/r", path="e.c", content="x" * 1001))]
    assert flagged == ["binary", "binary", "not_utf8", "not_utf8", "file_too_large"]


def test_read_export_skips_100mb_record_and_truncated_gzip(tmp_path):
    path = tmp_path / "export.jsonl"
    with open(path, "wb") as f:
        f.write(record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit"))
        f.write(b'{"repo_name": "o/r", "path": "huge.py", "content": "' + b"a" * (100 << 20) + b'"}\n')
        f.write(record(repo_name="o/r", path="b.py", content="y = 2\n", license="mit"))
    out = list(GitHubSource().read(str(path)))
    assert [type(r).__name__ for r in out] == ["Document", "ErrorRecord", "Document"]
    assert out[1].kind == "record_too_large" and len(out[1].excerpt) <= 4096
    data = gzip.compress(record(repo_name="o/r", path="a.py", content="x = 1\n") * 2000)
    truncated = tmp_path / "cut.json.gz"
    truncated.write_bytes(data[: len(data) // 2])
    out = list(GitHubSource().read(str(truncated)))
    assert isinstance(out[-1], ErrorRecord) and out[-1].kind == "truncated_input"
    assert all(isinstance(r, Document) for r in out[:-1])


def test_is_export_sniffs_first_record(tmp_path):
    (tmp_path / "rows.jsonl").write_bytes(record(repo_name="o/r", path="a", content="x"))
    (tmp_path / "package.json").write_text('{\n  "name": "x"\n}\n')
    (tmp_path / "data.jsonl").write_text('{"text": "a training example"}\n')
    limit = GitHubSource().record_limit
    assert is_export(str(tmp_path / "rows.jsonl"), limit)
    assert not is_export(str(tmp_path / "package.json"), limit)
    assert not is_export(str(tmp_path / "data.jsonl"), limit)


def test_deeply_nested_json_line_is_one_error_and_the_file_goes_on(tmp_path):
    """A hostile line `[[[[...]]]]` makes json raise RecursionError (not ValueError): it must be
    one bad_json error, not the end of the file (whose later rows were lost, uncounted)."""
    path = tmp_path / "export.jsonl"
    path.write_bytes(record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit")
                     + b"[" * 100_000 + b"]" * 100_000 + b"\n"
                     + record(repo_name="o/r", path="b.py", content="y = 2\n", license="mit"))
    out = list(GitHubSource().read(str(path)))
    assert [type(r).__name__ for r in out] == ["Document", "ErrorRecord", "Document"]
    assert out[1].kind == "bad_json" and out[1].input.endswith("export.jsonl:2")


def test_export_told_by_bytes_bom_and_bq_shard_names(tmp_path):
    """`bq extract --compression GZIP` writes gzip under the name it is given (`*.json`) and a bare
    wildcard gives 12-digit names with no extension; a downloader may have inflated a `.json.gz`;
    Windows tools open a file with a byte-order mark and blank lines happen. All are exports."""
    rows = record(repo_name="o/r", path="a.py", content="x = 1\n", license="mit") + record(
        repo_name="o/r", path="b.py", content="y = 2\n", license="mit")
    variants = {"export.json": gzip.compress(rows), "github-000000000003": gzip.compress(rows),
                "inflated.json.gz": rows, "windows.jsonl": b"\xef\xbb\xbf" + rows, "blank.json": b"\n\n" + rows,
                "000000000007": bz2.compress(rows)}
    limit = GitHubSource().record_limit
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        out = list(GitHubSource().read(str(tmp_path / name)))
        assert is_export(str(tmp_path / name), limit), name
        assert [r.meta["path"] for r in out] == ["a.py", "b.py"], name
    (tmp_path / "Makefile").write_text("all:\n\tcc main.c\n")
    (tmp_path / "20240101000000").write_text("not json\n")  # 14 digits: not a bq shard name
    assert not is_export(str(tmp_path / "Makefile"), limit)
    assert not is_export(str(tmp_path / "20240101000000"), limit)


def test_export_symlink_rows_are_dropped(tmp_path):
    """BigQuery's `files` table has `mode` (INTEGER, 40960 = 0o120000 for a symlink, written as a
    string by JSON exports) and `symlink_target`; a symlink's content is its target path."""
    max_file_bytes = GitHubConfig().max_file_bytes
    rows = [record(repo_name="o/r", path="include/x.h", content="../src/x.h", mode="40960", license="mit"),
            record(repo_name="o/r", path="y.h", content="../y.h", mode=40960, license="mit"),
            record(repo_name="o/r", path="z.h", content="../z.h", symlink_target="../z.h", license="mit"),
            record(repo_name="o/r", path="w.h", content="int w;\n", mode="33188", symlink_target=None)]
    out = [parse_record(row, f"e.json:{n}", max_file_bytes) for n, row in enumerate(rows)]
    assert [d.meta.get("problem") for d in out] == ["symlink", "symlink", "symlink", None]
