"""Loading through Hugging Face `datasets`: Hub datasets, and local CSV, JSON Lines and Parquet files."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from scalingdown.data.data_errors import DataError
from scalingdown.data.reading import Batch, Records, jsonl_records, marked_encoding, numbered_lines, read_text

# The `datasets` builder that reads each generic file format.
BUILDERS = {"csv": "csv", "jsonl": "json", "parquet": "parquet"}


def dataset_records(dataset: Any) -> list[dict[str, Any]]:
    """The rows of a `datasets.Dataset` as dicts, class-label ids replaced by their names."""
    import datasets

    names = {
        column: feature.names
        for column, feature in dataset.features.items()
        if isinstance(feature, datasets.ClassLabel)
    }
    records: list[dict[str, Any]] = dataset.to_list()
    for record in records:
        for column, labels in names.items():
            value = record[column]
            if isinstance(value, int) and 0 <= value < len(labels):
                record[column] = labels[value]
    return records


def hub_name(hub: Mapping[str, Any], split: str) -> str:
    """How a Hub split is named in errors: `hub:<id>[/<config>][@<revision>]:<split>`."""
    config = f"/{hub['config']}" if hub.get("config") else ""
    revision = f"@{hub['revision']}" if hub.get("revision") else ""
    return f"hub:{hub['id']}{config}{revision}:{split}"


def hub_batch(hub: Mapping[str, Any], split: str) -> Batch:
    """One split of a Hub dataset (`hub`: id, optional config and revision) through `datasets.load_dataset`."""
    import datasets

    name = hub_name(hub, split)
    try:
        dataset = datasets.load_dataset(hub["id"], name=hub.get("config"), split=split, revision=hub.get("revision"))
    except Exception as error:  # offline, unknown id/config/split: the library's message says which
        raise DataError(name, None, f"could not load it with datasets.load_dataset: {error}") from error
    return Batch(name=name, id_prefix=split, unit="record", records=list(enumerate(dataset_records(dataset), 1)))


def file_records(path: Path, file_format: str) -> tuple[str, Records]:
    """A local CSV / JSON Lines / Parquet file read by `datasets.load_dataset`, numbered by line where possible.

    CSV has no types: every column is read as a string, and an empty cell stays "" (never NaN).
    """
    import datasets

    options: dict[str, Any] = {}
    lines = None
    if file_format == "csv":
        header, lines = _csv_layout(path)
        options = {
            "features": datasets.Features({name: datasets.Value("string") for name in header}),
            "keep_default_na": False,
        }
    elif file_format == "jsonl":
        lines = [number for number, _ in numbered_lines(read_text(path))]
        if not lines:
            raise DataError(path, None, "holds no records; expected one JSON object per line")
    elif _parquet_rows(path) == 0:
        raise DataError(path, None, "holds no records (a Parquet file of 0 rows)")
    if file_format != "parquet":
        # A byte-order mark decides the encoding (as `read_text` reads the file for the line numbers).
        options["encoding"] = marked_encoding(path) or "utf-8"
    with tempfile.TemporaryDirectory(prefix="scalingdown-datasets-") as cache:
        try:
            dataset = datasets.load_dataset(
                BUILDERS[file_format], data_files={"data": str(path)}, split="data", cache_dir=cache, **options
            )
        except Exception as error:  # the library's errors rarely name the line: find it ourselves
            _raise_read_error(path, file_format, error)
        records = dataset_records(dataset)
    if lines is not None and len(lines) == len(records):
        return "line", list(zip(lines, records, strict=True))
    return "record", list(enumerate(records, start=1))


def _parquet_rows(path: Path) -> int | None:
    """The rows of a Parquet file by its metadata; None when it is not readable as Parquet (`datasets` says why)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (pa.ArrowException, OSError):
        return None


def _raise_read_error(path: Path, file_format: str, error: Exception) -> NoReturn:
    if file_format == "jsonl":
        for line, record in jsonl_records(path):  # raises for the first line that is not a JSON object
            _check_names(path, line, list(record))
    cause: BaseException = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    found = " ".join(str(cause).split())  # the library's message on one line
    raise DataError(path, None, f"cannot read it as {file_format}: {found}") from error


def _check_names(path: Path, line: int, names: list[str]) -> None:
    """Column names the readers can hold: none with a NUL character (Arrow cuts a name there)."""
    cut = [name for name in names if "\x00" in name]
    if cut:
        raise DataError(path, line, f"the column name {cut[0]!r} holds a NUL character (\\x00); rename it")


# A CSV cell may hold a text of any length (the csv module's default limit is 128 KiB).
_CSV_FIELD_LIMIT = 2**31 - 1


def _csv_layout(path: Path) -> tuple[list[str], list[int]]:
    """The header of a CSV file and the line each record starts on; a row of the wrong width, a header that names
    a column twice and a header without records are errors."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header: list[str] | None = None
    starts, start = [], 1
    for row in reader:
        if row and header is None:
            header = row
            _check_names(path, start, header)
            repeated = sorted({name for name in header if header.count(name) > 1})
            if repeated:
                raise DataError(
                    path, start, f"the header names the column(s) {repeated} more than once; expected each once"
                )
        elif row and header is not None:
            if len(row) != len(header):
                raise DataError(path, start, f"expected {len(header)} fields, as in the header, found {len(row)}")
            starts.append(start)
        start = reader.line_num + 1
    if header is None:
        raise DataError(path, None, "empty file; expected a header line and records")
    if not starts:
        raise DataError(path, None, "has a header line but no records below it; expected one record per line")
    return header, starts
