"""The pick under a `ship` budget: the most accurate student or export that fits, over the seeds; why nothing fits;
which seed's weights ship."""

from __future__ import annotations

from scalingdown.pipeline.config.shipping import ShipBudget
from scalingdown.report.seed_statistics import summarise
from scalingdown.report.ship_pick import as_record, pick, pick_line
from scalingdown.report.tables import metrics_table
from tests.report.conftest import benchmark_record, eval_record

# Per seed: (accuracy, validation score) of each model; latencies (ms) and sizes (MiB) are the same for every seed.
SCORES = {
    13: {"teacher": 0.90, "kd": (0.86, 0.80), "kd-small": (0.84, 0.70), "gold": (0.70, 0.60), "raw": (0.30, None)},
    14: {"teacher": 0.92, "kd": (0.88, 0.75), "kd-small": (0.82, 0.72), "gold": (0.72, 0.62), "raw": (0.32, None)},
}
LATENCY = {
    "teacher.big": 10.0,
    "student.kd": 4.0,
    "export.kd.onnx-int8": 1.5,
    "student.kd-small": 1.0,
    "student.gold": 4.0,
    "student.raw": 4.0,
}
SIZE = {
    ("kd", "fp32"): 40.0,
    ("kd", "onnx-int8"): 11.0,
    ("kd-small", "fp32"): 20.0,
    ("gold", "fp32"): 40.0,
    ("raw", "fp32"): 40.0,
}


def _table():
    records, timings = [], []
    for seed, scores in SCORES.items():
        records.append(eval_record(seed, "teacher", "big", {"accuracy": scores["teacher"]}, size_mb=90.0))
        for name in ("kd", "kd-small", "gold", "raw"):
            accuracy, validation = scores[name]
            checkpoint = (
                {}
                if validation is None
                else {"checkpoint": {"step": 10, "last_step": 20, "score": validation, "metric": "eval_accuracy"}}
            )
            records.append(
                eval_record(seed, "student", name, {"accuracy": accuracy}, size_mb=SIZE[(name, "fp32")], **checkpoint)
            )
        records.append(
            eval_record(seed, "student", "kd", {"accuracy": scores["kd"][0] - 0.01}, variant="onnx-int8", size_mb=11.0)
        )
        timings.append(benchmark_record(seed, LATENCY, "teacher.big"))
    table = metrics_table("e", records, {"t": "classification"}, timings)
    return table, summarise(table)


def _pick(budget: ShipBudget):
    table, summary = _table()
    return pick(summary, table, budget, {"kd": "gold", "kd-small": "gold"}, {"raw"})


def test_without_a_binding_budget_the_most_accurate_student_ships_from_its_best_validation_seed():
    chosen = _pick(ShipBudget(100.0, None))
    assert (chosen.row["model"], chosen.row["variant"]) == ("kd", "fp32")
    assert chosen.seed == 13  # validation 0.80 against 0.75: the test scores (0.86, 0.88) do not choose
    assert chosen.twin == "gold" and round(chosen.twin_difference, 4) == 0.16
    assert chosen.teacher["model"] == "big"


def test_a_latency_budget_picks_the_most_accurate_model_that_fits():
    chosen = _pick(ShipBudget(2.0, None))
    assert (chosen.row["model"], chosen.row["variant"]) == ("kd", "onnx-int8")
    line = pick_line(chosen, "results/e/t/shipped")
    assert line.startswith(
        "Shipped under the budget (latency ≤ 2 ms): `kd · ONNX int8` (seed 13) to `results/e/t/shipped`"
    )
    assert "points against the teacher `big`" in line and "against its gold-only twin `gold`" in line
    record = as_record(chosen)
    assert record["shipped"]["variant"] == "onnx-int8" and record["shipped"]["latency_ms"] == 1.5
    assert record["budget"] == {"max_latency_ms": 2.0, "max_size_mb": None}


def test_a_size_budget_and_a_latency_budget_both_bind():
    assert _pick(ShipBudget(None, 25.0)).row["variant"] == "onnx-int8"
    chosen = _pick(ShipBudget(1.2, 25.0))
    assert (chosen.row["model"], chosen.row["variant"]) == ("kd-small", "fp32")
    assert chosen.seed == 14  # kd-small's best validation score is seed 14's


def test_no_model_within_the_budget_is_a_line_not_an_error():
    chosen = _pick(ShipBudget(0.5, 5.0))
    assert chosen.row is None and chosen.seed is None
    line = pick_line(chosen, "results/e/t/shipped")
    assert "no model fits, so nothing was shipped" in line
    assert "the fastest, `kd-small`, takes 1.00 ms" in line and "the smallest, `kd · ONNX int8`, is 11.0 MiB" in line
    assert as_record(chosen)["shipped"] is None


def test_an_untrained_student_is_never_picked():
    table, summary = _table()
    only_raw = summary[summary["model"].isin(["big", "raw"])]
    assert pick(only_raw, table, ShipBudget(100.0, None), {}, {"raw"}).row is None


def test_a_model_that_never_predicts_right_a_class_the_teacher_does_is_not_shipped_and_the_line_says_so():
    """The most accurate model within the budget recalls no `negative` text on any seed: the next one ships; unless
    the teacher recalls none either (then the class, not the student, is the problem the report's diagnostics flag)."""
    table, summary = _table()
    for frame in (table, summary):
        for label, recall in (("negative", 0.0), ("neutral", 0.9)):
            frame[f"recall_{label}"] = 0.8
            frame[f"support_{label}"] = 10.0
            frame.loc[(frame["model"] == "kd") & (frame["variant"] == "fp32"), f"recall_{label}"] = recall
    chosen = pick(summary, table, ShipBudget(100.0, None), {"kd": "gold", "kd-small": "gold"}, {"raw"})
    assert (chosen.row["model"], chosen.row["variant"]) == ("kd", "onnx-int8")
    assert chosen.never_recalled == (("kd", "negative"),)
    assert pick_line(chosen, "shipped").endswith(
        "never predict right a class of the test split that the teacher does: `kd` (negative)."
    )
    assert as_record(chosen)["never_recalled"] == [{"model": "kd", "class": "negative"}]
    summary.loc[summary["kind"] == "teacher", "recall_negative"] = 0.0
    chosen = pick(summary, table, ShipBudget(100.0, None), {"kd": "gold", "kd-small": "gold"}, {"raw"})
    assert (chosen.row["model"], chosen.row["variant"]) == ("kd", "fp32") and chosen.never_recalled == ()
