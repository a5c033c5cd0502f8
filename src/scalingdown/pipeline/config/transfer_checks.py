"""Checks of `data.transfer` before any job: its loader and options, and that a CSV or JSON Lines file read by the
generic loader has the text column. Standard library only (the Snakefile runs it); Parquet files and the Hub
are checked by `prepare`, which reads them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.data_files import data_file_options
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.loader_registry import DataConfigError, check_data

_SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


def check_transfer(prefix: str, transfer: Mapping[str, Any], workdir: Path | None) -> None:
    """The transfer source of task `prefix` (`tasks.<task>`): a loader of classification data with valid options;
    a generic CSV or JSON Lines file has the column `text_column` names (default `text`) in its first record."""
    key = f"{prefix}.data.transfer"
    options = transfer.get("options") or {}
    try:
        check_data(transfer["loader"], "classification", options)
    except DataConfigError as error:
        where = "loader" if error.key == "type" else error.key.removeprefix("data.")
        raise ConfigError(f"{key}.{where}", error.problem) from None
    if transfer["loader"] != "generic":
        return
    column = options.get("text_column", "text")
    for option, name in data_file_options(options, f"{key}.options"):
        path = Path(name) if workdir is None or Path(name).is_absolute() else workdir / name
        kind = options.get("format") or _SUFFIX_FORMATS.get(path.suffix.lower())
        if kind not in ("csv", "jsonl") or not path.is_file():
            continue
        columns = _first_columns(path, kind)
        if columns is not None and column not in columns:
            raise ConfigError(
                option,
                f"{name} has no column {column!r} (its columns: {', '.join(sorted(columns)) or 'none'}); "
                f"name the text column with {key}.options.text_column",
            )


def _first_columns(path: Path, kind: str) -> set[str] | None:
    """The column names of a CSV header or of the first JSON Lines record (None when it cannot be read here)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if kind == "csv":
                return set(next(csv.reader(handle), []))
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    return set(record) if isinstance(record, dict) else None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error):
        return None  # prepare reads the file and names the problem
    return set()
