"""Columnar GitHub exports, streamed row by row: Parquet and Avro.

- Parquet: The Stack v1 and its deduplicated variant are distributed as
  `data/<language>/train-00000-of-00NNN.parquet` (columns `hexsha`, `max_stars_repo_name`,
  `max_stars_repo_path`, `max_stars_repo_licenses` (a list), `content`, ...); codeparrot's
  github-code and the hub's automatic parquet conversions are Parquet too; so is
  `bq extract --destination_format PARQUET` of the BigQuery join.
- Avro: `bq extract --destination_format AVRO` (an object container file; BigQuery's columns are
  nullable unions, read as plain values).

Files are told by their magic bytes (Parquet: `PAR1` at both ends; Avro: `Obj\\x01`), not their
names: a bare `bq extract` wildcard names its shards `000000000000` with no extension.

A Parquet file is read one row group at a time, a few hundred rows per batch, and only the
columns asked for (The Stack has ~30; reading `content` and the names is what matters), so a
multi-GB file never sits in memory. A row group that fails to decode costs only its own rows
(one `RowsLost` for them); the next row group is read on. A file whose footer is gone (a
truncated download) cannot be read at all: one `RowsLost` for the whole file.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from apache_beam.io.filesystems import FileSystems

PARQUET_MAGIC = b"PAR1"
AVRO_MAGIC = b"Obj\x01"
TABLE_SUFFIXES = (".parquet", ".pq", ".avro")
# A file of a hub dataset repository cloned without `git lfs` is a small text pointer, not the
# data: a `version <spec URL>` line, then `oid sha256:<hex>` and `size <bytes>` (the Git LFS
# pointer specification).
LFS_VERSION, LFS_OID = b"version ", b"\noid sha256:"
# Rows decoded at once: The Stack keeps files up to 1 MB, so a batch is 64 MB at worst and
# typically under 1 MB. Pages are read through a buffer of READ_BUFFER bytes rather than a whole
# column chunk pre-buffered (pyarrow's default): measured on one 190 MB row group of 100 KB
# files, peak memory grew ~100 MB this way against ~390 MB pre-buffered, and the same for 10 MB
# row groups, i.e. bounded by the batch, not the row group or the file.
BATCH_ROWS = 64
READ_BUFFER = 1 << 20


@dataclasses.dataclass
class RowsLost:
    """Rows that could not be read: `kind` is the stats key, `rows` how many (None: unknown)."""

    kind: str
    message: str
    rows: int | None = None


def sniff(path: str) -> str | None:
    """"parquet", "avro" or None, by the file's first bytes."""
    with FileSystems.open(path, compression_type="uncompressed") as f:
        magic = f.read(4)
    if magic == PARQUET_MAGIC:
        return "parquet"
    if magic == AVRO_MAGIC:
        return "avro"
    return None


def has_table_name(path: str) -> bool:
    return path.lower().endswith(TABLE_SUFFIXES)


def describe(path: str, kind: str) -> tuple[list[str], int | None]:
    """(column names, row count or None if unknown) of a Parquet or Avro file, from its footer /
    header only. Raises if unreadable."""
    with FileSystems.open(path, compression_type="uncompressed") as f:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(f)
            return list(pf.schema_arrow.names), pf.metadata.num_rows
        import fastavro

        schema = fastavro.reader(f).writer_schema
        return [field["name"] for field in schema.get("fields", [])] if isinstance(schema, dict) else [], None


def not_a_table(path: str) -> RowsLost:
    """The error for a file named like Parquet/Avro that does not start like one."""
    with FileSystems.open(path, compression_type="uncompressed") as f:
        head = f.read(200)
    if head.startswith(LFS_VERSION) and LFS_OID in head:
        return RowsLost("lfs_pointer", "a Git LFS pointer, not the data: fetch the real file (`git lfs pull`)")
    return RowsLost("not_a_table", f"named like Parquet/Avro but starts with {head[:8]!r}")


def read_rows(path: str, kind: str, wanted: set[str]) -> Iterator[tuple[int, dict | RowsLost]]:
    """(1-based row number, row as a dict of the `wanted` columns present) for every row, or
    (first row number, RowsLost) for rows that could not be read."""
    reader = _read_parquet if kind == "parquet" else _read_avro
    yield from reader(path, wanted)


def _read_parquet(path: str, wanted: set[str]) -> Iterator[tuple[int, dict | RowsLost]]:
    import pyarrow.parquet as pq

    with FileSystems.open(path, compression_type="uncompressed") as f:
        try:
            pf = pq.ParquetFile(f, pre_buffer=False, buffer_size=READ_BUFFER)
        except Exception as exc:  # no footer: truncated, or not Parquet after all
            yield 1, RowsLost("truncated_input", f"{type(exc).__name__}: {exc}")
            return
        names = [n for n in pf.schema_arrow.names if n in wanted]
        first = 1  # row number of the current row group's first row
        for group in range(pf.metadata.num_row_groups):
            size = pf.metadata.row_group(group).num_rows
            done = 0
            try:
                for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=names,
                                             use_threads=False):
                    for row in _pylist(batch):
                        yield first + done, row
                        done += 1
            except Exception as exc:  # a corrupt page: this row group's remaining rows, counted
                yield first + done, RowsLost(
                    "corrupt_row_group", f"row group {group}: rows {first + done}-{first + size - 1} lost: "
                    f"{type(exc).__name__}: {exc}", size - done)
            first += size


def _pylist(batch) -> list[dict]:
    """The batch's rows. Parquet's STRING type is UTF-8 by the format's specification, but writers
    do not all check it (Spark, a hand-made file): pyarrow then fails the whole batch on one bad
    value. Such a batch is re-read with its string columns as bytes, and a value that is not UTF-8
    stays bytes (the reader flags it `not_utf8`), so the other rows survive."""
    import pyarrow as pa

    try:
        return batch.to_pylist()
    except UnicodeDecodeError:
        pass
    as_bytes = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary()}
    texts = [name for name, column in zip(batch.schema.names, batch.columns) if column.type in as_bytes]
    columns = [column.view(as_bytes[column.type]) if column.type in as_bytes else column for column in batch.columns]
    rows = pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_pylist()
    for row in rows:
        for name in texts:
            if row[name] is not None:
                try:
                    row[name] = row[name].decode("utf-8")
                except UnicodeDecodeError:
                    pass
    return rows


def _read_avro(path: str, wanted: set[str]) -> Iterator[tuple[int, dict | RowsLost]]:
    import fastavro

    number = 0
    with FileSystems.open(path, compression_type="uncompressed") as f:
        try:
            for record in fastavro.reader(f):
                number += 1
                yield number, {k: v for k, v in record.items() if k in wanted} if isinstance(record, dict) else record
        except Exception as exc:  # a cut block, or a codec not installed (snappy needs cramjam)
            kind = "unsupported_codec" if "codec" in str(exc) else "truncated_input"
            yield number + 1, RowsLost(kind, f"{type(exc).__name__}: {exc}")
