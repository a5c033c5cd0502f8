"""The workflow with a label budget, a teacher with every label and transfer text, started from the tiny run's
caches: the teacher is reused, its cache covers the transfer rows and is refused for another budget, the report
says what each model learned from, and a student-only change schedules no teacher job."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from scalingdown.data.store import read_split
from scalingdown.families.classification.teacher_cache import load_teacher_outputs
from scalingdown.kd.logit_store import CacheMismatch, read_logits
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.conftest import REPO, TINY_CONFIG, snakemake, with_tiny_caches
from tests.pipeline.conftest import resolved_tiny_config
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow

EXPERIMENT = "tiny-budget"


def _config(transfer: Path) -> dict:
    """The tiny experiment with half the labels for the students, every label for the teacher, transfer text."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["experiment"] = EXPERIMENT
    task = config["tasks"]["sentiment"]
    del task["students"]["untrained"]
    del task["students"]["distilled"]["export"]  # nothing here needs the shipping variants
    task["data"].update(label_budget=0.5, transfer={"loader": "generic", "options": {"path": str(transfer)}})
    task["teachers"]["big"]["label_budget"] = 1.0
    return config


def _plan(config: dict) -> Plan:
    resolved = copy.deepcopy(config)
    apply_member_defaults(resolved)
    validate(resolved, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return Plan(resolved)


def _tiny_data(tiny_run: Path) -> Path:
    """The tiny run's prepared data (every label, no transfer text)."""
    return tiny_run / Plan(resolved_tiny_config()).tasks["sentiment"].data_dir


@pytest.fixture(scope="module")
def budget_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, int]]:
    """A working directory holding the tiny run's caches in which the budget experiment ran; its config; its jobs."""
    workdir = with_tiny_caches(tiny_run, tmp_path_factory.mktemp("budget-run"))
    tiny_test = read_split(_tiny_data(tiny_run), "test")["text"].iloc[0]
    transfer = workdir / "unlabelled.csv"
    texts = [tiny_test] + [f"Unlabelled note {index}: revenue moved." for index in range(6)]
    pd.DataFrame({"text": texts}).to_csv(transfer, index=False)
    config = _config(transfer)
    path = workdir / "budget.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", str(path), "--cores", "2")
    return workdir, config, job_counts(result.stdout + result.stderr)


def test_the_teacher_with_every_label_is_reused_and_its_cache_covers_the_transfer_rows(budget_run):
    workdir, config, jobs = budget_run
    assert jobs == {
        "prepare": 1,
        "teacher_logits": 1,
        "check_distill_inputs": 2,
        "distill": 2,
        "evaluate": 3,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }
    task = _plan(config).tasks["sentiment"]
    cache, _ = read_logits(workdir / task.teachers["big"].logits)
    train = read_split(workdir / task.data_dir, "train")
    assert cache.loc[cache["split"] == "train", "row_id"].tolist() == train["row_id"].tolist()
    assert train["row_id"].str.startswith("transfer/").sum() == 6  # the test text was dropped


def test_a_cache_built_for_one_budget_is_refused_for_another(budget_run, tiny_run, monkeypatch):
    workdir, config, _ = budget_run
    monkeypatch.chdir(workdir)  # the teacher's model path in the spec is relative to the working directory
    plan = _plan(config)
    spec = StageSpecs(plan).distill("sentiment", "distilled")
    cache = str(workdir / plan.tasks["sentiment"].teachers["big"].logits)
    with pytest.raises(CacheMismatch, match="the data changed since the logits were computed"):
        load_teacher_outputs(spec.teachers, [cache], str(_tiny_data(tiny_run)), spec.labels or [], ("train",))


def test_the_report_says_how_many_labelled_and_transfer_rows_each_model_saw(budget_run):
    workdir, _, _ = budget_run
    markdown = (workdir / "results" / EXPERIMENT / "report" / "report.md").read_text()
    assert "## Training data" in markdown
    assert "| sentiment | teacher | big | 36 | 0 |" in markdown
    assert "| sentiment | student | gold_only | 18 | 0 |" in markdown
    assert "| sentiment | student | distilled | 18 | 24 |" in markdown


def test_a_student_only_change_schedules_no_teacher_job(budget_run):
    workdir, config, _ = budget_run
    changed = copy.deepcopy(config)
    changed["tasks"]["sentiment"]["students"]["distilled"]["loss"] = {"ce": 0.2, "kd": 0.8, "temperature": 3.0}
    path = workdir / "changed.yaml"
    path.write_text(yaml.safe_dump(changed))
    result = snakemake(workdir, "--configfile", str(path), "-n")
    assert job_counts(result.stdout) == {
        "check_distill_inputs": 1,
        "distill": 1,
        "evaluate": 1,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }, result.stdout
