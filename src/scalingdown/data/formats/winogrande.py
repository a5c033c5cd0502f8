"""WinoGrande: JSON Lines with `sentence` (one `_` blank), `option1`, `option2` and `answer` ("1"/"2"),
or the answers in a separate `*-labels.lst` (one per line). The Hub copy (`allenai/winogrande`) has the
same fields.
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


def read_file(path: Path, labels_path: Path | None) -> tuple[str, Records]:
    """The JSON Lines records, with the labels file's answers attached when one is given."""
    records = jsonl_records(path)
    if labels_path is not None:
        records = attach_labels(records, path, labels_path, "answer")
    return "line", records


def parse(record: dict[str, Any]) -> dict[str, Any]:
    """A multiple-choice row: the sentence with its blank as context, the two fillers as options."""
    sentence = text(record, "sentence")
    if "_" not in sentence:
        raise RecordError("field 'sentence' has no '_'; expected a sentence with a '_' blank to fill")
    options = [text(record, "option1"), text(record, "option2")]
    if record.get("answer") in (None, ""):
        raise RecordError("no answer: expected a field 'answer' (1 or 2) or a labels file (labels_path)")
    return {
        "context": sentence,
        "question": "",
        "options": options,
        "label": choice_index(record["answer"], 2, 1, "answer"),
    }


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Options: path (+ labels_path) / files (+ labels_files) / hub."""
    return load_splits(options, read_file, parse, COLUMNS["multiple_choice"])
