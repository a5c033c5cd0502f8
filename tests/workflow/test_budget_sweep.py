"""The workflow with a label-budget sweep (half the labels and every label, a teacher with every label), started from
the tiny run's caches: the teacher is reused by both budgets, each budget has its own tables and paired test, the
report draws the budget curve, and adding a budget schedules only that budget's jobs."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import TINY_CONFIG, snakemake, with_tiny_caches
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow

EXPERIMENT = "tiny-sweep"


def _config(budgets: list[float]) -> dict:
    """The tiny experiment swept over `budgets`, its teacher with every label."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["experiment"] = EXPERIMENT
    task = config["tasks"]["sentiment"]
    del task["students"]["untrained"]
    del task["students"]["distilled"]["export"]  # nothing here needs the shipping variants
    task["data"]["label_budget"] = budgets
    task["teachers"]["big"]["label_budget"] = 1.0
    return config


@pytest.fixture(scope="module")
def sweep_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, int]]:
    """A working directory holding the tiny run's caches in which the sweep ran; its config; its jobs."""
    workdir = with_tiny_caches(tiny_run, tmp_path_factory.mktemp("sweep-run"))
    config = _config([0.5, 1.0])
    path = workdir / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", str(path), "--cores", "2")
    return workdir, config, job_counts(result.stdout + result.stderr)


def test_every_budget_reuses_the_teacher_with_every_label(sweep_run):
    _, _, jobs = sweep_run
    # no finetune_teacher or init_student job: the tiny run built them; the every-label cell is the tiny run's data
    assert jobs == {
        "prepare": 1,
        "teacher_logits": 1,
        "check_distill_inputs": 4,
        "distill": 4,
        "evaluate": 6,
        "benchmark": 2,
        "report": 1,
        "all": 1,
    }


def test_the_report_has_a_table_per_budget_and_the_budget_curve(sweep_run):
    workdir, _, _ = sweep_run
    report = workdir / "results" / EXPERIMENT / "report"
    markdown = (report / "report.md").read_text()
    assert "## Task: sentiment/budget-0.5" in markdown and "## Task: sentiment/budget-all" in markdown
    assert "### Distilled against gold-only: sentiment/budget-0.5" in markdown
    assert "](budget_curve.png)" in markdown
    assert len(re.findall(r'<img src="data:image/png;base64,', (report / "report.html").read_text())) == 5
    assert (report / "budget_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = pd.read_csv(report / "metrics.csv")
    rows = metrics.drop_duplicates("task").set_index("task")[["budget", "budget_rows"]]
    assert rows.to_dict("index") == {
        "sentiment/budget-0.5": {"budget": "0.5", "budget_rows": 18},
        "sentiment/budget-all": {"budget": "all", "budget_rows": 36},
    }


def test_adding_a_budget_schedules_only_that_budgets_jobs(sweep_run):
    workdir, config, _ = sweep_run
    grown = copy.deepcopy(config)
    grown["tasks"]["sentiment"]["data"]["label_budget"] = [0.5, 0.75, 1.0]
    path = workdir / "grown.yaml"
    path.write_text(yaml.safe_dump(grown))
    result = snakemake(workdir, "--configfile", str(path), "-n")
    assert job_counts(result.stdout) == {
        "prepare": 1,
        "teacher_logits": 1,
        "check_distill_inputs": 2,
        "distill": 2,
        "evaluate": 3,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }, result.stdout
    scheduled = re.findall(r"output: (results/\S+)", result.stdout)
    assert scheduled and not [path for path in scheduled if "/sentiment/" in path and "/budget-0.75/" not in path]
