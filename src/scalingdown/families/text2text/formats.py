"""Text-to-text formats: how a row of each text-to-text task type becomes a source and a target text.

The prompts and the fields each task type offers are `pipeline.names.tasks`. Whitespace runs (newlines included)
collapse to one space after formatting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scalingdown.pipeline.names.tasks import PROMPT_FIELDS

LETTERS = "ABCDEFGHIJ"


def render_options(options: Sequence[str]) -> str:
    """`["x", "y"]` → `"(A) x (B) y"`."""
    return " ".join(f"({LETTERS[index]}) {option}" for index, option in enumerate(options))


def _fill(template: str, fields: Mapping[str, Any]) -> str:
    return " ".join(template.format(**fields).split())


def _fields(task_type: str, row: Mapping[str, Any]) -> dict[str, Any]:
    fields = {name: row[name] for name in PROMPT_FIELDS[task_type] if name in row and name != "options"}
    if "options" in row:
        fields["options"] = render_options(list(row["options"]))
    if task_type == "multiple_choice":
        fields["choice"] = list(row["options"])[int(row["label"])]
    return fields


def source_text(task_type: str, prompt: Mapping[str, str], row: Mapping[str, Any]) -> str:
    """The encoder input of one row."""
    return _fill(prompt["source"], _fields(task_type, row))


def target_text(task_type: str, prompt: Mapping[str, str], row: Mapping[str, Any]) -> str:
    """The gold decoder target of one row."""
    return _fill(prompt["target"], _fields(task_type, row))


def option_targets(prompt: Mapping[str, str], row: Mapping[str, Any]) -> list[str]:
    """The target text of every option of a multiple-choice row, in option order (for scoring)."""
    fields = _fields("multiple_choice", row)
    return [_fill(prompt["target"], {**fields, "choice": option}) for option in row["options"]]
