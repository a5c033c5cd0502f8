"""AQuA-RAT: JSON Lines (even in the release's `.json` files) with `question`, `options` ("A)…" to "E)…"),
`rationale` and `correct` (the answer letter). The Hub copy (`deepmind/aqua_rat`, config `raw`) has the
same fields.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.data_errors import RecordError
from scalingdown.data.reading import Records, jsonl_records
from scalingdown.data.records import ANSWER_LETTERS, answer_letter, field, nonempty, option_count, string, text
from scalingdown.data.schema import COLUMNS
from scalingdown.data.sources import load_splits

_LETTERED = re.compile(r"\s*([A-Za-z])\s*\)(.*)", re.DOTALL)


def read_file(path: Path, labels_path: Path | None) -> tuple[str, Records]:
    """One JSON object per line."""
    return "line", jsonl_records(path)


def option_texts(options: Any) -> list[str]:
    """The texts of options lettered "A)", "B)", … in order (at most five), without their letters."""
    if not isinstance(options, list):
        raise RecordError(f"field 'options': expected a list of strings, found {type(options).__name__}")
    texts = []
    for index, option in enumerate(option_count(options, "options", len(ANSWER_LETTERS))):
        letter = ANSWER_LETTERS[index]
        match = _LETTERED.fullmatch(option) if isinstance(option, str) else None
        if match is None or match[1] != letter:
            raise RecordError(
                f"option {index + 1} is {option!r}; expected it to start with '{letter})' "
                "(options are lettered A to E in order)"
            )
        texts.append(nonempty(match[2], f"options[{index}]"))
    return texts


def parse(record: dict[str, Any]) -> dict[str, Any]:
    """A math row: option texts without their letters, the rationale, the answer letter."""
    options = option_texts(field(record, "options"))
    return {
        "question": text(record, "question"),
        "options": options,
        "rationale": string(record, "rationale"),
        "answer": answer_letter(field(record, "correct"), len(options), "correct"),
    }


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Options: path / files / hub."""
    return load_splits(options, read_file, parse, COLUMNS["math"])
