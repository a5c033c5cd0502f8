"""The normalised schema of each task type, and what de-duplication and stratification look at.

- classification: `row_id`, `text`, `label` (label name)
- multiple_choice: `row_id`, `context`, `question` ("" when none), `options` (list), `label` (0-based index)
- generative_qa: `row_id`, `question`, `answer`, `aliases` (list, always holding `answer`)
- math: `row_id`, `question`, `options` (texts without "A)"), `rationale`, `answer` (letter A–E)
- instruction: `row_id`, `prompt`, `response`
"""

from __future__ import annotations

import json

import pandas as pd

from scalingdown.pipeline.names.tasks import INPUTS

COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("row_id", "text", "label"),
    "multiple_choice": ("row_id", "context", "question", "options", "label"),
    "generative_qa": ("row_id", "question", "answer", "aliases"),
    "math": ("row_id", "question", "options", "rationale", "answer"),
    "instruction": ("row_id", "prompt", "response"),
}
# What it must predict (what a model reads, `INPUTS`, is a "text" for de-duplication and split disjointness).
TARGET: dict[str, str] = {
    "classification": "label",
    "multiple_choice": "label",
    "generative_qa": "answer",
    "math": "answer",
    "instruction": "response",
}
# What a label budget empties on a transfer row: everything a model learns to predict.
LABEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("label",),
    "multiple_choice": ("label",),
    "generative_qa": ("answer", "aliases"),
    "math": ("rationale", "answer"),
    "instruction": ("response",),
}
# The task types whose `label` column holds a label name, one of the task's `labels` (multiple choice: an index).
NAMED_LABELS = ("classification",)
# Splits are stratified by this column (None: the target is free text).
STRATIFY: dict[str, str | None] = {
    "classification": "label",
    "multiple_choice": "label",
    "generative_qa": None,
    "math": "answer",
    "instruction": None,
}


def input_keys(frame: pd.DataFrame, task_type: str) -> pd.Series:
    """One string per row identifying its input: equal keys mean the same text."""
    columns = list(INPUTS[task_type])
    if columns in (["text"], ["question"], ["prompt"]):
        return frame[columns[0]].astype(str)
    return pd.Series(
        [
            json.dumps([_plain(v) for v in row], ensure_ascii=False)
            for row in frame[columns].itertuples(index=False, name=None)
        ],
        index=frame.index,
        dtype=str,
    )


def group_keys(frame: pd.DataFrame, column: str) -> pd.Series:
    """One string per row naming its group for `split.group_by`: the value of `column` (a list as its JSON text)."""
    return pd.Series(
        [json.dumps(_plain(value), ensure_ascii=False) for value in frame[column]], index=frame.index, dtype=str
    )


def _plain(value: object) -> object:
    return value.tolist() if hasattr(value, "tolist") else value


def label_counts(frame: pd.DataFrame, task_type: str) -> dict[str, int] | None:
    """Rows per label (per answer letter for math), or None for free-text answers."""
    column = STRATIFY[task_type]
    if column is None:
        return None
    return {str(label): int(count) for label, count in frame[column].value_counts().sort_index().items()}
