"""The causal offline benchmark's targets on hand-made per-seed metrics (no experiment is run): a paired gain beyond
twice its standard error, perplexity and KL to the teacher below the twin's, bytes per token, wall time (of three
seeds: a one-seed run leaves it and the paired gain unchecked)."""

import sys

import pandas as pd

from scalingdown.report.seed_statistics import summarise
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import causal_offline as bench
import seq2seq_offline


class _Plan:
    def twins(self) -> dict[tuple[str, str], str]:
        return {(bench.TASK, bench.DISTILLED): bench.TWIN}


def _verdicts(
    exact: list[tuple[float, float]], kl: tuple[float, float], sizes: list[float], wall: float, seeds: int = 3
) -> list:
    rows = []
    for seed, (twin, distilled) in zip((13, 14, 15)[:seeds], exact):
        for model, score, divergence in ((bench.TWIN, twin, kl[0]), (bench.DISTILLED, distilled, kl[1])):
            rows.append(
                {
                    "task": bench.TASK,
                    "seed": seed,
                    "kind": "student",
                    "role": model,
                    "model": model,
                    "primary_metric": "f1",
                    "exact_match": score,
                    "f1": score,
                    "perplexity": 3.0 + divergence,
                    "kl_to_teacher_mean": divergence,
                    "params": 5.0e7,
                    "latency_ms_per_sample": 10.0,
                }
            )
    table = pd.DataFrame(rows)
    test = seq2seq_offline.paired_tests(table, _Plan(), "exact_match").get((bench.TASK, bench.DISTILLED))
    return [met for _, met, _ in bench.targets(summarise(table), test, sizes, wall, seeds)]


def test_every_target_is_met_by_a_consistent_gain_a_closer_student_a_small_cache_and_a_short_run():
    assert _verdicts([(0.14, 0.44), (0.15, 0.46), (0.13, 0.40)], (0.9, 0.4), [98.0], 75.0) == [True] * 5


def test_targets_are_missed_by_a_noisy_gain_a_farther_student_a_large_cache_and_a_long_run():
    assert _verdicts([(0.14, 0.44), (0.15, 0.10), (0.13, 0.20)], (0.4, 0.9), [130.0], 120.0) == [False] * 5


def test_a_run_of_one_seed_leaves_the_paired_gain_and_the_run_time_of_three_seeds_unchecked():
    assert _verdicts([(0.14, 0.44)], (0.9, 0.4), [98.0], 30.0, seeds=1) == [None, True, True, True, None]
