"""The multi-teacher benchmark's thin layer over the workflow: its config, target checks and docs section on
hand-made per-seed metrics (no experiment is run)."""

import sys

import pandas as pd
import pytest

from scalingdown.report.seed_statistics import paired_comparisons
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import phrasebank_multiteacher as bench

ROLES = {"teacher_a": "teacher", "gold": "student (gold labels only)", "kd": "student (distilled from teacher_a)"}


def _seed(seed: int, accuracy: dict[str, float], latency: dict[str, float]) -> pd.DataFrame:
    rows = pd.DataFrame(
        [
            {
                "task": bench.TASK,
                "seed": seed,
                "kind": "teacher" if model.startswith("teacher") else "student",
                "role": role,
                "model": model,
                "primary_metric": "accuracy",
                "accuracy": accuracy[model],
                "f1_macro": accuracy[model],
                "latency_ms_per_sample": latency[model],
            }
            for model, role in ROLES.items()
        ]
    )
    rows["speedup"] = latency["teacher_a"] / rows["latency_ms_per_sample"]
    return rows


LATENCY = {"teacher_a": 10.0, "gold": 4.0, "kd": 4.0}
TWINS = {(bench.TASK, "kd"): "gold"}


def _results(seeds: list[pd.DataFrame]):
    table = pd.concat(seeds, ignore_index=True)
    summary = bench.summary_table(table, list(ROLES))
    paired = {row.student: row.test for row in paired_comparisons(table, TWINS).itertuples(index=False)}
    return summary, paired


def test_the_experiment_lists_the_seeds_instead_of_one():
    base = {"experiment": "pb", "seed": 13, "tasks": {}}
    config = bench.experiment_config(base, [13, 14, 15], quick=False)
    assert config["seeds"] == [13, 14, 15] and "seed" not in config and config["experiment"] == "pb-seeds"


def test_targets_met_when_the_paired_gain_exceeds_twice_its_standard_error():
    summary, paired = _results(
        [
            _seed(13, {"teacher_a": 0.86, "gold": 0.80, "kd": 0.85}, LATENCY),
            _seed(14, {"teacher_a": 0.88, "gold": 0.81, "kd": 0.86}, LATENCY),
        ]
    )
    kd = summary.set_index("model").loc["kd"]
    assert kd["accuracy"] == pytest.approx(0.855) and kd["accuracy_sd"] == pytest.approx(0.00707, abs=1e-4)
    assert [met for _, met, _ in bench.check_targets(summary, paired)] == [True, True, True]


def test_targets_missed_are_reported_as_missed():
    summary, paired = _results(
        [
            _seed(13, {"teacher_a": 0.90, "gold": 0.80, "kd": 0.81}, {**LATENCY, "kd": 8.0}),
            _seed(14, {"teacher_a": 0.90, "gold": 0.84, "kd": 0.83}, {**LATENCY, "kd": 8.0}),
        ]
    )
    targets = bench.check_targets(summary, paired)
    assert [met for _, met, _ in targets] == [False, False, False]
    settings = {"machine": {"CPU": "c"}, "config": "cfg", "quick": False, "seeds": "13, 14", "cores": 2, "wall": "1"}
    text = bench.markdown(summary, paired, targets, settings)
    assert text.count("**MISSED**") == 3 and "| kd | student (distilled from teacher_a) | 0.8200 ± 0.0141 |" in text
    assert "- kd: mean +0.0000, standard error 0.0100: within seed noise" in text


def test_one_seed_cannot_check_the_paired_target():
    summary, paired = _results([_seed(13, {"teacher_a": 0.9, "gold": 0.8, "kd": 0.88}, LATENCY)])
    assert bench.check_targets(summary, paired)[1][1] is None
