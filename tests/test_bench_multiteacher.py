"""The multi-teacher benchmark's aggregation, target checks and docs section (no experiment is run)."""

import sys

import pandas as pd
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import phrasebank_multiteacher as bench


def _seed(accuracy: dict[str, float], latency: dict[str, float]) -> pd.DataFrame:
    roles = {"teacher_a": "teacher", "gold": "student (gold labels only)", "kd": "student (distilled from teacher_a)"}
    rows = pd.DataFrame(
        [
            {
                "kind": "teacher" if model.startswith("teacher") else "student",
                "role": roles[model],
                "model": model,
                "accuracy": accuracy[model],
                "f1_macro": accuracy[model],
                "latency_ms_per_sample": latency[model],
            }
            for model in roles
        ]
    )
    rows["speedup"] = latency["teacher_a"] / rows["latency_ms_per_sample"]
    return rows


LATENCY = {"teacher_a": 10.0, "gold": 4.0, "kd": 4.0}


def test_targets_met_when_the_gap_exceeds_the_spread():
    seeds = [
        _seed({"teacher_a": 0.86, "gold": 0.80, "kd": 0.85}, LATENCY),
        _seed({"teacher_a": 0.88, "gold": 0.81, "kd": 0.86}, LATENCY),
    ]
    table = bench.aggregate(seeds, ["teacher_a", "gold", "kd"])
    assert table.loc[table["model"] == "kd", "accuracy"].item() == pytest.approx(0.855)
    assert table.loc[table["model"] == "kd", "accuracy_sd"].item() == pytest.approx(0.00707, abs=1e-4)
    verdicts = [met for _, met, _ in bench.check_targets(table)]
    assert verdicts == [True, True, True]


def test_targets_missed_are_reported_as_missed():
    seeds = [
        _seed({"teacher_a": 0.90, "gold": 0.80, "kd": 0.81}, {**LATENCY, "kd": 8.0}),
        _seed({"teacher_a": 0.90, "gold": 0.84, "kd": 0.83}, {**LATENCY, "kd": 8.0}),
    ]
    table = bench.aggregate(seeds, ["teacher_a", "gold", "kd"])
    targets = bench.check_targets(table)
    assert [met for _, met, _ in targets] == [False, False, False]
    text = bench.markdown(
        table,
        targets,
        {
            "date": "d",
            "machine": "m",
            "cores": 2,
            "threads": 2,
            "torch": "t",
            "transformers": "x",
            "commit": "c",
            "config": "cfg",
            "quick": False,
            "seeds": "1, 2",
            "wall": "1 min",
            "command": "cmd",
        },
    )
    assert text.count("**MISSED**") == 3 and "| kd | student (distilled from teacher_a) | 0.8200 ± 0.0141 |" in text


def test_one_seed_cannot_check_the_spread_target():
    table = bench.aggregate([_seed({"teacher_a": 0.9, "gold": 0.8, "kd": 0.88}, LATENCY)], ["teacher_a", "gold", "kd"])
    assert bench.check_targets(table)[1][1] is None
