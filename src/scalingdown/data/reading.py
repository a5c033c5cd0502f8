"""Reading release files into numbered records: decoded text, numbered lines, JSON Lines and JSON documents.

The primitives every source (a local file or a Hub split) and every format module share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalingdown.data.errors import DataError

Records = list[tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Batch:
    """The records of one source: `name` is shown in errors, row ids are `<id_prefix>:<number>`."""

    name: str
    id_prefix: str
    unit: str
    records: Records


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The decoded text of `path`; undecodable bytes are a `DataError` naming their line."""
    data = Path(path).read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(path, line, f"bytes that are not valid {encoding}: {error.reason}") from None


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers, split on '\\n' only (U+0085 may occur inside a line)."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line.rstrip("\r")


def jsonl_records(path: Path) -> Records:
    """JSON Lines: one JSON object per non-blank line."""
    records = []
    for number, line in numbered_lines(read_text(path)):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                path, number, f"invalid JSON ({error.msg} at column {error.colno}); expected one JSON object per line"
            ) from None
        if not isinstance(record, dict):
            raise DataError(path, number, f"expected a JSON object, found {type(record).__name__}")
        records.append((number, record))
    return records


def json_document(path: Path) -> Any:
    """A file holding one JSON document."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(path, error.lineno, f"invalid JSON ({error.msg} at column {error.colno})") from None
