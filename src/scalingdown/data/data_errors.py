"""The error every loader raises for bad input: it names the file, the record and what was expected."""

from __future__ import annotations

from pathlib import Path

from scalingdown.pipeline.errors import UserError


class DataError(UserError, ValueError):
    """Bad input data. `where` is a line or record number (1-based), or None for the whole file.

    `unit` says what `where` counts: "line" for text files, "record" for a JSON list or a Hub split.
    """

    def __init__(self, path: str | Path, where: int | None, problem: str, unit: str = "line") -> None:
        location = f"{path}" if where is None else f"{path}, {unit} {where}"
        super().__init__(f"{location}: {problem}")
        self.path = str(path)
        self.where = where
        self.unit = unit
        self.problem = problem


class RecordError(ValueError):
    """A problem with one record; the reader adds the file and the line (and raises `DataError`)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
