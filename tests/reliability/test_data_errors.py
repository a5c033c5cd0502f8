"""Every kind of bad input stops with an error naming the file, the line and what was expected, and
`prepare` leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalingdown.cli import main
from scalingdown.data.data_errors import DataError
from scalingdown.data.loaders import load
from tests.conftest import FIXTURE_DATASETS, scalingdown

PB, AQ, WG, SI, TQ, GE = (
    FIXTURE_DATASETS / name for name in ("phrasebank", "aqua_rat", "winogrande", "social_iqa", "triviaqa", "generic")
)
REVIEWS = {"text_column": "review", "label_column": "stars", "label_names": ["negative", "neutral", "positive"]}

# (loader, task type, options, the file the error names, its line or record, what the message says)
BAD_INPUTS = {
    "phrasebank-no-separator": (
        "phrasebank",
        "classification",
        {"path": PB / "bad_no_separator.txt"},
        PB / "bad_no_separator.txt",
        2,
        "expected 'sentence@label', found no '@'",
    ),
    "phrasebank-unknown-label": (
        "phrasebank",
        "classification",
        {"path": PB / "bad_label.txt"},
        PB / "bad_label.txt",
        3,
        "unknown label 'bearish'; expected one of negative",
    ),
    "phrasebank-empty-text": (
        "phrasebank",
        "classification",
        {"path": PB / "bad_empty.txt"},
        PB / "bad_empty.txt",
        2,
        "empty 'sentence'",
    ),
    "phrasebank-bad-bytes": (
        "phrasebank",
        "classification",
        {"path": PB / "bad_bytes.txt", "encoding": "utf-8"},
        PB / "bad_bytes.txt",
        2,
        "bytes that are not valid utf-8",
    ),
    "aqua-json-syntax": (
        "aqua_rat",
        "math",
        {"path": AQ / "bad_syntax.json"},
        AQ / "bad_syntax.json",
        3,
        "invalid JSON (Expecting ',' delimiter",
    ),
    "aqua-missing-field": (
        "aqua_rat",
        "math",
        {"path": AQ / "bad_missing_field.json"},
        AQ / "bad_missing_field.json",
        2,
        "missing field 'correct'",
    ),
    "aqua-answer-letter": (
        "aqua_rat",
        "math",
        {"path": AQ / "bad_answer_letter.json"},
        AQ / "bad_answer_letter.json",
        3,
        "option letter 'F' in 'correct' is outside A–E",
    ),
    "aqua-option-letter": (
        "aqua_rat",
        "math",
        {"path": AQ / "bad_option_letter.json"},
        AQ / "bad_option_letter.json",
        2,
        "option 5 is 'F)48'; expected it to start with 'E)'",
    ),
    "aqua-empty-text": (
        "aqua_rat",
        "math",
        {"path": AQ / "bad_empty.json"},
        AQ / "bad_empty.json",
        1,
        "empty 'question'",
    ),
    "aqua-bad-bytes": (
        "aqua_rat",
        "math",
        {"path": AQ / "bad_bytes.json"},
        AQ / "bad_bytes.json",
        3,
        "bytes that are not valid utf-8",
    ),
    "winogrande-unknown-label": (
        "winogrande",
        "multiple_choice",
        {"path": WG / "bad_label.jsonl"},
        WG / "bad_label.jsonl",
        2,
        "unknown label '3' in 'answer'; expected one of 1, 2",
    ),
    "winogrande-missing-field": (
        "winogrande",
        "multiple_choice",
        {"path": WG / "bad_missing_field.jsonl"},
        WG / "bad_missing_field.jsonl",
        2,
        "missing field 'option2'",
    ),
    "winogrande-json-syntax": (
        "winogrande",
        "multiple_choice",
        {"path": WG / "bad_syntax.jsonl"},
        WG / "bad_syntax.jsonl",
        2,
        "invalid JSON",
    ),
    "winogrande-empty-text": (
        "winogrande",
        "multiple_choice",
        {"path": WG / "bad_empty.jsonl"},
        WG / "bad_empty.jsonl",
        3,
        "empty 'option1'",
    ),
    "winogrande-bad-bytes": (
        "winogrande",
        "multiple_choice",
        {"path": WG / "bad_bytes.jsonl"},
        WG / "bad_bytes.jsonl",
        2,
        "bytes that are not valid utf-8",
    ),
    "winogrande-labels-too-few": (
        "winogrande",
        "multiple_choice",
        {"path": WG / "dev.jsonl", "labels_path": WG / "dev-labels-short.lst"},
        WG / "dev-labels-short.lst",
        4,
        "no label for record 4",
    ),
    "social-iqa-labels-too-many": (
        "social_iqa",
        "multiple_choice",
        {"path": SI / "dev.jsonl", "labels_path": SI / "dev-labels-long.lst"},
        SI / "dev-labels-long.lst",
        7,
        "expected one label per record, found 7 labels for 6 records",
    ),
    "social-iqa-unknown-label": (
        "social_iqa",
        "multiple_choice",
        {"path": SI / "dev.jsonl", "labels_path": SI / "bad-labels.lst"},
        SI / "dev.jsonl",
        3,
        "unknown label '4' in 'label'; expected one of 1, 2, 3",
    ),
    "social-iqa-missing-field": (
        "social_iqa",
        "multiple_choice",
        {"path": SI / "bad_missing_field.jsonl", "labels_path": SI / "two-records-labels.lst"},
        SI / "bad_missing_field.jsonl",
        2,
        "missing field 'answerC'",
    ),
    "social-iqa-json-syntax": (
        "social_iqa",
        "multiple_choice",
        {"path": SI / "bad_syntax.jsonl"},
        SI / "bad_syntax.jsonl",
        3,
        "invalid JSON",
    ),
    "social-iqa-empty-text": (
        "social_iqa",
        "multiple_choice",
        {"path": SI / "bad_empty.jsonl", "labels_path": SI / "two-records-labels.lst"},
        SI / "bad_empty.jsonl",
        2,
        "empty 'context'",
    ),
    "social-iqa-no-labels-file": (
        "social_iqa",
        "multiple_choice",
        {"path": SI / "dev.jsonl"},
        SI / "dev.jsonl",
        1,
        "no label: expected a labels file",
    ),
    "social-iqa-bad-bytes": (
        "social_iqa",
        "multiple_choice",
        {"path": SI / "bad_bytes.jsonl"},
        SI / "bad_bytes.jsonl",
        2,
        "bytes that are not valid utf-8",
    ),
    "triviaqa-missing-field": (
        "triviaqa",
        "generative_qa",
        {"path": TQ / "bad_missing_field.json"},
        TQ / "bad_missing_field.json",
        3,
        "missing field 'Answer.Value'",
    ),
    "triviaqa-json-syntax": (
        "triviaqa",
        "generative_qa",
        {"path": TQ / "bad_syntax.json"},
        TQ / "bad_syntax.json",
        44,
        "invalid JSON (Expecting ',' delimiter",
    ),
    "triviaqa-empty-text": (
        "triviaqa",
        "generative_qa",
        {"path": TQ / "bad_empty.jsonl"},
        TQ / "bad_empty.jsonl",
        2,
        "empty 'answer'",
    ),
    "triviaqa-bad-bytes": (
        "triviaqa",
        "generative_qa",
        {"path": TQ / "bad_bytes.jsonl"},
        TQ / "bad_bytes.jsonl",
        2,
        "bytes that are not valid utf-8",
    ),
    "generic-unknown-label": (
        "generic",
        "classification",
        {"path": GE / "bad_label.csv", **REVIEWS},
        GE / "bad_label.csv",
        3,
        "unknown label 7 in 'stars'",
    ),
    "generic-missing-field": (
        "generic",
        "classification",
        {"path": GE / "missing_column.csv", **REVIEWS},
        GE / "missing_column.csv",
        2,
        "missing field 'review'",
    ),
    "generic-empty-text": (
        "generic",
        "classification",
        {"path": GE / "empty_text.csv", **REVIEWS},
        GE / "empty_text.csv",
        3,
        "empty 'review'",
    ),
    "generic-bad-bytes": (
        "generic",
        "classification",
        {"path": GE / "bad_bytes.csv", **REVIEWS},
        GE / "bad_bytes.csv",
        3,
        "bytes that are not valid utf-8",
    ),
    "generic-csv-row-width": (
        "generic",
        "classification",
        {"path": GE / "ragged.csv", **REVIEWS},
        GE / "ragged.csv",
        3,
        "expected 2 fields, as in the header, found 3",
    ),
    "generic-json-syntax": (
        "generic",
        "generative_qa",
        {"path": GE / "bad_syntax.jsonl"},
        GE / "bad_syntax.jsonl",
        2,
        "invalid JSON",
    ),
}


def _options(options: dict) -> dict:
    return {key: str(value) if isinstance(value, Path) else value for key, value in options.items()}


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_loader_names_file_line_and_expectation(case):
    loader, task_type, options, path, where, fragment = case
    with pytest.raises(DataError) as error:
        load(loader, _options(options), 0, task_type)
    assert (Path(error.value.path).resolve(), error.value.where) == (path.resolve(), where)
    assert fragment in error.value.problem
    assert str(error.value).startswith(f"{error.value.path}, {error.value.unit} {where}: ")


def _spec(loader: str, task_type: str, options: dict) -> str:
    return json.dumps(
        {
            "task": "t",
            "type": task_type,
            "labels": None,
            "seed": 1,
            "format": 2,
            "data": {
                "loader": loader,
                "options": _options(options),
                "split": {"validation": 0.2, "test": 0.2},
                "data_portion": 1.0,
            },
        }
    )


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_prepare_exits_2_naming_file_and_line_and_writes_nothing(case, tmp_path: Path, capsys):
    loader, task_type, options, path, where, fragment = case
    out = tmp_path / "data"
    assert main(["prepare", "--spec", _spec(loader, task_type, options), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: ") and fragment in error and f" {where}: " in error
    assert path.name in error
    assert list(tmp_path.iterdir()) == []


def test_prepare_command_line_stops_on_bad_data(tmp_path: Path):
    loader, task_type, options, path, _where, fragment = BAD_INPUTS["phrasebank-unknown-label"]
    result = scalingdown("prepare", "--spec", _spec(loader, task_type, options), "--out", str(tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {path}, line 3: {fragment}, neutral, positive"
    assert list(tmp_path.iterdir()) == []
