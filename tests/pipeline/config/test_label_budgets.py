"""A bad label budget or transfer source is refused before any job, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.conftest import config_error, set_task_key, tiny_written

TASK = "tasks.sentiment"


def _transfer(tmp_path: Path, header: str = "sentence") -> dict:
    path = tmp_path / "unlabelled.csv"
    path.write_text(f"{header}\nShares rose.\n", encoding="utf-8")
    return {"loader": "generic", "options": {"path": str(path)}}


def _no_finetune(config: dict) -> None:
    config["tasks"]["sentiment"]["teachers"]["big"].update(finetune=False, label_budget=1.0)


CASES = {
    "budget-zero": (lambda tmp: set_task_key("data", "label_budget", 0), f"{TASK}.data.label_budget", "minimum of 0"),
    "budget-negative": (
        lambda tmp: set_task_key("data", "label_budget", -0.1),
        f"{TASK}.data.label_budget",
        "minimum of 0",
    ),
    "budget-count-above-the-training-rows": (
        lambda tmp: set_task_key("data", "label_budget", 100),
        f"{TASK}.data.label_budget",
        "100 labelled rows is more than the 36 training rows",
    ),
    "budget-count-not-whole": (
        lambda tmp: set_task_key("data", "label_budget", 2.5),
        f"{TASK}.data.label_budget",
        "counts rows, and is not a whole number",
    ),
    "budget-count-below-the-labels": (
        lambda tmp: set_task_key("data", "label_budget", 2),
        f"{TASK}.data.label_budget",
        "cannot cover the 3 labels",
    ),
    "teacher-budget-above-the-training-rows": (
        lambda tmp: set_task_key("teachers", "big", "label_budget", 37),
        f"{TASK}.teachers.big.label_budget",
        "more than the 36 training rows",
    ),
    "teacher-budget-without-finetuning": (
        lambda tmp: _no_finetune,
        f"{TASK}.teachers.big.label_budget",
        "finetune: false is not trained here",
    ),
    "transfer-file-without-the-text-column": (
        lambda tmp: set_task_key("data", "transfer", _transfer(tmp)),
        f"{TASK}.data.transfer.options.path",
        "has no column 'text' (its columns: sentence)",
    ),
    "transfer-file-missing": (
        lambda tmp: set_task_key("data", "transfer", {"loader": "generic", "options": {"path": str(tmp / "none.csv")}}),
        f"{TASK}.data.transfer.options.path",
        "does not exist",
    ),
    "transfer-unknown-loader": (
        lambda tmp: set_task_key("data", "transfer", {"loader": "nonesuch"}),
        f"{TASK}.data.transfer.loader",
        "nonesuch",
    ),
}


@pytest.mark.parametrize(("mutation", "key", "problem"), list(CASES.values()), ids=list(CASES))
def test_a_bad_budget_or_transfer_source_is_refused_before_any_job_naming_the_key(tmp_path, mutation, key, problem):
    error = config_error(tiny_written(mutation(tmp_path)), tmp_path)
    assert (error.key, problem in error.problem) == (key, True), error.problem


def test_a_transfer_file_with_the_text_column_is_accepted(tmp_path):
    with pytest.raises(AssertionError, match="accepted"):
        config_error(tiny_written(set_task_key("data", "transfer", _transfer(tmp_path, "text"))), tmp_path)
