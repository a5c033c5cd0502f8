"""The tiny workflow through the repository's SLURM profile on a real (one-node) SLURM cluster.

CI starts the cluster (`.ci/slurm/start.sh`). Without `sbatch` or a responding controller the test
is skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, TINY_CONFIG, snakemake

pytestmark = pytest.mark.slow

PROFILE = REPO / "profiles" / "slurm"
# What differs between the one-node CI cluster and a real one: no job accounting (so squeue answers
# the status checks), fast polling, and the per-job logs kept for the assertions.
CI_CLUSTER_OPTIONS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
    "--slurm-keep-successful-logs",
]
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")
CONTRACT_COLUMNS = {
    "experiment",
    "task",
    "role",
    "model",
    "params",
    "accuracy",
    "latency_ms_per_sample",
    "throughput_per_s",
}


def _cluster_problem() -> str | None:
    """Why no SLURM cluster can take jobs here, or None when one can."""
    if shutil.which("sbatch") is None:
        return "sbatch not found (start a cluster with .ci/slurm/start.sh)"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"sinfo failed: {error}"
    if states.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states.stdout.split()):
        return f"no SLURM node takes jobs (sinfo: {(states.stdout + states.stderr).strip()!r})"
    return None


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    problem = _cluster_problem()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


def _job_field(job_id: str, name: str) -> str:
    details = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    match = re.search(rf"\b{name}=(\S+)", details)
    assert match, f"no {name} in scontrol's record of job {job_id}:\n{details}"
    return match[1]


def test_tiny_workflow_runs_as_slurm_jobs_through_the_repository_profile(slurm_cluster: None, tmp_path: Path):
    shutil.copy(TINY_CONFIG, tmp_path / "tiny.yaml")
    result = snakemake(
        tmp_path,
        "--profile",
        str(PROFILE),
        "--configfile",
        str(tmp_path / "tiny.yaml"),
        "--jobs",
        "2",
        *CI_CLUSTER_OPTIONS,
    )
    log = result.stdout + result.stderr

    submitted = {job_id: Path(job_log) for job_id, job_log in SUBMITTED.findall(log)}
    rules = {job_log.relative_to(tmp_path / ".snakemake" / "slurm_logs").parts[0] for job_log in submitted.values()}
    assert rules == {
        f"rule_{name}"
        for name in (
            "prepare",
            "finetune_teacher",
            "teacher_logits",
            "init_student",
            "distill",
            "evaluate",
            "export",
            "evaluate_export",
            "benchmark",
            "report",
            "model_cards",
        )
    }, log[-3000:]
    # 1 prepare, 1 teacher, 1 logits, 1 init, 2 distill, 4 evaluate, 3 exports and their 3 evaluations,
    # 1 benchmark, 1 report, 1 model_cards
    assert len(submitted) == 19
    for job_id, job_log in submitted.items():
        assert job_log.is_file(), f"no SLURM log for job {job_id}"
        assert _job_field(job_id, "JobState") == "COMPLETED"

    # The experiment's `resources` reached sbatch for the heavy stages; the profile's defaults for the rest.
    by_rule = {
        job_log.relative_to(tmp_path / ".snakemake" / "slurm_logs").parts[0]: job_id
        for job_id, job_log in submitted.items()
    }
    assert _job_field(by_rule["rule_finetune_teacher"], "MinMemoryNode") == "2000M"
    assert _job_field(by_rule["rule_finetune_teacher"], "TimeLimit") == "00:15:00"
    assert _job_field(by_rule["rule_prepare"], "MinMemoryNode") == "4000M"
    assert _job_field(by_rule["rule_prepare"], "TimeLimit") == "01:00:00"

    report = tmp_path / "results" / "tiny" / "report"
    metrics = pd.read_csv(report / "metrics.csv")
    assert set(metrics.columns) >= CONTRACT_COLUMNS
    assert sorted(metrics.loc[metrics["variant"] == "fp32", "model"]) == ["big", "distilled", "gold_only", "untrained"]
    exported = metrics.loc[metrics["variant"] != "fp32"]
    assert set(exported["model"]) == {"distilled"} and len(exported) == 3
    assert (report / "report.md").is_file() and (report / "training_curves.png").is_file()
