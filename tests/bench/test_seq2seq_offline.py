"""The text-to-text offline benchmark's summary of a finished run: per-task tables, the paired tests on exact match
and the targets, on hand-made per-seed metrics (no experiment is run)."""

import sys

import pandas as pd

from scalingdown.report.seed_statistics import summarise
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import seq2seq_offline as bench


def _rows(task: str, seed: int, scores: dict[str, float]) -> list[dict]:
    generative = task == bench.GENERATIVE
    return [
        {
            "task": task,
            "seed": seed,
            "kind": "teacher" if model == "minilm" else "student",
            "role": model,
            "model": model,
            "primary_metric": "f1" if generative else "accuracy",
            **({"exact_match": score, "f1": score} if generative else {"accuracy": score}),
            "params": 2.0e7,
            "latency_ms_per_sample": 10.0,
        }
        for model, score in scores.items()
    ]


class _Plan:
    """What the summary reads of a plan: the distilled students' twins."""

    def twins(self) -> dict[tuple[str, str], str]:
        return {(bench.GENERATIVE, "distilled"): "gold_only", (bench.SOCIAL_IQA, "distilled"): "gold_only"}


def _targets(qa: list[tuple[float, float, float]], social_teacher: float):
    rows = []
    for seed, (teacher, gold, distilled) in zip((13, 14, 15), qa):
        rows += _rows(bench.GENERATIVE, seed, {"minilm": teacher, "gold_only": gold, "distilled": distilled})
        rows += _rows(bench.SOCIAL_IQA, seed, {"minilm": social_teacher, "gold_only": 0.35, "distilled": 0.36})
    table = pd.DataFrame(rows)
    tests = {metric: bench.paired_tests(table, _Plan(), metric) for metric in ("exact_match", "accuracy")}
    return {target.split(" ")[1]: met for target, met, _ in bench.check_targets(summarise(table), tests)}


def test_targets_are_met_by_a_strong_teacher_and_a_consistent_paired_gain():
    met = _targets([(0.85, 0.50, 0.60), (0.82, 0.52, 0.61), (0.84, 0.49, 0.57)], social_teacher=0.40)
    assert met == {"finqa": True, "distilled": True, "social_iqa": True}


def test_targets_are_missed_by_a_weak_teacher_and_a_gain_within_seed_noise():
    met = _targets([(0.70, 0.50, 0.60), (0.72, 0.52, 0.45), (0.74, 0.49, 0.52)], social_teacher=0.37)
    assert met == {"finqa": False, "distilled": False, "social_iqa": False}
