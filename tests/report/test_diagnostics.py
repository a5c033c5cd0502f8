"""The report's diagnostics: a teacher below the gold-only student it should improve, and a distilled student that
loses to its gold-only twin beyond the paired test, each with its evidence and what to try and a line for the summary
(a model missing a class: tests/test_per_class.py); the training-rows table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.diagnostics import diagnostic_blocks, diagnostics, validation_text
from scalingdown.report.document import Paragraph, Table
from scalingdown.report.seed_statistics import paired_comparisons
from scalingdown.report.tables import metrics_table
from scalingdown.report.training_data import COLUMNS, training_data_blocks, training_rows
from tests.pipeline.conftest import resolved_tiny_config
from tests.pipeline.plan.test_seeds import _record


def _table(teacher: tuple[float, float], distilled: tuple[float, float]) -> pd.DataFrame:
    """Two seeds of a teacher, a gold-only student scoring 0.80 and 0.76, and a student distilled from the teacher."""
    records = []
    for index, seed in enumerate((13, 14)):
        records += [
            _record(seed, "teacher", "weak", teacher[index]),
            _record(seed, "student", "gold", (0.80, 0.76)[index]),
            _record(seed, "student", "kd", distilled[index]),
        ]
    return metrics_table("exp", records, {"t": "classification"})


def _findings(table: pd.DataFrame, histories: dict | None = None) -> list[str]:
    twins = {("t", "kd"): "gold"}
    findings = diagnostics(table, paired_comparisons(table, twins), {("t", "kd"): ["weak"]}, histories or {})
    blocks = diagnostic_blocks(findings)
    assert all(block.strong for block in blocks if isinstance(block, Paragraph))
    assert [block.text for block in blocks if isinstance(block, Paragraph)] == [f.text for f in findings]
    return [finding.text for finding in findings]


def test_a_teacher_below_the_gold_only_student_is_flagged_with_its_scores_and_curve():
    history = [{"step": 10, "eval_accuracy": 0.70}, {"step": 20, "eval_accuracy": 0.74}, {"step": 30, "eval_loss": 1}]
    (finding,) = _findings(_table((0.75, 0.73), (0.79, 0.77)), {"t: teacher weak": [history]})
    assert "Teacher `weak` of task t scores below the gold-only student `gold`" in finding
    assert "test Accuracy 0.7400 ± 0.0141 (n = 2) against 0.7800 ± 0.0283 (n = 2)" in finding
    assert "best 0.7400 at step 20 of 20" in finding and "teachers.weak.label_budget" in finding


def test_a_distilled_student_losing_beyond_the_paired_test_is_flagged_with_the_differences():
    (finding,) = _findings(_table((0.90, 0.88), (0.75, 0.70)))
    assert "Distilled student `kd` of task t is worse than its gold-only twin `gold` beyond seed noise" in finding
    assert "-0.0500 (13), -0.0600 (14), mean -0.0550, standard error 0.0050" in finding


def test_each_finding_has_one_line_for_the_summary():
    table = _table((0.75, 0.73), (0.70, 0.66))
    twins = {("t", "kd"): "gold"}
    lines = [f.line for f in diagnostics(table, paired_comparisons(table, twins), {("t", "kd"): ["weak"]}, {})]
    assert lines == [
        "Teacher `weak` scores below the gold-only student `gold` (test Accuracy 0.7400 ± 0.0141 (n = 2) against "
        "0.7800 ± 0.0283 (n = 2)).",
        "Distilled student `kd` is worse than its gold-only twin `gold` beyond seed noise: Accuracy -0.1000 "
        "(standard error 0.0000, 2 seeds).",
    ]
    assert all("\n" not in line for line in lines)


def test_a_strong_teacher_and_a_gain_raise_nothing():
    assert diagnostic_blocks([]) == []
    assert _findings(_table((0.90, 0.88), (0.84, 0.80))) == []
    # a loss within seed noise is not flagged either
    assert _findings(_table((0.90, 0.88), (0.85, 0.70))) == []


def test_the_validation_text_names_each_runs_best_step():
    runs = [[{"step": 5, "eval_f1_macro": 0.5}, {"step": 10, "eval_f1_macro": 0.4}], [{"step": 5, "loss": 1.0}]]
    assert validation_text(runs, "f1_macro") == "best 0.5000 at step 5 of 10"


def test_the_training_rows_table_shows_ranges_over_seeds_and_only_with_budgets():
    rows = pd.DataFrame(
        [
            ("t", 13, "teacher", "big", 400, 0, None),
            ("t", 14, "teacher", "big", 402, 0, None),
            ("t", 13, "student", "gold", 40, 0, None),
            ("t", 14, "student", "gold", 40, 0, None),
            ("t", 13, "student", "kd", 40, 360, None),
            ("t", 14, "student", "kd", 40, 362, None),
        ],
        columns=COLUMNS,
    )
    (table,) = [block.frame for block in training_data_blocks(rows) if isinstance(block, Table)]
    assert table.values.tolist() == [
        ["t", "teacher", "big", "400–402", "0"],
        ["t", "student", "gold", "40", "0"],
        ["t", "student", "kd", "40", "360–362"],
    ]
    same = rows.assign(labelled_rows=400, transfer_rows=0)
    assert training_data_blocks(same) == []
    sizes = pd.concat([same, same.assign(task="u", labelled_rows=[900, 910, 900, 910, 900, 910])])
    assert training_data_blocks(sizes) == [], "tasks and seeds of other sizes, every model of each with all rows"


def test_the_training_rows_table_says_how_many_validation_rows_chose_each_checkpoint(tmp_path, monkeypatch):
    """With label budgets, the validation rows a checkpoint was chosen on are labelled data too: the evaluation
    records' `checkpoint.validation_rows` become a column (exports' records are their student's)."""
    monkeypatch.chdir(tmp_path)  # the plan's paths are relative: the manifests go under tmp_path
    config = resolved_tiny_config()
    config["tasks"]["sentiment"]["data"]["label_budget"] = 0.5
    plan = Plan(config)
    task = plan.tasks["sentiment"]
    for data_dir, labelled in ((task.data_dir, 12), (task.teachers["big"].data_dir, 12)):
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        manifest = {"splits": {"train": {"rows": 24}}, "labelled_rows": labelled, "transfer_rows": 24 - labelled}
        (Path(data_dir) / "manifest.json").write_text(json.dumps(manifest))
    checkpoint = {"metric": "eval_accuracy", "step": 4, "score": 0.5, "last_step": 6, "validation_rows": 9}
    records = [
        {"task": "sentiment", "seed": 7, "kind": "teacher", "name": "big", "checkpoint": checkpoint},
        {"task": "sentiment", "seed": 7, "kind": "student", "name": "distilled", "checkpoint": checkpoint},
        {"task": "sentiment", "seed": 7, "kind": "student", "name": "untrained"},
    ]
    rows = training_rows(plan, records)
    found = rows.set_index("model")["validation_rows"]
    assert found["big"] == 9 and found["distilled"] == 9 and pd.isna(found["gold_only"])
    blocks = training_data_blocks(rows)
    (table,) = [block.frame for block in blocks if isinstance(block, Table)]
    assert table[["Model", "Validation rows (checkpoint choice)"]].values.tolist() == [
        ["big", "9"],
        ["distilled", "9"],
        ["gold_only", "–"],
    ]
    (text,) = [block.text for block in blocks if isinstance(block, Paragraph)]
    assert "Validation rows are labelled data too" in text
    # without checkpoint records (a run before checkpoint selection) there is no such column
    (table,) = [block.frame for block in training_data_blocks(training_rows(plan)) if isinstance(block, Table)]
    assert "Validation rows (checkpoint choice)" not in table.columns
