"""Financial PhraseBank v1.0: `Sentences_<level>Agree.txt`, one `sentence@label` per line, latin-1.

The Hub copy (e.g. `takala/financial_phrasebank`) has the fields `sentence` and `label` (class names
negative / neutral / positive) and goes through the same checks.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.data_errors import DataError, RecordError
from scalingdown.data.reading import Records, numbered_lines, read_text
from scalingdown.data.records import field, text
from scalingdown.data.schema import COLUMNS
from scalingdown.data.sources import load_splits

LABELS = ("negative", "neutral", "positive")


def read_file(path: Path, labels_path: Path | None, encoding: str = "latin-1") -> tuple[str, Records]:
    """Split every non-blank line on its last '@'."""
    records = []
    for number, line in numbered_lines(read_text(path, encoding)):
        sentence, separator, label = line.rpartition("@")
        if not separator:
            raise DataError(path, number, "expected 'sentence@label', found no '@'")
        records.append((number, {"sentence": sentence, "label": label}))
    return "line", records


def parse(record: dict[str, Any]) -> dict[str, Any]:
    """A classification row; the label must be one of negative, neutral, positive."""
    label = field(record, "label")
    if label not in LABELS:
        raise RecordError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    return {"text": text(record, "sentence"), "label": label}


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Options: path / files / hub, `encoding` (latin-1)."""
    reader = partial(read_file, encoding=options.get("encoding", "latin-1"))
    return load_splits(options, reader, parse, COLUMNS["classification"])
