"""The normalised schema of each task type, and what de-duplication and stratification look at.

- classification: `row_id`, `text`, `label` (label name)
- multiple_choice: `row_id`, `context`, `question` ("" when none), `options` (list), `label` (0-based index)
- generative_qa: `row_id`, `question`, `answer`, `aliases` (list, always holding `answer`)
- math: `row_id`, `question`, `options` (texts without "A)"), `rationale`, `answer` (letter A–E)
"""

from __future__ import annotations

import json

import pandas as pd

COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("row_id", "text", "label"),
    "multiple_choice": ("row_id", "context", "question", "options", "label"),
    "generative_qa": ("row_id", "question", "answer", "aliases"),
    "math": ("row_id", "question", "options", "rationale", "answer"),
}
# What a model reads (a "text" for de-duplication and split disjointness) and what it must predict.
INPUTS: dict[str, tuple[str, ...]] = {
    "classification": ("text",),
    "multiple_choice": ("context", "question", "options"),
    "generative_qa": ("question",),
    "math": ("question", "options"),
}
TARGET: dict[str, str] = {
    "classification": "label",
    "multiple_choice": "label",
    "generative_qa": "answer",
    "math": "answer",
}
# Splits are stratified by this column (None: the target is free text).
STRATIFY: dict[str, str | None] = {
    "classification": "label",
    "multiple_choice": "label",
    "generative_qa": None,
    "math": "answer",
}


def input_keys(frame: pd.DataFrame, task_type: str) -> pd.Series:
    """One string per row identifying its input: equal keys mean the same text."""
    columns = list(INPUTS[task_type])
    if columns == ["text"] or columns == ["question"]:
        return frame[columns[0]].astype(str)
    return pd.Series(
        [
            json.dumps([_plain(v) for v in row], ensure_ascii=False)
            for row in frame[columns].itertuples(index=False, name=None)
        ],
        index=frame.index,
        dtype=str,
    )


def _plain(value: object) -> object:
    return value.tolist() if hasattr(value, "tolist") else value


def label_counts(frame: pd.DataFrame, task_type: str) -> dict[str, int] | None:
    """Rows per label (per answer letter for math), or None for free-text answers."""
    column = STRATIFY[task_type]
    if column is None:
        return None
    return {str(label): int(count) for label, count in frame[column].value_counts().sort_index().items()}
