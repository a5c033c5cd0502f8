"""Any CSV, JSON Lines or Parquet file (or Hub dataset) with configurable columns, read by `datasets`.

Column options by task type (defaults in brackets):

- classification: `text_column` [text], `label_column` [label], `label_names` (names of integer labels,
  or the allowed names of string labels);
- multiple_choice: `context_column` [context], `question_column` [none: ""], `options_column` [options]
  (a list column) or `option_columns` (one column per option), `label_column` [label], `label_base` [0];
- generative_qa: `question_column` [question], `answer_column` [answer], `aliases_column` [none];
- math: `question_column` [question], `options_column` [options] or `option_columns`,
  `rationale_column` [none: ""], `answer_column` [answer] (a letter A–E);
- instruction: `prompt_column` [prompt] and `response_column` [response], or `messages_column`: a list of
  `{role, content}` turns in chat format, one `user` turn then one `assistant` turn.

Every type: `format` (csv, jsonl, parquet; from the file suffix by default), `id_column` [none: row ids
are `<file stem>:<line>`].
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.data_errors import RecordError
from scalingdown.data.hub import file_records
from scalingdown.data.reading import Records
from scalingdown.data.records import (
    ANSWER_LETTERS,
    answer_letter,
    choice_index,
    field,
    nonempty,
    option_count,
    string,
    text,
    text_list,
    whole,
    with_answer,
)
from scalingdown.data.schema import COLUMNS
from scalingdown.data.sources import load_splits
from scalingdown.pipeline.names.loader_registry import DataConfigError

SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}

Parser = Callable[[dict[str, Any]], dict[str, Any]]


def file_format(path: Path, options: dict[str, Any]) -> str:
    """The `format` option, or the format its suffix implies."""
    if "format" in options:
        return str(options["format"])
    if path.suffix.lower() not in SUFFIX_FORMATS:
        raise DataConfigError(
            "data.options.format",
            f"cannot tell the format of {path} from its suffix; set format to csv, jsonl or parquet",
        )
    return SUFFIX_FORMATS[path.suffix.lower()]


def read_file(path: Path, labels_path: Path | None, options: dict[str, Any]) -> tuple[str, Records]:
    """The file's rows through `datasets.load_dataset`."""
    return file_records(path, file_format(path, options))


def label_name(value: Any, names: list[str] | None, column: str) -> str:
    """A class label: one of `names` (when given), or an index into them; without names, the value as text."""
    if isinstance(value, str) and names is not None and value.strip() in names:
        return value.strip()
    value = whole(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if names is None:
            return str(value)
        if 0 <= value < len(names):
            return names[value]
        raise RecordError(
            f"unknown label {value!r} in {column!r}; expected one of {', '.join(names)} "
            f"or an index 0 to {len(names) - 1}"
        )
    label = nonempty(value, column)
    if names is not None and label not in names:
        raise RecordError(
            f"unknown label {label!r} in {column!r}; expected one of {', '.join(names)} "
            f"or an index 0 to {len(names) - 1}"
        )
    return label


def _option_reader(options: dict[str, Any]) -> Callable[[dict[str, Any]], list[str]]:
    if "option_columns" in options:
        return lambda record: [text(record, column) for column in options["option_columns"]]
    return lambda record: text_list(record, options.get("options_column", "options"))


def _classification(options: dict[str, Any]) -> Parser:
    text_column = options.get("text_column", "text")
    label_column = options.get("label_column", "label")
    names = options.get("label_names")
    return lambda record: {
        "text": text(record, text_column),
        "label": label_name(field(record, label_column), names, label_column),
    }


def _multiple_choice(options: dict[str, Any]) -> Parser:
    read_options = _option_reader(options)
    question_column = options.get("question_column")
    label_column = options.get("label_column", "label")

    def parse(record: dict[str, Any]) -> dict[str, Any]:
        choices = option_count(read_options(record), "options")
        return {
            "context": text(record, options.get("context_column", "context")),
            "question": text(record, question_column) if question_column else "",
            "options": choices,
            "label": choice_index(
                field(record, label_column), len(choices), options.get("label_base", 0), label_column
            ),
        }

    return parse


def _generative_qa(options: dict[str, Any]) -> Parser:
    aliases_column = options.get("aliases_column")

    def parse(record: dict[str, Any]) -> dict[str, Any]:
        answer = text(record, options.get("answer_column", "answer"))
        aliases = text_list(record, aliases_column) if aliases_column else []
        return {
            "question": text(record, options.get("question_column", "question")),
            "answer": answer,
            "aliases": with_answer(answer, aliases),
        }

    return parse


def _math(options: dict[str, Any]) -> Parser:
    read_options = _option_reader(options)
    rationale_column = options.get("rationale_column")
    answer_column = options.get("answer_column", "answer")

    def parse(record: dict[str, Any]) -> dict[str, Any]:
        choices = option_count(read_options(record), "options", len(ANSWER_LETTERS))
        return {
            "question": text(record, options.get("question_column", "question")),
            "options": choices,
            "rationale": string(record, rationale_column) if rationale_column else "",
            "answer": answer_letter(field(record, answer_column), len(choices), answer_column),
        }

    return parse


def _instruction(options: dict[str, Any]) -> Parser:
    messages_column = options.get("messages_column")

    def parse(record: dict[str, Any]) -> dict[str, Any]:
        if messages_column is None:
            return {
                "prompt": text(record, options.get("prompt_column", "prompt")),
                "response": text(record, options.get("response_column", "response")),
            }
        turns = field(record, messages_column)
        roles = (
            [turn.get("role") if isinstance(turn, dict) else None for turn in turns] if isinstance(turns, list) else []
        )
        if roles != ["user", "assistant"]:
            raise RecordError(
                f"field {messages_column!r}: expected one user turn then one assistant turn "
                f"({{role, content}} objects), found roles {roles or turns!r}"
            )
        return {
            "prompt": text(turns[0], "content"),
            "response": text(turns[1], "content"),
        }

    return parse


PARSERS: dict[str, Callable[[dict[str, Any]], Parser]] = {
    "classification": _classification,
    "multiple_choice": _multiple_choice,
    "generative_qa": _generative_qa,
    "math": _math,
    "instruction": _instruction,
}


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Options: path / files / hub, `format`, `id_column` and the task type's column options."""
    parse_row = PARSERS[task_type](options)
    id_column = options.get("id_column")

    def parse(record: dict[str, Any]) -> dict[str, Any]:
        row = parse_row(record)
        if id_column:
            row["row_id"] = nonempty(str(field(record, id_column)), id_column)
        return row

    return load_splits(options, partial(read_file, options=options), parse, COLUMNS[task_type])
