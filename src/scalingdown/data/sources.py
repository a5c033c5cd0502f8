"""From a loader's source options (`path`, `files` or `hub`) to numbered records, then to split frames.

A format module supplies two functions: `read_file(path, labels_path)`, which turns one release file
(and its separate labels file, where the format has one) into numbered records, and `parse(record)`,
which checks one record and returns a row of the task type's schema. `load_splits` does the rest:
one frame per split, row ids `<file stem>:<line>` (Hub: `<hub split>:<record>`), and a `DataError`
naming the file and line for every bad record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.data_errors import DataError, RecordError
from scalingdown.data.hub import hub_batch
from scalingdown.data.reading import Batch, Records, read_text

FileReader = Callable[[Path, Path | None], tuple[str, Records]]
Parser = Callable[[dict[str, Any]], dict[str, Any]]


def attach_labels(records: Records, data_path: Path, labels_path: Path, name: str) -> Records:
    """Put line i of a labels file (one label per line) into record i as field `name`.

    A record that already holds `name` must agree with the labels file.
    """
    labels = read_text(labels_path).split("\n")
    if labels and labels[-1] == "":
        labels.pop()
    if len(labels) != len(records):
        counts = f"expected one label per record, found {len(labels)} labels for {len(records)} records"
        first = min(len(labels), len(records))
        if len(labels) < len(records):
            raise DataError(
                labels_path,
                first + 1,
                f"no label for record {first + 1} ({data_path} line {records[first][0]}); {counts}",
            )
        raise DataError(labels_path, first + 1, f"label beyond the last record of {data_path}; {counts}")
    attached = []
    for number, ((line, record), label) in enumerate(zip(records, labels, strict=True), start=1):
        label = label.strip()
        if not label:
            raise DataError(labels_path, number, "empty label")
        if record.get(name) not in (None, "") and str(record[name]).strip() != label:
            raise DataError(
                labels_path,
                number,
                f"label {label!r} differs from {name!r} = {record[name]!r} in {data_path} line {line}",
            )
        attached.append((line, {**record, name: label}))
    return attached


def _file_batch(path: str, labels_path: str | None, read_file: FileReader) -> Batch:
    for file in filter(None, (path, labels_path)):
        if not Path(file).is_file():
            raise DataError(file, None, "file not found")
    unit, records = read_file(Path(path), Path(labels_path) if labels_path else None)
    return Batch(name=path, id_prefix=Path(path).stem, unit=unit, records=records)


def _batches(options: Mapping[str, Any], read_file: FileReader) -> Iterator[tuple[str, Batch]]:
    if "path" in options:
        yield "all", _file_batch(options["path"], options.get("labels_path"), read_file)
    elif "files" in options:
        labels = options.get("labels_files", {})
        for split, path in options["files"].items():
            yield split, _file_batch(path, labels.get(split), read_file)
    else:
        for split, hub_split in options["hub"]["splits"].items():
            yield split, hub_batch(options["hub"], hub_split)


def _frame(batch: Batch, parse: Parser, columns: tuple[str, ...]) -> pd.DataFrame:
    if not batch.records:
        raise DataError(batch.name, None, "no records")
    rows = []
    for number, record in batch.records:
        try:
            row = parse(record)
        except RecordError as error:
            raise DataError(batch.name, number, error.problem, batch.unit) from None
        row.setdefault("row_id", f"{batch.id_prefix}:{number}")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(columns))


def load_splits(
    options: Mapping[str, Any], read_file: FileReader, parse: Parser, columns: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """Every split the options name, parsed into frames with `columns`; row ids unique across splits."""
    parts: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    for split, batch in _batches(options, read_file):
        frame = _frame(batch, parse, columns)
        for row_id in frame["row_id"]:
            if row_id in sources:
                raise DataError(
                    batch.name,
                    None,
                    f"row id {row_id!r} repeats one from {sources[row_id]}; "
                    "expected unique ids (give files distinct names)",
                )
            sources[row_id] = batch.name
        parts[split] = frame
    return parts
