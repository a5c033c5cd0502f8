"""The input files a task's loaders name: found in their options, checked to exist before any job, and given to the
`prepare` rule as inputs (so that a changed file reruns it). Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.errors import ConfigError


def data_file_options(options: Mapping[str, Any], prefix: str = "data.options") -> list[tuple[str, str]]:
    """(dotted key, path) of every input file a loader's options name: options called `path` or
    `files` or ending in `_path` / `_files` (a string, or the strings of a list or mapping)."""
    found: list[tuple[str, str]] = []

    def collect(key: str, value: Any) -> None:
        if isinstance(value, str):
            found.append((key, value))
        elif isinstance(value, Mapping):
            for name, item in value.items():
                collect(f"{key}.{name}", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                collect(f"{key}.{index}", item)

    for name, value in options.items():
        if name in {"path", "files"} or name.endswith(("_path", "_files")):
            collect(f"{prefix}.{name}", value)
    return found


def source_files(options: Iterable[Mapping[str, Any]]) -> list[str]:
    """The input files the options of some loaders name (see `data_file_options`), sorted and without repeats."""
    return sorted({path for option in options for _, path in data_file_options(option)})


def check_data_files(config: Mapping[str, Any], workdir: Path) -> None:
    """Every data file the tasks' loaders (and transfer loaders) name exists (relative paths start in `workdir`)."""
    for task_name, task in config["tasks"].items():
        sources = {"data": task["data"], "data.transfer": task["data"].get("transfer") or {}}
        for where, source in sources.items():
            _check_files_exist(source.get("options", {}), f"tasks.{task_name}.{where}.options", workdir)


def _check_files_exist(options: Mapping[str, Any], prefix: str, workdir: Path) -> None:
    for key, name in data_file_options(options, prefix):
        if not (workdir / name).exists():  # an absolute `name` replaces `workdir`
            raise ConfigError(
                key, f"file {name!r} does not exist (relative paths start in the working directory, {workdir})"
            )
