"""The divergence ablation's generated configs and its table (no experiment is run)."""

import sys

import pandas as pd
import yaml

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import divergence_ablation as bench


def test_each_distilled_student_gets_one_copy_per_other_divergence_and_the_config_is_valid(tmp_path):
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config = bench.ablation_config(base, 14, quick=False)
    assert config["seed"] == 14 and config["experiment"] == "default-divergences-s14"
    students = config["tasks"]["fin_sentiment"]["students"]
    assert list(students) == [
        "untrained",
        "gold_only",
        "distilled",
        "distilled-reverse_kl",
        "distilled-jsd",
        "distilled-skew_kl",
        "distilled-skew_reverse_kl",
    ]
    assert students["distilled-jsd"]["loss"] == {"divergence": "jsd", "beta": 0.5}
    assert students["distilled-skew_kl"]["loss"] == {"divergence": "skew_kl", "alpha": 0.1}
    assert "loss" not in students["distilled"], "the original student stays the forward-KL one, unchanged"
    resolved = bench.harness.resolved_config(config, REPO)
    assert resolved["tasks"]["fin_sentiment"]["students"]["distilled-jsd"]["loss"]["temperature"] == 2.0
    assert base["tasks"]["fin_sentiment"]["students"].keys() == {"untrained", "gold_only", "distilled"}


def test_the_table_pairs_each_copy_with_the_forward_kl_student_of_the_same_seed():
    rows = []
    for seed, (forward, reverse) in {13: (0.80, 0.82), 14: (0.90, 0.91)}.items():
        for model, kind, origin, divergence, score in [
            ("teacher", "teacher", "teacher", "", 0.95),
            ("distilled", "student", "distilled", "forward_kl", forward),
            ("distilled-reverse_kl", "student", "distilled", "reverse_kl", reverse),
        ]:
            rows.append(
                {
                    "seed": seed,
                    "task": "t",
                    "model": model,
                    "kind": kind,
                    "origin": origin,
                    "divergence": divergence,
                    "metric": "accuracy",
                    "score": score,
                    "f1_macro": score - 0.1,
                }
            )
    text = bench.summary(pd.DataFrame(rows))
    assert "| distilled-reverse_kl | reverse_kl | 0.8650 ± 0.0636 | 0.7650 ± 0.0636 | 0.0150 ± 0.0071 | 2 |" in text
    assert "| teacher | teacher | 0.9500 ± 0.0000 | 0.8500 ± 0.0000 | – | 2 |" in text
    assert bench.divergence_of("distilled-jsd", {"distilled"}) == ("distilled", "jsd, β = 0.5")
    assert bench.divergence_of("gold_only", {"distilled"}) == ("gold_only", "")
