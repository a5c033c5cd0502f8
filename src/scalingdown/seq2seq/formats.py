"""Text-to-text formats: how a row of each seq2seq task type becomes a source and a target text.

Standard library only (the config check imports it). Prompts are `str.format` templates over a
row's fields; each task type names the fields it offers:

- generative_qa: `question`, `answer`
- multiple_choice: `context`, `question`, `options` (rendered "(A) … (B) …"), `choice` (the text of
  one option: the gold one for training, each one in turn when options are scored)
- math: `question`, `options` (rendered "(A) … (E) …"), `rationale`, `answer` (the letter)

Whitespace runs (newlines included) collapse to one space after formatting.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

SEQ2SEQ_TYPES = ("multiple_choice", "generative_qa", "math")
LETTERS = "ABCDEFGHIJ"

PROMPT_FIELDS: dict[str, tuple[str, ...]] = {
    "generative_qa": ("question", "answer"),
    "multiple_choice": ("context", "question", "options", "choice"),
    "math": ("question", "options", "rationale", "answer"),
}
DEFAULT_PROMPTS: dict[str, dict[str, str]] = {
    "generative_qa": {"source": "question: {question}", "target": "{answer}"},
    "multiple_choice": {"source": "{context} {question} options: {options}", "target": "{choice}"},
    "math": {"source": "question: {question} options: {options}", "target": "{rationale} The answer is {answer}."},
}
# Fields only the target may use (they give the answer away).
_TARGET_ONLY = {"generative_qa": {"answer"}, "multiple_choice": {"choice"}, "math": {"rationale", "answer"}}


def is_seq2seq(task_type: str) -> bool:
    """Whether a task type is trained text-to-text (T5 family)."""
    return task_type in SEQ2SEQ_TYPES


def prompt_for(task_type: str, prompt: Mapping[str, str] | None) -> dict[str, str]:
    """The task's prompt: the type's defaults, overridden by the configured `source`/`target`."""
    return {**DEFAULT_PROMPTS[task_type], **(prompt or {})}


def prompt_problem(task_type: str, part: str, template: str) -> str | None:
    """Why `template` cannot be the `part` (source/target) prompt of `task_type`, or None when it can."""
    allowed = set(PROMPT_FIELDS[task_type]) - (_TARGET_ONLY[task_type] if part == "source" else set())
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        return f"not a valid format template ({error})"
    unknown = sorted({name for name in fields if name not in allowed})
    if unknown:
        return f"uses {{{'}, {'.join(unknown)}}}; the {part} of a {task_type} task may use {sorted(allowed)}"
    return None


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
