"""The config checks of a classification task (`check_config` calls them after the checks every task gets): no key
only text-to-text tasks use, and hidden-layer maps that name the student's teachers. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.settings import (
    TEXT2TEXT_LOSS_KEYS,
    TEXT2TEXT_STUDENT_KEYS,
    TEXT2TEXT_TASK_KEYS,
    TEXT2TEXT_TEACHER_KEYS,
    hidden_pairs,
)
from scalingdown.pipeline.errors import ConfigError


def check_classification_task(prefix: str, task: Mapping[str, Any], workdir: Path | None) -> None:
    """The checks of classification task `prefix` (`tasks.<task>`); `ConfigError` naming the key."""
    _check_no_text2text_keys(prefix, task)
    for name, student in task["students"].items():
        _check_hidden_map(f"{prefix}.students.{name}", student)


def _check_no_text2text_keys(prefix: str, task: Mapping[str, Any]) -> None:
    """None of the keys only text-to-text tasks use."""
    found = [key for key in TEXT2TEXT_TASK_KEYS if key in task]
    found += [
        f"teachers.{name}.{key}"
        for name, teacher in task["teachers"].items()
        for key in TEXT2TEXT_TEACHER_KEYS
        if key in teacher
    ]
    found += [
        f"students.{name}.{key}"
        for name, student in task["students"].items()
        for key in TEXT2TEXT_STUDENT_KEYS
        if key in student
    ]
    found += [
        f"students.{name}.loss.{key}"
        for name, student in task["students"].items()
        for key in TEXT2TEXT_LOSS_KEYS
        if key in student["loss"]
    ]
    if found:
        raise ConfigError(f"{prefix}.{found[0]}", f"only text-to-text tasks use this key, not a {task['type']} task")


def _check_hidden_map(key: str, student: Mapping[str, Any]) -> None:
    """Classification students: `loss.hidden_map` names the student's teachers, with a weight to match."""
    loss = student["loss"]
    if loss["hidden"] > 0 and student.get("teacher_mode") == "online":
        raise ConfigError(
            f"{key}.teacher_mode",
            "the hidden-layer MSE learns from the cached pooled teacher "
            "states; teacher_mode online supports the logit loss only (set loss.hidden: 0)",
        )
    if any(int(layer) < 0 for layer in loss.get("hidden_map") or {}):
        raise ConfigError(f"{key}.loss.hidden_map", "student layers are hidden-state indices >= 0")
    pairs = hidden_pairs(loss.get("hidden_map"))
    if loss["hidden"] > 0 and not pairs:
        raise ConfigError(f"{key}.loss.hidden_map", "loss.hidden > 0 needs a map of student layers to teacher layers")
    if pairs and loss["hidden"] == 0:
        raise ConfigError(f"{key}.loss.hidden", "hidden_map is set but its weight loss.hidden is 0")
    for _, teacher, _ in pairs:
        if teacher not in student["teachers"]:
            raise ConfigError(
                f"{key}.loss.hidden_map",
                f"teacher {teacher!r} is not one of the student's teachers {student['teachers']}",
            )
