"""Social IQA: JSON Lines with `context`, `question`, `answerA`, `answerB`, `answerC`, and the answers in a
separate `*-labels.lst` (one per line, 1-based). The Hub copy (`allenai/social_i_qa`) carries them as a
`label` field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.data_errors import RecordError
from scalingdown.data.reading import Records, jsonl_records
from scalingdown.data.records import choice_index, text
from scalingdown.data.schema import COLUMNS
from scalingdown.data.sources import attach_labels, load_splits

ANSWER_FIELDS = ("answerA", "answerB", "answerC")


def read_file(path: Path, labels_path: Path | None) -> tuple[str, Records]:
    """The JSON Lines records, with the labels file's answers attached as `label`."""
    records = jsonl_records(path)
    if labels_path is not None:
        records = attach_labels(records, path, labels_path, "label")
    return "line", records


def parse(record: dict[str, Any]) -> dict[str, Any]:
    """A multiple-choice row with three options; the label becomes 0-based."""
    row = {
        "context": text(record, "context"),
        "question": text(record, "question"),
        "options": [text(record, name) for name in ANSWER_FIELDS],
    }
    if record.get("label") in (None, ""):
        raise RecordError("no label: expected a labels file (labels_path / labels_files) or a field 'label'")
    return {**row, "label": choice_index(record["label"], len(ANSWER_FIELDS), 1, "label")}


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Options: path (+ labels_path) / files (+ labels_files) / hub."""
    return load_splits(options, read_file, parse, COLUMNS["multiple_choice"])
