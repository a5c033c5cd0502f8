"""The workflow over two seeds, started from the tiny run's caches: what runs, what a change reruns, and the
report's statistics over seeds."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import TINY_CONFIG, snakemake, with_tiny_caches
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow

EXPERIMENT = "tiny-seeds"


def _config(seeds: list[int]) -> dict:
    """The tiny experiment over `seeds`, without its untrained student (nothing it shows needs one)."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    del config["seed"]
    config.update(experiment=EXPERIMENT, seeds=seeds)
    del config["tasks"]["sentiment"]["students"]["untrained"]
    return config


def _write(workdir: Path, name: str, config: dict) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def seeds_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A working directory holding the tiny run's caches (seed 7) in which seeds 7 and 8 ran; and the jobs that
    run ran."""
    workdir = with_tiny_caches(tiny_run, tmp_path_factory.mktemp("seeds-run"))
    config = _write(workdir, "seeds", _config([7, 8]))
    result = snakemake(workdir, "--configfile", str(config), "--cores", "2")
    return workdir, job_counts(result.stdout + result.stderr)


def test_a_listed_seed_reuses_the_shared_artefacts_of_the_same_seed(seeds_run):
    workdir, jobs = seeds_run
    # seed 7's data, teacher, logits and init come from the tiny run; its students move to their seed folder
    assert jobs == {
        "prepare": 1,
        "finetune_teacher": 1,
        "teacher_logits": 1,
        "init_student": 1,
        "check_distill_inputs": 4,
        "distill": 4,
        "evaluate": 6,
        "export": 6,
        "evaluate_export": 6,
        "benchmark": 2,
        "report": 1,
        "all": 1,
    }
    root = workdir / "results" / EXPERIMENT / "sentiment"
    assert {p.name for p in root.iterdir()} == {"seed-7", "seed-8"}
    assert (root / "seed-8" / "students" / "distilled" / "model" / "config.json").is_file()


def test_the_report_gives_mean_sd_n_and_the_paired_test(seeds_run):
    workdir, _ = seeds_run
    report = workdir / "results" / EXPERIMENT / "report"
    metrics = pd.read_csv(report / "metrics.csv")
    # three models and the distilled student's three exports, each over both seeds
    assert sorted(metrics.groupby(["model", "variant"])["seed"].apply(sorted).tolist()) == [[7, 8]] * 6
    markdown = (report / "report.md").read_text()
    assert "Every number is the mean ± sd over the seeds 7, 8" in markdown
    assert "| Role | Model | Seeds | Accuracy |" in markdown and " ± " in markdown
    # the speed table: each seed's benchmark folded into mean ± sd, the exports on rows of their own
    assert re.search(r"^\| distilled · ONNX int8 \| [\d.]+ ± [\d.]+ \|", markdown, re.M), markdown
    assert "Timed by the `benchmark` job of each of the 2 seeds" in markdown
    paired = re.search(r"^\| distilled \| gold_only \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", markdown, re.M)
    assert paired, markdown
    scores = metrics[metrics["variant"] == "fp32"].set_index(["model", "seed"])["accuracy"]
    differences = [scores["distilled", seed] - scores["gold_only", seed] for seed in (7, 8)]
    assert paired[1].strip() == f"{differences[0]:+.4f} (7), {differences[1]:+.4f} (8)"
    assert paired[2].strip() == f"{sum(differences) / 2:+.4f}"
    html = (report / "report.html").read_text()
    assert "Distilled against gold-only: sentiment" in html


def test_adding_a_seed_schedules_only_that_seeds_jobs(seeds_run):
    workdir, _ = seeds_run
    config = _write(workdir, "three-seeds", _config([7, 8, 9]))
    result = snakemake(workdir, "--configfile", str(config), "-n")
    jobs = job_counts(result.stdout)
    assert jobs == {
        "prepare": 1,
        "finetune_teacher": 1,
        "teacher_logits": 1,
        "init_student": 1,
        "check_distill_inputs": 2,
        "distill": 2,
        "evaluate": 3,
        "export": 3,
        "evaluate_export": 3,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }, result.stdout
    outputs = re.findall(r"^\s+output: (.+)$", result.stdout, re.M)
    assert not [line for line in outputs if "seed-7" in line or "seed-8" in line]


def test_a_student_change_over_seeds_schedules_no_teacher_job(seeds_run):
    workdir, _ = seeds_run
    changed = _config([7, 8])
    changed["tasks"]["sentiment"]["students"]["distilled"]["loss"] = {"ce": 0.2, "kd": 0.8, "temperature": 3.0}
    result = snakemake(workdir, "--configfile", str(_write(workdir, "changed", changed)), "-n")
    expected = {
        "check_distill_inputs": 2,
        "distill": 2,
        "evaluate": 2,
        "export": 6,
        "evaluate_export": 6,
        "benchmark": 2,
        "report": 1,
        "all": 1,
    }
    assert job_counts(result.stdout) == expected, result.stdout


def test_a_finished_seeds_run_has_nothing_left_to_do(seeds_run):
    workdir, _ = seeds_run
    result = snakemake(workdir, "--configfile", str(workdir / "seeds.yaml"), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
