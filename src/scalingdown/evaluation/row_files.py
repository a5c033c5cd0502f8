"""The row files `scalingdown predict` and `scalingdown generate` read and write: CSV, JSON Lines or Parquet in,
CSV or JSON Lines out, in chunks of rows, every value as it was read.

- CSV: each value is the text of its cell, nothing inferred (`NA`, `null`, `N/A` and an empty cell stay texts); the
  header is the first record, and a name it holds twice is refused.
- JSON Lines: each non-blank line one JSON object, its values as `json` parses them (numbers, booleans, null, lists,
  objects). `open_rows` reads the file once before any chunk: it checks every line, counts the rows and collects the
  union of the keys in the order they first occur, which is the header (so a key first seen in the last row is a
  column of a CSV output like any other). A JSON Lines output repeats each row's own keys, in its own order.
- Parquet: the Arrow values as Python objects, the schema's names as the header.

A CSV output cell is the text itself, empty for null or a key the row does not have, and JSON for any other value
(`1.5`, `true`, `[1, 2]`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from scalingdown.data.data_errors import DataError
from scalingdown.data.reading import json_object

Row = dict[str, Any]
INPUT_FORMATS = (".csv", ".jsonl", ".parquet")
OUTPUT_FORMATS = (".csv", ".jsonl")
ENCODING = "utf-8"
# Reading drops a UTF-8 byte-order mark, so that it never reaches the first column's name.
_READ_ENCODING = "utf-8-sig"
# A CSV cell may hold a text of any length (the csv module's default limit is 128 KiB).
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class RowFile:
    """An input file checked by `open_rows`: its header and, where known before reading, its number of rows."""

    path: Path
    header: list[str]
    rows: int | None

    def chunks(self, size: int) -> Iterator[list[Row]]:
        """The rows in chunks of at most `size`, in file order."""
        suffix = self.path.suffix.lower()
        rows = _parquet_rows(self.path, size) if suffix == ".parquet" else _text_rows(self.path, suffix, self.header)
        chunk: list[Row] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def open_rows(path: Path) -> RowFile:
    """`path` checked as far as it can be without predicting: readable, a header without repeated names; a JSON
    Lines file is read through (see the module's docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise DataError(path, None, f"not a readable Parquet file ({error})") from error
        header, rows = list(parquet.schema_arrow.names), parquet.metadata.num_rows
    elif suffix == ".csv":
        header, rows = _csv_header(path), None
    else:
        header, rows = _jsonl_keys(path)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(path, None, f"the header names the column(s) {repeated} more than once; expected each once")
    return RowFile(path, header, rows)


def _decoding(path: Path, error: UnicodeDecodeError) -> DataError:
    return DataError(path, None, f"is not {ENCODING} text ({error.reason} at byte 0x{error.object[error.start]:02x})")


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank CSV record with the line it starts on."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    try:
        with path.open(encoding=_READ_ENCODING, newline="") as handle:
            reader = csv.reader(handle)
            start = 1
            for record in reader:
                if record:
                    yield start, record
                start = reader.line_num + 1
    except UnicodeDecodeError as error:
        raise _decoding(path, error) from None
    except csv.Error as error:
        raise DataError(path, None, f"not a readable .csv file ({error})") from None


def _csv_header(path: Path) -> list[str]:
    first = next(_csv_records(path), None)
    if first is None:
        raise DataError(path, None, "is empty; expected a header line and rows")
    return first[1]


def _jsonl_lines(path: Path) -> Iterator[tuple[int, Row]]:
    """Each non-blank line of a JSON Lines file as an object, with its number."""
    try:
        with path.open(encoding=_READ_ENCODING) as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, json_object(path, number, line)
    except UnicodeDecodeError as error:
        raise _decoding(path, error) from None


def _jsonl_keys(path: Path) -> tuple[list[str], int]:
    """The union of the keys of every line, in the order they first occur, and the number of rows."""
    keys: dict[str, None] = {}
    rows = 0
    for _, row in _jsonl_lines(path):
        keys.update(dict.fromkeys(row))
        rows += 1
    return list(keys), rows


def _text_rows(path: Path, suffix: str, header: list[str]) -> Iterator[Row]:
    if suffix == ".jsonl":
        yield from (row for _, row in _jsonl_lines(path))
        return
    records = _csv_records(path)
    next(records)  # the header
    for line, record in records:
        if len(record) != len(header):
            raise DataError(path, line, f"expected {len(header)} fields, as in the header, found {len(record)}")
        yield dict(zip(header, record))


def _parquet_rows(path: Path, size: int) -> Iterator[Row]:
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as error:
        raise DataError(path, None, f"not a readable Parquet file ({error})") from error


def csv_cell(value: Any) -> str:
    """A value as a CSV output writes it: a text as it is, null as empty, numbers, booleans, lists and objects as
    JSON, anything else (a date) as its text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class RowWriter:
    """Writes rows to an open text handle as CSV (one header: `header`) or JSON Lines (each row its own keys)."""

    def __init__(self, handle: TextIO, suffix: str, header: list[str]) -> None:
        self.header = header
        # RFC 4180 line ends (CRLF): the csv module then quotes every cell holding a \r or \n.
        self._csv = csv.writer(handle, lineterminator="\r\n") if suffix == ".csv" else None
        self._handle = handle
        if self._csv is not None:
            self._csv.writerow(header)

    def write(self, rows: list[Row]) -> None:
        """Append `rows`: CSV cells in the header's order (a missing key an empty cell), or one JSON object each."""
        if self._csv is not None:
            self._csv.writerows([csv_cell(row.get(name)) for name in self.header] for row in rows)
            return
        for row in rows:
            self._handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def looks_like_output(path: Path, columns: tuple[str, ...], prefixes: tuple[str, ...] = ()) -> bool:
    """Whether `path` is empty or starts like a file a command writes: a header (CSV) or a first object (JSON Lines)
    with every one of `columns` and, for each of `prefixes`, a column starting with it (`predict`: `label` and a
    `prob_<label>` column)."""
    if path.stat().st_size == 0:
        return True
    try:
        if path.suffix.lower() == ".csv":
            first: Any = next(_csv_records(path), (0, []))[1]
        else:
            first = next(_jsonl_lines(path), (0, {}))[1]
    except DataError:
        return False
    return all(name in first for name in columns) and all(
        any(str(name).startswith(prefix) for name in first) for prefix in prefixes
    )
