"""Naming the key a user wrote: a mistake that reaches a teacher or student through `teacher_defaults` or
`student_defaults` (or the `hyperparameters` file) is reported under the defaults that hold it, not under the
member it was merged into. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.defaults import read_hyperparameters
from scalingdown.pipeline.errors import ConfigError

_DEFAULTS = {"teachers": "teacher_defaults", "students": "student_defaults"}


def _holds(settings: Any, path: list[str]) -> bool:
    """Whether the nested mapping `settings` sets the key `path` (an element's index, `batch_size[1]`, names the list
    that holds it)."""
    for part in (re.sub(r"(\[\d+\])+$", "", part) for part in path):
        if not isinstance(settings, Mapping) or part not in settings:
            return False
        settings = settings[part]
    return True


def attribute_to_defaults(error: ConfigError, raw: Mapping[str, Any], workdir: Path | None = None) -> ConfigError:
    """`error` (found after the defaults were merged) renamed to the defaults' key when the member itself does
    not set the wrong key but its task's defaults do (or the `hyperparameters` file's); else `error` itself.

    `raw` is the config as the user wrote it, before `apply_defaults`.
    """
    parts = error.key.split(".")
    if len(parts) < 5 or parts[0] != "tasks" or parts[2] not in _DEFAULTS:
        return error
    task, role, member, path = parts[1], parts[2], parts[3], parts[4:]
    written = (raw.get("tasks") or {}).get(task)
    if not isinstance(written, Mapping) or _holds((written.get(role) or {}).get(member), path):
        return error
    defaults = _DEFAULTS[role]
    if _holds(written.get(defaults), path):
        return ConfigError(".".join(["tasks", task, defaults, *path]), error.problem)
    try:
        shared = read_hyperparameters(raw, workdir)
    except ConfigError:
        return error
    if _holds(shared.get(defaults), path):
        return ConfigError(
            "hyperparameters", f"{raw['hyperparameters']}: {'.'.join([defaults, *path])}: {error.problem}"
        )
    return error
