"""The error every loader raises for bad input: it names the file, the record and what was expected."""

from __future__ import annotations

from pathlib import Path

from scalingdown.errors import UserError


class DataError(UserError, ValueError):
    """Bad input data. `where` is a line or record number (1-based) or None for the whole file."""

    def __init__(self, path: str | Path, where: int | None, problem: str) -> None:
        location = f"{path}" if where is None else f"{path}, line {where}"
        super().__init__(f"{location}: {problem}")
        self.path = str(path)
        self.where = where
        self.problem = problem
