r"""TriviaQA, in three shapes.

- the official JSON (`*.json`): `{"Data": [{"Question", "Answer": {"Value", "Aliases"}}, …]}`;
- JSON Lines (`*.jsonl`) with `question` (or an llm-foundry style `context` "Question: …\nAnswer:"),
  `answer` (a string) and optionally `aliases`;
- Hub rows (`mandarjoshi/trivia_qa`): `question`, `answer: {value, aliases}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.data_errors import DataError
from scalingdown.data.reading import Records, json_document, jsonl_records
from scalingdown.data.records import nonempty, text, text_list, with_answer
from scalingdown.data.schema import COLUMNS
from scalingdown.data.sources import load_splits


def read_file(path: Path, labels_path: Path | None) -> tuple[str, Records]:
    """JSON Lines for `.jsonl` files, the official `Data` list otherwise (numbered by record)."""
    if path.suffix == ".jsonl":
        return "line", jsonl_records(path)
    document = json_document(path)
    if not isinstance(document, dict) or not isinstance(document.get("Data"), list):
        raise DataError(
            path,
            None,
            "expected the official TriviaQA JSON, an object with a 'Data' list (JSON Lines files must end in .jsonl)",
        )
    for number, record in enumerate(document["Data"], start=1):
        if not isinstance(record, dict):
            raise DataError(path, number, f"expected a JSON object, found {type(record).__name__}", "record")
    return "record", list(enumerate(document["Data"], start=1))


def _question_from_prompt(prompt: str) -> str:
    return nonempty(prompt.removeprefix("Question:").strip().removesuffix("Answer:"), "context")


def parse(record: dict[str, Any]) -> dict[str, Any]:
    """A generative-QA row; `aliases` starts with the answer."""
    if "Question" in record or "Answer" in record:
        question, answer = text(record, "Question"), text(record, "Answer", "Value")
        aliases = text_list(record, "Answer", "Aliases")
    elif isinstance(record.get("answer"), dict):
        question, answer = text(record, "question"), text(record, "answer", "value")
        aliases = text_list(record, "answer", "aliases")
    else:
        has_prompt = "question" not in record and "context" in record
        question = _question_from_prompt(text(record, "context")) if has_prompt else text(record, "question")
        answer = text(record, "answer")
        aliases = text_list(record, "aliases") if "aliases" in record else []
    return {"question": question, "answer": answer, "aliases": with_answer(answer, aliases)}


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Options: path / files / hub."""
    return load_splits(options, read_file, parse, COLUMNS["generative_qa"])
