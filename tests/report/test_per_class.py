"""Per-class scores: scikit-learn's per-label precision, recall, F1 and support in the evaluation metrics, their
columns in metrics.csv, the report's per-class table (mean ± sd over seeds) and the diagnostic of a model that misses
a class (its recall below half of the best teacher's, or below chance), on hand-made records."""

from __future__ import annotations

import pandas as pd
import pytest

from scalingdown.evaluation.metrics import classification_scores
from scalingdown.report.diagnostics import diagnostics, missed_classes
from scalingdown.report.per_class import class_labels
from scalingdown.report.seed_statistics import paired_comparisons, summarise
from scalingdown.report.tables import metric_names, metrics_table, per_class_table
from tests.report.conftest import eval_record

LABELS = ["negative", "neutral", "positive"]


def test_per_class_scores_are_each_labels_precision_recall_f1_and_support():
    # gold: 2 negative, 3 neutral, 1 positive; negative is never predicted
    gold = [0, 0, 1, 1, 1, 2]
    predicted = [2, 1, 1, 1, 0, 2]
    scores = classification_scores(gold, predicted, LABELS)
    assert scores["per_class"] == {
        "negative": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2},
        "neutral": {
            "precision": pytest.approx(2 / 3),
            "recall": pytest.approx(2 / 3),
            "f1": pytest.approx(2 / 3),
            "support": 3,
        },
        "positive": {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1},
    }
    # the macro averages are the means of the per-class scores
    assert scores["recall_macro"] == pytest.approx((0 + 2 / 3 + 1) / 3)
    assert scores["f1_macro"] == pytest.approx(sum(c["f1"] for c in scores["per_class"].values()) / 3)


def test_a_label_without_gold_rows_has_support_zero():
    scores = classification_scores([0, 0, 1], [0, 2, 1], LABELS)
    assert scores["per_class"]["positive"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def _record(
    seed: int, kind: str, name: str, recalls: list[float], variant: str = "fp32", accuracy: float = 0.8
) -> dict:
    """An evaluation record of task `t` whose per-class recalls are `recalls` (precision and F1 follow)."""
    per_class = {
        label: {"precision": 0.9, "recall": recall, "f1": round(2 * 0.9 * recall / (0.9 + recall), 4), "support": 10}
        for label, recall in zip(LABELS, recalls)
    }
    matrix = [[10, 0, 0], [0, 10, 0], [0, 0, 10]]
    metrics = {"accuracy": accuracy, "confusion_matrix": matrix, "per_class": per_class}
    return eval_record(seed, kind, name, metrics, variant, labels=LABELS)


def _table(records: list[dict]) -> pd.DataFrame:
    return metrics_table("exp", records, {"t": "classification"})


def test_metrics_csv_has_a_column_per_label_and_score_and_the_table_no_per_class_metric():
    records = [_record(13, "teacher", "big", [0.9, 0.8, 0.7]), _record(13, "student", "kd", [0.0, 0.9, 0.95])]
    table = _table(records).set_index("model")
    assert table.loc["kd", "recall_negative"] == 0.0 and table.loc["big", "recall_positive"] == 0.7
    assert table.loc["kd", "support_neutral"] == 10 and table.loc["kd", "precision_positive"] == 0.9
    assert {f"f1_{label}" for label in LABELS} <= set(table.columns)
    assert "per_class" not in table.columns and metric_names(records) == ["accuracy"]
    assert class_labels(table) == LABELS


def test_the_per_class_table_gives_mean_and_sd_over_seeds():
    records = [
        _record(13, "teacher", "big", [0.9, 0.8, 0.7]),
        _record(14, "teacher", "big", [0.7, 0.8, 0.9]),
        _record(13, "student", "kd", [0.2, 0.9, 0.9]),
        _record(14, "student", "kd", [0.4, 0.9, 0.9]),
    ]
    frame = per_class_table(summarise(_table(records)))
    assert list(frame.columns) == ["Model", "Class", "Support", "Precision", "Recall", "F1"]
    assert frame[["Model", "Class"]].values.tolist() == [[model, label] for model in ("big", "kd") for label in LABELS]
    kd_negative = frame.iloc[3]
    assert kd_negative["Recall"] == "0.3000 ± 0.1414" and kd_negative["Support"] == "10"
    assert kd_negative["Precision"] == "0.9000 ± 0.0000"


def test_records_without_per_class_scores_give_an_empty_table():
    record = {"task": "t", "kind": "student", "name": "s", "role": "s", "metrics": {"accuracy": 0.5}, "params": 1}
    assert per_class_table(summarise(_table([record]))).empty


def _lines(records: list[dict], untrained: frozenset = frozenset()) -> list[str]:
    table = _table(records)
    return [finding.line for finding in missed_classes(table, summarise(table), untrained)]


def test_a_student_missing_a_class_on_one_seed_is_named_with_the_class_and_the_numbers():
    records = [
        _record(13, "teacher", "big", [0.90, 0.80, 0.70]),
        _record(14, "teacher", "big", [0.80, 0.80, 0.80]),
        _record(13, "student", "kd", [0.00, 0.90, 0.95]),  # seed 13: never answers negative
        _record(14, "student", "kd", [0.70, 0.85, 0.90]),
        _record(13, "student", "kd", [0.00, 0.90, 0.95], variant="onnx-int8"),  # an export is a model too
        _record(14, "student", "kd", [0.70, 0.85, 0.90], variant="onnx-int8"),
        _record(13, "student", "untrained", [0.0, 1.0, 0.0]),  # a baseline, not checked
        _record(14, "student", "untrained", [0.0, 1.0, 0.0]),
    ]
    lines = _lines(records, frozenset({("t", "untrained")}))
    assert lines == [
        "Student `kd` misses class `negative`: recall 0.000 on seed 13 (best teacher: 0.900; chance 0.333).",
        "Export `kd · ONNX int8` misses class `negative`: recall 0.000 on seed 13 (best teacher: 0.900; chance 0.333).",
    ]
    table = _table(records)
    (finding, _) = missed_classes(table, summarise(table), frozenset({("t", "untrained")}))
    assert "below half of the teacher's on seed 13 and below chance (1/3 = 0.333) on seed 13" in finding.text
    assert "confusion_matrices.png" in finding.text and finding.task == "t"
    # without the untrained set, the untrained baseline is checked like any model
    assert any(line.startswith("Student `untrained` misses class `negative`") for line in _lines(records))


def test_half_of_the_teachers_recall_is_flagged_even_above_chance_and_the_best_teacher_only_below_chance():
    records = [
        _record(13, "teacher", "big", [0.95, 0.9, 0.9], accuracy=0.9),
        _record(13, "teacher", "weak", [0.45, 0.2, 0.9], accuracy=0.6),  # half of 0.95 is 0.475; 0.2 below chance
        _record(13, "student", "kd", [0.48, 0.9, 0.9]),  # just above half of the teacher's
    ]
    assert _lines(records) == [
        "Teacher `weak` misses class `negative`: recall 0.450 on seed 13 (best teacher: 0.950).",
        "Teacher `weak` misses class `neutral`: recall 0.200 on seed 13 (best teacher: 0.900; chance 0.333).",
    ]
    alone = [_record(13, "teacher", "big", [0.30, 0.9, 0.9])]
    assert _lines(alone) == ["Teacher `big` misses class `negative`: recall 0.300 on seed 13 (chance 0.333)."]


def test_the_diagnostics_list_missed_classes_after_the_paired_findings():
    records = []
    for seed, (kd, gold) in {13: (0.60, 0.80), 14: (0.62, 0.81)}.items():
        records += [
            _record(seed, "teacher", "big", [0.9, 0.9, 0.9], accuracy=0.9),
            _record(seed, "student", "kd", [0.1, 0.9, 0.9], accuracy=kd),
            _record(seed, "student", "gold", [0.8, 0.8, 0.8], accuracy=gold),
        ]
    table = _table(records)
    twins = {("t", "kd"): "gold"}
    findings = diagnostics(table, paired_comparisons(table, twins), {("t", "kd"): ["big"]}, {})
    assert [finding.line.split(":")[0] for finding in findings] == [
        "Distilled student `kd` is worse than its gold-only twin `gold` beyond seed noise",
        "Student `kd` misses class `negative`",
    ]


def test_the_summary_line_names_only_the_flagged_seeds():
    records = [
        _record(13, "teacher", "big", [0.90, 0.9, 0.9]),
        _record(14, "teacher", "big", [0.70, 0.9, 0.9]),
        _record(15, "teacher", "big", [0.96, 0.9, 0.9]),
        _record(13, "student", "kd", [0.00, 0.9, 0.9]),
        _record(14, "student", "kd", [0.73, 0.9, 0.9]),
        _record(15, "student", "kd", [0.40, 0.9, 0.9]),
    ]
    assert _lines(records) == [
        "Student `kd` misses class `negative`: recall 0.000, 0.400 on seeds 13, 15 (best teacher: 0.900, 0.960; "
        "chance 0.333)."
    ]
