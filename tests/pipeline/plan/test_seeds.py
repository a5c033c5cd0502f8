"""Seeds as a dimension: the plan per seed (folders, keys, specs), the config checks of `seed`/`seeds` and
`baseline`, each distilled student's gold-only twin, and the report's statistics over seeds (mean ± sd and n,
the paired test) on hand examples."""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
import yaml

from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.config.json_schema import check_schema
from scalingdown.pipeline.config.twins import gold_twin
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.report.compose import report_blocks
from scalingdown.report.document import to_markdown
from scalingdown.report.reproducibility import reproducibility
from scalingdown.report.seed_statistics import PairedTest, paired_comparisons, summarise
from scalingdown.report.tables import metrics_table, quality_table, speed_table
from scalingdown.report.teachers import teacher_blocks
from tests.conftest import REPO, TINY_CONFIG
from tests.pipeline.conftest import resolved_tiny_config
from tests.report.conftest import benchmark_record

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def _seeds_config(seeds: list[int]) -> dict:
    config = resolved_tiny_config()
    del config["seed"]
    config["seeds"] = seeds
    return config


# -- the plan ------------------------------------------------------------------------------------------------------
def test_each_seed_is_a_task_folder_with_its_own_keys_and_one_seed_keeps_todays_paths():
    single = Plan(resolved_tiny_config())
    assert list(single.tasks) == ["sentiment"] and single.seeds == (7,)
    assert single.student("sentiment", "distilled").model_dir == "results/tiny/sentiment/students/distilled/model"

    plan = Plan(_seeds_config([7, 8]))
    assert list(plan.tasks) == ["sentiment/seed-7", "sentiment/seed-8"] and plan.seeds == (7, 8)
    seven, eight = plan.tasks["sentiment/seed-7"], plan.tasks["sentiment/seed-8"]
    assert (seven.name, seven.seed, eight.seed) == ("sentiment", 7, 8)
    assert plan.student("sentiment/seed-8", "distilled").model_dir == (
        "results/tiny/sentiment/seed-8/students/distilled/model"
    )
    assert "results/tiny/sentiment/seed-8/eval/teacher.big.json" in plan.eval_files()
    # seed 7's shared artefacts are those of the one-seed experiment with seed 7; seed 8's are its own
    alone = single.tasks["sentiment"]
    assert seven.data_key == alone.data_key and eight.data_key != alone.data_key
    assert seven.teachers["big"].logits == alone.teachers["big"].logits
    assert eight.teachers["big"].key != seven.teachers["big"].key
    assert seven.students["distilled"].init_dir == alone.students["distilled"].init_dir


def test_every_seeded_spec_carries_its_seed():
    plan = Plan(_seeds_config([7, 8]))
    specs = StageSpecs(plan)
    for folder, seed in (("sentiment/seed-7", 7), ("sentiment/seed-8", 8)):
        task = plan.tasks[folder]
        assert specs.prepare(task.data_key).seed == seed
        assert specs.finetune(task.teachers["big"].key).seed == seed
        assert specs.init(task.students["distilled"].init_key).seed == seed
        assert specs.distill(folder, "distilled").training.seed == seed
        assert specs.evaluate(folder, "student", "distilled").task == "sentiment"
    # the one-seed specs are the `seeds: [7]` ones: only the experiment's own paths move
    single, listed = StageSpecs(Plan(resolved_tiny_config())), StageSpecs(Plan(_seeds_config([7])))
    assert single.distill("sentiment", "distilled") == listed.distill("sentiment/seed-7", "distilled")


def test_the_report_knows_the_seed_of_every_file_it_reads():
    plan = Plan(_seeds_config([7, 8]))
    inputs = plan.report_inputs()
    teacher = plan.tasks["sentiment/seed-8"].teachers["big"]
    assert inputs[teacher.history].task.seed == 8 and inputs[teacher.history].name == "big"
    assert all(path in inputs for path in plan.eval_files() + plan.histories())
    assert plan.twins() == {("sentiment", "distilled"): "gold_only"}


# -- config checks -------------------------------------------------------------------------------------------------
def _raw() -> dict:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    apply_member_defaults(config)
    return config


@pytest.mark.parametrize(
    ("seeds", "problem"),
    [([], "should be non-empty"), ([7, 7], "has non-unique elements"), ([-1], "less than the minimum of 0")],
    ids=["empty", "repeated", "negative"],
)
def test_a_bad_seeds_list_is_refused_naming_the_key(seeds, problem):
    config = _raw()
    del config["seed"]
    config["seeds"] = seeds
    with pytest.raises(ConfigError, match=problem) as error:
        check_schema(config, SCHEMA)
    assert error.value.key.startswith("seeds")


def _check(config: dict) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        check_config(config, REPO)
    return error.value


def test_seed_and_seeds_together_are_refused():
    config = resolved_tiny_config()
    config["seeds"] = [7, 8]
    error = _check(config)
    assert error.key == "seeds" and "not both" in error.problem


def test_a_fixed_training_seed_under_several_seeds_is_refused():
    config = _seeds_config([7, 8])
    config["tasks"]["sentiment"]["students"]["distilled"]["training"]["seed"] = 3
    assert _check(config).key == "tasks.sentiment.students.distilled.training.seed"
    config = _seeds_config([7, 8])
    config["tasks"]["sentiment"]["teachers"]["big"]["finetune"]["seed"] = 3
    assert _check(config).key == "tasks.sentiment.teachers.big.finetune.seed"
    config = _seeds_config([7])  # one seed: a fixed training seed is the user's choice
    config["tasks"]["sentiment"]["students"]["distilled"]["training"]["seed"] = 3
    check_config(config, REPO)


@pytest.mark.parametrize(
    ("student", "baseline", "problem"),
    [
        ("distilled", "ghost", "'ghost' is not a student of this task"),
        ("distilled", "untrained", "'untrained' is not trained on the gold labels alone"),
        ("gold_only", "gold_only", "only a trained student with teachers"),
    ],
    ids=["unknown", "not-gold-only", "on-a-gold-only-student"],
)
def test_a_bad_baseline_is_refused_naming_the_key(student, baseline, problem):
    config = resolved_tiny_config()
    config["tasks"]["sentiment"]["students"][student]["baseline"] = baseline
    error = _check(config)
    assert error.key == f"tasks.sentiment.students.{student}.baseline" and problem in error.problem


# -- twins ---------------------------------------------------------------------------------------------------------
def test_the_twin_is_the_baseline_else_the_first_gold_only_student_by_name_with_the_same_start():
    students = copy.deepcopy(resolved_tiny_config()["tasks"]["sentiment"]["students"])
    assert gold_twin(students, "distilled") == "gold_only"
    assert gold_twin(students, "gold_only") is None and gold_twin(students, "untrained") is None
    students["gold_z"] = copy.deepcopy(students["gold_only"])
    students["elsewhere"] = {**copy.deepcopy(students["gold_only"]), "init": {"method": "pretrained"}}
    assert gold_twin(students, "distilled") == "gold_only"  # before gold_z; `elsewhere` starts from other weights
    students["distilled"]["baseline"] = "gold_z"
    assert gold_twin(students, "distilled") == "gold_z"
    del students["distilled"]["baseline"], students["gold_only"], students["gold_z"]
    assert gold_twin(students, "distilled") is None


# -- statistics over seeds -----------------------------------------------------------------------------------------
def test_the_paired_test_on_hand_examples():
    gain = PairedTest((0.02, 0.04, 0.03))  # mean 0.03, sd 0.01, se 0.01/√3 = 0.00577 < 0.015
    assert gain.mean == pytest.approx(0.03) and gain.standard_error == pytest.approx(0.01 / math.sqrt(3))
    assert gain.beyond_noise is True and gain.verdict == "gain beyond seed noise"
    noise = PairedTest((0.05, -0.03, 0.01))  # mean 0.01, sd 0.04, se 0.0231: 0.01 < 0.0462
    assert noise.standard_error == pytest.approx(0.04 / math.sqrt(3))
    assert noise.beyond_noise is False and noise.verdict == "within seed noise"
    loss = PairedTest((-0.05, -0.06))  # mean -0.055, sd 0.00707, se 0.005: |-0.055| > 0.01
    assert loss.standard_error == pytest.approx(0.005) and loss.verdict == "loss beyond seed noise"
    one = PairedTest((0.1,))
    assert one.beyond_noise is None and math.isnan(one.standard_error) and one.verdict.startswith("one seed")


def _record(seed: int, kind: str, name: str, accuracy: float) -> dict:
    return {
        "task": "t",
        "seed": seed,
        "kind": kind,
        "name": name,
        "role": kind,
        "metrics": {"accuracy": accuracy, "f1_macro": accuracy / 2},
        "params": 100,
    }


# Per seed: (kind, name, accuracy, latency in ms).
_MODELS = {
    13: [("teacher", "big", 0.90, 10.0), ("student", "kd", 0.82, 4.0), ("student", "gold", 0.80, 5.0)],
    14: [("teacher", "big", 0.80, 12.0), ("student", "kd", 0.78, 6.0), ("student", "gold", 0.74, 5.0)],
}


def _seeded_records() -> list[dict]:
    """Two seeds: a teacher, a distilled student ahead of its gold-only twin by 0.02 and 0.04."""
    return [
        _record(seed, kind, name, accuracy) for seed, models in _MODELS.items() for kind, name, accuracy, _ in models
    ]


def _benchmarks(noisy_seeds: tuple[int, ...] = ()) -> list[dict]:
    """Each seed's benchmark record: the latencies of `_MODELS` (CPU time twice the wall time), speed-ups against
    that seed's teacher."""
    noise = ["1-minute load average 3.50 before timing, above 2 thread(s)"]
    return [
        benchmark_record(
            seed,
            {f"{kind}.{name}": latency for kind, name, _, latency in models},
            "teacher.big",
            noise if seed in noisy_seeds else (),
            cpu_factor=2.0,
            threads=2,
        )
        for seed, models in _MODELS.items()
    ]


def test_the_summary_gives_mean_sd_and_n_per_model_with_per_seed_retention():
    table = metrics_table("exp", _seeded_records(), {"t": "classification"}, _benchmarks())
    assert list(table["seed"]) == [13, 13, 13, 14, 14, 14]
    summary = summarise(table).set_index("model")
    assert list(summary.index) == ["big", "kd", "gold"] and (summary["n"] == 2).all()
    assert summary.loc["kd", "accuracy"] == pytest.approx(0.80)
    assert summary.loc["kd", "accuracy_sd"] == pytest.approx(math.sqrt(2) * 0.02)
    # retention is taken per seed (against that seed's teacher), then averaged: (0.82/0.90 + 0.78/0.80) / 2
    assert summary.loc["kd", "retention_pct"] == pytest.approx(50 * (0.82 / 0.90 + 0.78 / 0.80))
    assert summary.loc["kd", "speedup"] == pytest.approx((10 / 4 + 12 / 6) / 2)
    assert summary.loc["kd", "threads"] == 2 and "seed" not in summary
    shown = quality_table(summary.reset_index(), ["accuracy", "f1_macro"]).set_index("Model")
    assert shown.loc["kd", "Seeds"] == "2" and shown.loc["kd", "Accuracy"] == "0.8000 ± 0.0283"
    speed = speed_table(summary.reset_index()).set_index("Model")
    assert speed.loc["kd", "Latency (ms)"] == "5.00 ± 1.41"
    assert speed.loc["kd", "Speed-up (×)"] == "2.25 ± 0.35"  # the seeds' medians 2.5 and 2.0
    assert speed.loc["kd", "Parameters"] == "100"  # the same on every seed: no spread shown


def test_one_noisy_seed_puts_every_seed_of_the_task_on_cpu_time_and_warns():
    table = metrics_table("exp", _seeded_records(), {"t": "classification"}, _benchmarks(noisy_seeds=(14,)))
    assert set(table["latency_clock"]) == {"cpu"}
    assert table.loc[table["model"] == "kd", "latency_ms_per_sample"].tolist() == [8.0, 12.0]
    repro = reproducibility({"experiment": "exp"}, _benchmarks(), [], None)
    blocks = report_blocks("exp", table, ["accuracy"], repro, benchmarks=_benchmarks(noisy_seeds=(14,)))
    markdown = to_markdown(blocks)
    assert "> **Warning:** the timing was noisy, so this task's latencies and speed-ups are on CPU time" in markdown
    assert "1. Noisy timing: seed 14: 1-minute load average 3.50" in markdown.split("## Notes")[1]
    assert "Headline clock: process CPU time" in markdown and "job of each of the 2 seeds" in markdown


def test_the_paired_comparison_pairs_each_seed_with_the_twin_of_the_same_seed():
    table = metrics_table("exp", _seeded_records(), {"t": "classification"})
    comparisons = paired_comparisons(table, {("t", "kd"): "gold"})
    row = comparisons.iloc[0]
    assert (row["student"], row["baseline"], row["metric"], row["seeds"]) == ("kd", "gold", "accuracy", [13, 14])
    assert row["test"].differences == pytest.approx((0.02, 0.04))
    assert row["test"].verdict == "gain beyond seed noise"  # mean 0.03 > 2 × 0.01
    repro = reproducibility({"experiment": "exp"}, [], [], None)
    markdown = to_markdown(report_blocks("exp", table, ["accuracy"], repro, twins={("t", "kd"): "gold"}))
    assert "mean ± sd over the seeds 13, 14" in markdown
    assert "| kd | gold | +0.0200 (13), +0.0400 (14) | +0.0300 | 0.0100 | gain beyond seed noise |" in markdown


def test_one_seed_reports_plain_values_and_no_test():
    records = [record for record in _seeded_records() if record["seed"] == 13]
    table = metrics_table("exp", records, {"t": "classification"}, _benchmarks()[:1])
    shown = quality_table(summarise(table), ["accuracy"])
    assert "Seeds" not in shown and list(shown["Accuracy"]) == ["0.9000", "0.8200", "0.8000"]
    assert list(speed_table(summarise(table))["Speed-up (×) [95 % CI]"]) == [
        "1.00 [1.00–1.00]",
        "2.50 [2.50–2.50]",
        "2.00 [2.00–2.00]",
    ]
    markdown = to_markdown(
        report_blocks("exp", table, ["accuracy"], reproducibility({"experiment": "exp"}, [], [], None), twins={})
    )
    assert "One seed (13): no spread is measured" in markdown and "Distilled against gold-only" not in markdown


def test_the_teachers_section_folds_the_seeds():
    def ensemble(seed: int, accuracy: float) -> dict:
        scores = {"accuracy": accuracy, "f1_macro": accuracy, "validation_accuracy": accuracy}
        return {
            "task": "t",
            "seed": seed,
            "test_rows": 100,
            "teachers": {"a": scores, "b": scores},
            "ensembles": {"uniform": scores},
            "agreement": {"all": 0.9, "pairwise": {"a–b": 0.9}},
            "any_teacher_correct": 0.95,
        }

    blocks = teacher_blocks([ensemble(13, 0.80), ensemble(14, 0.84)])
    assert len(blocks) == 3
    frame = blocks[1].frame
    assert frame.loc[0, "Accuracy"] == "0.8200 ± 0.0283"
    assert "(mean ± sd over 2 seeds)" in blocks[2].text


def test_summarise_keeps_a_models_text_columns():
    frame = pd.DataFrame(
        {"task": ["t", "t"], "seed": [1, 2], "kind": ["student"] * 2, "model": ["m"] * 2, "role": ["r", "r"]}
    )
    frame["primary_metric"], frame["accuracy"], frame["latency_ms_per_sample"] = "accuracy", [0.5, 0.7], 1.0
    summary = summarise(frame)
    assert summary.loc[0, "role"] == "r" and summary.loc[0, "accuracy"] == pytest.approx(0.6)
