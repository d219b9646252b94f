"""Parquet and Avro GitHub exports (sources/github/tables.py), read row by row and through the job."""

from __future__ import annotations

import json
import os

from pipeline import files
from pipeline.document import Document, ErrorRecord
from sources.github import rules
from sources.github.read import is_export
from sources.github.source import GitHubSource
from tests.fixtures.github import COMMON, REDPAJAMA, THE_STACK
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source


def stack_rows(lang="Python", ext="py", n=8, repo="o/stack"):
    """Rows in The Stack v1's layout (its real column names and types, a license list)."""
    return [dict(THE_STACK, hexsha=f"{i:040x}", ext=ext, lang=lang, max_stars_repo_name=repo,
                 max_stars_repo_path=f"src/m{i}.{ext}", max_stars_repo_head_hexsha="f" * 40,
                 content=f"def f{i}(a):\n    return a + {i}\n" if ext == "py" else
                 f"class M{i} {{\n    int f() {{ return {i}; }}\n}}\n") for i in range(n)]


def write_parquet(path, rows, row_group_size=3, compression="snappy", schema=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), str(path), row_group_size=row_group_size,
                   compression=compression)
    return str(path)


def test_the_stack_parquet_through_the_job(tmp_path):
    """The Stack v1 as distributed (`data/<lang>/train-0000N-of-0000M.parquet`, several row groups,
    list-typed licenses, the same file names in every language folder) and a bare-named
    `bq extract --destination_format PARQUET` shard: every row is a document; a null content is a
    counted error; ids do not depend on the folder."""
    raw = tmp_path / "raw"
    py = stack_rows()
    py[2]["content"] = None
    py[5]["max_stars_repo_licenses"] = ["GPL-3.0-only"]
    write_parquet(raw / "data" / "python" / "train-00000-of-00001.parquet", py)
    write_parquet(raw / "data" / "java" / "train-00000-of-00001.parquet", stack_rows("Java", "java", 4),
                  compression="zstd")
    bq = [{"repo_name": "o/bq", "path": f"lib/b{i}.go", "content": f"package b\n\nfunc B{i}() int {{ return {i} }}\n",
           "binary": False, "license": "apache-2.0"} for i in range(5)]
    write_parquet(raw / "bq" / "github_repos-000000000000", bq, row_group_size=2)
    stats = run_source(GitHubSource(), files.expand_inputs(str(raw)), str(tmp_path / "out"))
    assert stats["documents_in"] == 8 + 4 + 5
    assert stats["errors"] == {"missing_field": 1} and stats["dropped"] == {"license_gpl": 1}
    docs = {d["id"]: d for d in clean_docs(str(tmp_path / "out"), "github")}
    assert len(docs) == 15
    kept = {(d["meta"]["repo"], d["meta"]["path"]): d for d in docs.values()}
    assert kept[("o/stack", "src/m7.py")]["text"] == "def f7(a):\n    return a + 7\n"
    assert kept[("o/stack", "src/m7.py")]["meta"]["license"] == "mit"
    assert kept[("o/stack", "src/m1.java")]["meta"]["language"] == "java"
    assert kept[("o/bq", "lib/b4.go")]["meta"]["license"] == "apache-2.0"
    errors = read_jsonl_gz(str(tmp_path / "out" / "errors" / "github" / "*.jsonl.gz"))
    assert [e["input"].rsplit("/", 1)[-1] for e in errors] == ["train-00000-of-00001.parquet:3"]
    assert "content" in errors[0]["message"] and "src/m2.py" in errors[0]["excerpt"]
    # The same file stored elsewhere gives the same ids.
    moved = write_parquet(tmp_path / "elsewhere" / "train-00000-of-00001.parquet", stack_rows("Java", "java", 4))
    again = [d.id for d in GitHubSource().read(moved)]
    assert set(again) <= set(docs) and len(again) == 4


def test_parquet_corrupt_row_group_costs_its_rows_and_truncated_file_one_error(tmp_path):
    """A damaged page costs only its row group (counted, the next group is read on); a download
    cut short (no footer) is one counted error, not a crash."""
    import pyarrow.parquet as pq

    path = write_parquet(tmp_path / "train-00000-of-00001.parquet", stack_rows(n=9), row_group_size=3)
    data = bytearray(open(path, "rb").read())
    meta = pq.ParquetFile(path).metadata
    column = next(meta.row_group(1).column(c) for c in range(meta.num_columns)
                  if meta.row_group(1).column(c).path_in_schema == "content")
    start = column.dictionary_page_offset or column.data_page_offset
    data[start:start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(data))
    out = list(GitHubSource().read(str(damaged)))
    assert [type(r).__name__ for r in out] == ["Document"] * 3 + ["ErrorRecord"] + ["Document"] * 3
    assert out[3].kind == "corrupt_row_group" and out[3].input.endswith("damaged.parquet:4")
    assert "rows 4-6" in out[3].message
    assert [d.meta["path"] for d in out if isinstance(d, Document)] == [f"src/m{i}.py" for i in (0, 1, 2, 6, 7, 8)]
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(bytes(open(path, "rb").read())[: len(data) // 2])
    assert [(e.kind, e.input) for e in GitHubSource().read(str(cut))] == [("truncated_input", str(cut))]
    stats = run_source(GitHubSource(), [str(damaged), str(cut)], str(tmp_path / "out"))
    assert stats["documents_in"] == 8 and stats["documents_out"] == 6
    assert stats["errors"] == {"corrupt_row_group": 1, "truncated_input": 1}


STACK_V2 = {"blob_id": "6c1b3d0e" * 5, "directory_id": "d1" * 20, "path": "/src/app.py", "content_id": "c0" * 20,
            "detected_licenses": ["MIT"], "license_type": "permissive", "repo_name": "o/v2",
            "snapshot_id": "5a" * 20, "revision_id": "9e" * 20, "branch_name": "refs/heads/main",
            "github_id": 123, "star_events_count": 4, "fork_events_count": 1, "gha_license_id": "MIT",
            "gha_language": "Python", "src_encoding": "UTF-8", "language": "Python", "is_vendor": False,
            "is_generated": False, "length_bytes": 28, "extension": "py"}


def test_stack_v2_parquet_without_content_is_one_clear_error(tmp_path):
    """The Stack v2 ships blob ids, not content: the file is one counted error saying to fetch the
    content first (not 'missing content' once per row); once fetched into `content`, its
    `detected_licenses` list is the license."""
    rows = [dict(STACK_V2, path=f"/src/a{i}.py", blob_id=f"{i:040x}") for i in range(5)]
    ids_only = write_parquet(tmp_path / "raw" / "data" / "Python" / "train-00000-of-00001.parquet", rows)
    out = list(GitHubSource().read(ids_only))
    assert [e.kind for e in out] == ["content_not_included"]
    assert "blob_id" in out[0].message and "5 rows" in out[0].message
    stats = run_source(GitHubSource(), [ids_only], str(tmp_path / "out"))
    assert stats["errors"] == {"content_not_included": 1} and stats["documents_out"] == 0
    fetched = [dict(r, content="def app():\n    return 'v2'\n") for r in rows[:1]]
    fetched.append(dict(rows[1], content="def gpl():\n    return 3\n", detected_licenses=["GPL-3.0-only"]))
    path = write_parquet(tmp_path / "fetched.parquet", fetched)
    s = GitHubSource()
    docs = list(s.read(path))
    assert [d.meta["license"] for d in docs] == [["MIT"], ["GPL-3.0-only"]]
    assert [rules.LicenseFilter()(d) for d in docs] == [(True, ""), (False, "license_gpl")]


def test_parquet_binary_content_and_redpajama_conversion(tmp_path):
    """A content column of bytes (BigQuery BYTES, a Spark export) is decoded like a checkout file;
    the hub's parquet conversion of RedPajama keeps `meta` as JSON text."""
    import pyarrow as pa

    schema = pa.schema([("repo_name", pa.string()), ("path", pa.string()), ("content", pa.binary()),
                        ("license", pa.string())])
    rows = [{"repo_name": "o/b", "path": "ok.c", "content": b"int ok(void) { return 1; }\n", "license": "mit"},
            {"repo_name": "o/b", "path": "latin1.c", "content": b"/* caf\xe9 */ int x;\n", "license": "mit"},
            {"repo_name": "o/b", "path": "logo.png", "content": b"\x89PNG\r\n\x1a\n\x00\x00", "license": "mit"}]
    out = list(GitHubSource().read(write_parquet(tmp_path / "bytes.parquet", rows, schema=schema)))
    assert [d.meta.get("problem") for d in out] == [None, "not_utf8", "binary"]
    assert out[0].text == "int ok(void) { return 1; }\n"
    redpajama = [{"text": REDPAJAMA["text"], "meta": json.dumps(REDPAJAMA["meta"]), "red_pajama_subset": "github"}]
    path = write_parquet(tmp_path / "0000.parquet", redpajama)
    assert is_export(path, GitHubSource().record_limit)
    [d] = list(GitHubSource().read(path))
    assert (d.meta["repo"], d.meta["path"], d.meta["license"], d.text) == (
        "o/redpajama", "sub.py", "bsd-3-clause", REDPAJAMA["text"])


def test_parquet_in_a_checkout_and_lfs_pointers(tmp_path):
    """A checkout's own Parquet test data (no repo column) stays a checkout file; a `.parquet` that
    is a Git LFS pointer (a hub dataset cloned without `git lfs`) is a clear counted error."""
    raw = tmp_path / "raw"
    (raw / "pandas" / "pandas" / "tests").mkdir(parents=True)
    (raw / "pandas" / "pandas" / "LICENSE").write_text(open(os.path.join(COMMON, "BSD"), encoding="utf-8").read())
    (raw / "pandas" / "pandas" / "tests" / "test_io.py").write_text("def test_io():\n    assert True\n")
    fixture = write_parquet(raw / "pandas" / "pandas" / "tests" / "simple.parquet", [{"a": 1, "b": "x"}])
    pointer = raw / "the-stack" / "data" / "python" / "train-00000-of-00206.parquet"
    pointer.parent.mkdir(parents=True)
    # (the real first line names the LFS specification's URL)
    pointer.write_text("version spec/v1\noid sha256:" + "ab" * 32 + "\nsize 123456789\n")
    limit = GitHubSource().record_limit
    assert not is_export(fixture, limit) and is_export(str(pointer), limit)
    stats = run_source(GitHubSource(), files.expand_inputs(str(raw)), str(tmp_path / "out"))
    assert stats["errors"] == {"lfs_pointer": 1}
    assert stats["dropped"] == {"license_file": 1, "binary": 1}
    assert [d["meta"]["path"] for d in clean_docs(str(tmp_path / "out"), "github")] == ["tests/test_io.py"]


def test_bigquery_avro_export(tmp_path):
    """`bq extract --destination_format AVRO [--compression DEFLATE]`: nullable-union columns,
    read row by row; a cut file keeps the rows before the cut and counts one error."""
    import fastavro

    nullable = lambda t: ["null", t]  # noqa: E731  (BigQuery's NULLABLE mode)
    schema = fastavro.parse_schema({"type": "record", "name": "Root", "fields": [
        {"name": n, "type": nullable(t)} for n, t in (("repo_name", "string"), ("path", "string"),
                                                      ("content", "string"), ("binary", "boolean"),
                                                      ("license", "string"))]})
    rows = [{"repo_name": "o/avro", "path": f"pkg/m{i}.py", "content": f"def m{i}():\n    return {i}\n" * 40,
             "binary": False, "license": "bsd-3-clause"} for i in range(300)]
    rows[7]["content"] = None
    with open(tmp_path / "github_repos-000000000000.avro", "wb") as f:
        fastavro.writer(f, schema, rows, codec="deflate", sync_interval=4000)
    path = str(tmp_path / "github_repos-000000000000.avro")
    out = list(GitHubSource().read(path))
    assert len(out) == 300 and [e.kind for e in out if isinstance(e, ErrorRecord)] == ["missing_field"]
    assert out[0].meta == {"repo": "o/avro", "path": "pkg/m0.py", "license": "bsd-3-clause"}
    data = open(path, "rb").read()
    cut = tmp_path / "000000000001"  # a bare `bq extract` shard name
    cut.write_bytes(data[: len(data) // 2])
    assert is_export(str(cut), GitHubSource().record_limit)
    out = list(GitHubSource().read(str(cut)))
    assert 0 < len(out) < 300 and out[-1].kind == "truncated_input"
    assert [r.kind for r in out[:-1] if isinstance(r, ErrorRecord)] == ["missing_field"]  # row 8's null
    stats = run_source(GitHubSource(), [path, str(cut)], str(tmp_path / "out"))
    assert stats["errors"] == {"missing_field": 2, "truncated_input": 1}
    # `--compression SNAPPY`: the header names the codec (a string, its length zigzag-encoded).
    # fastavro reads snappy only with cramjam installed; without it, one clear counted error.
    header_at = data.index(b"deflate")
    snappy = tmp_path / "snappy.avro"
    snappy.write_bytes(data[:header_at - 1] + bytes([len(b"snappy") * 2]) + b"snappy" + data[header_at + 7:])
    try:
        import cramjam  # noqa: F401
    except ImportError:
        [error] = list(GitHubSource().read(str(snappy)))
        assert error.kind == "unsupported_codec" and "snappy" in error.message


def test_parquet_string_column_with_invalid_utf8_loses_only_that_file(tmp_path):
    """Parquet's STRING is UTF-8 by specification, but not every writer checks (Spark writes the
    bytes it is given): one latin-1 file in a 1,000-row group must not cost the other 999 rows."""
    import pyarrow as pa

    contents = [f"def f{i}():\n    return {i}\n".encode() for i in range(1000)]
    contents[500] = "def caf\u00e9():\n    return 'latin-1'\n".encode("latin-1")
    table = pa.table({"repo_name": ["o/spark"] * 1000, "path": [f"m{i}.py" for i in range(1000)],
                      "content": pa.array(contents, pa.binary()).view(pa.string()), "license": ["mit"] * 1000})
    import pyarrow.parquet as pq

    path = str(tmp_path / "part-00000-c000.snappy.parquet")
    pq.write_table(table, path, row_group_size=1000)
    out = list(GitHubSource().read(path))
    assert len(out) == 1000 and all(isinstance(d, Document) for d in out)
    assert [d.meta["path"] for d in out if d.meta.get("problem")] == ["m500.py"]
    assert out[500].meta["problem"] == "not_utf8" and out[999].text == "def f999():\n    return 999\n"
