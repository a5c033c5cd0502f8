"""The whole workflow on the tiny config: the report contract, reruns, config errors, lint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scalingdown.kd.logit_store import read_logits, write_logits
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.conftest import REPO, TINY_CONFIG, scalingdown, snakemake
from tests.pipeline.conftest import resolved_tiny_config
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow

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


def test_tiny_workflow_produces_the_report_contract(tiny_run: Path):
    report = tiny_run / "results" / "tiny" / "report"
    metrics = pd.read_csv(report / "metrics.csv")
    assert set(metrics.columns) >= CONTRACT_COLUMNS
    assert sorted(zip(metrics["model"], metrics["variant"])) == [
        ("big", "fp32"),
        ("distilled", "fp32"),
        ("distilled", "onnx-fp32"),
        ("distilled", "onnx-int8"),
        ("distilled", "torch-int8"),
        ("gold_only", "fp32"),
        ("untrained", "fp32"),
    ]
    assert set(metrics["role"]) == {
        "teacher",
        "student (untrained)",
        "student (gold labels only)",
        "student (distilled from big)",
    }
    assert (metrics["experiment"] == "tiny").all() and (metrics["task"] == "sentiment").all()
    assert metrics["accuracy"].between(0, 1).all() and (metrics["latency_ms_per_sample"] > 0).all()
    teacher = metrics[metrics["kind"] == "teacher"].iloc[0]
    assert teacher["retention_pct"] == pytest.approx(100.0) and teacher["speedup"] == pytest.approx(1.0)
    assert (metrics.loc[metrics["model"] == "distilled", "params"] < teacher["params"]).all()
    markdown = (report / "report.md").read_text()
    assert "## Task: sentiment" in markdown and "student (distilled from big)" in markdown
    assert (report / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_rule_logged_to_the_experiment_log_folder(tiny_run: Path):
    logs = tiny_run / "results" / "tiny" / "logs"
    assert {p.name for p in logs.iterdir()} == {
        "prepare",
        "finetune_teacher",
        "teacher_logits",
        "init_student",
        "check_distill_inputs",
        "distill",
        "evaluate",
        "export",
        "benchmark",
        "report",
    }
    distill_log = (logs / "distill" / "sentiment.distilled.log").read_text()
    assert "trained" in distill_log and "it/s" in distill_log  # progress bars and a summary line


def test_distilled_student_trained_on_both_loss_terms(tiny_run: Path):
    students = tiny_run / "results" / "tiny" / "sentiment" / "students"
    distilled = json.loads((students / "distilled" / "history.json").read_text())
    gold = json.loads((students / "gold_only" / "history.json").read_text())
    assert any("loss_kl" in entry for entry in distilled)
    assert not any("loss_kl" in entry for entry in gold)
    assert not (students / "distilled" / "checkpoints").exists(), "checkpoints are removed after success"


def test_a_finished_run_has_nothing_left_to_do(tiny_run: Path):
    result = snakemake(tiny_run, "--configfile", str(tiny_run / "tiny.yaml"), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("student", "expected"),
    [
        (
            "distilled",
            {
                "check_distill_inputs": 1,
                "distill": 1,
                "evaluate": 1,
                "export": 3,
                "evaluate_export": 3,
                "benchmark": 1,
                "report": 1,
                "all": 1,
            },
        ),
        ("gold_only", {"check_distill_inputs": 1, "distill": 1, "evaluate": 1, "benchmark": 1, "report": 1, "all": 1}),
    ],
    ids=["exported-student-re-exports", "other-student-exports-nothing"],
)
def test_a_student_change_reruns_only_student_stages(tiny_run: Path, student: str, expected: dict):
    config = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    config["tasks"]["sentiment"]["students"][student]["loss"] = {"ce": 0.2, "kd": 0.8, "temperature": 3.0}
    changed = tiny_run / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    result = snakemake(tiny_run, "--configfile", str(changed), "-n")
    assert job_counts(result.stdout) == expected, result.stdout


def test_exports_are_scored_like_their_student_and_timed_with_every_model(tiny_run: Path):
    experiment = tiny_run / "results" / "tiny" / "sentiment"
    student = experiment / "students" / "distilled"
    fp32 = json.loads((experiment / "eval" / "student.distilled.json").read_text())
    for variant in ("onnx-fp32", "onnx-int8", "torch-int8"):
        record = json.loads((student / "export" / variant / "scalingdown-export.json").read_text())
        assert record["variant"] == variant and record["student"]["path"] == str((student / "model").resolve())
        scored = json.loads((experiment / "eval" / f"export.distilled.{variant}.json").read_text())
        assert scored["variant"] == variant and set(scored["metrics"]) == set(fp32["metrics"])
        assert scored["params"] == fp32["params"] and scored["role"] == fp32["role"]
    timing = json.loads((experiment / "eval" / "benchmark.json").read_text())
    assert timing["models_in_order"] == [
        "teacher.big",
        "student.distilled",
        "export.distilled.onnx-fp32",
        "export.distilled.onnx-int8",
        "export.distilled.torch-int8",
        "student.gold_only",
        "student.untrained",
    ]
    assert timing["reference"] == "teacher.big" and timing["settings"]["threads"] == 1
    assert timing["settings"]["calls_per_round"] == 4 and timing["unit"] == "text"
    markdown = (tiny_run / "results" / "tiny" / "report" / "report.md").read_text()
    assert "| distilled · ONNX int8 |" in markdown and "Headline clock:" in markdown


def test_distill_refuses_a_cache_from_another_teacher(tiny_run: Path, tmp_path: Path):
    cache = next((tiny_run / "results" / "cache" / "logits").glob("*.parquet"))
    frame, fingerprint = read_logits(cache)
    forged = tmp_path / "forged.parquet"
    write_logits(forged, frame, {**fingerprint, "teacher_key": "someone-else"})
    plan = Plan(resolved_tiny_config())
    spec = StageSpecs(plan).distill("sentiment", "distilled")
    assert [teacher.key for teacher in spec.teachers] == [fingerprint["teacher_key"]]
    out = tmp_path / "model"
    result = scalingdown(
        "distill",
        "--spec",
        spec.to_json(),
        "--data",
        plan.tasks["sentiment"].data_dir,
        "--init",
        plan.student("sentiment", "distilled").init_dir,
        "--logits",
        str(forged),
        "--out",
        str(out),
        "--history",
        str(tmp_path / "h.json"),
        "--checkpoints",
        str(tmp_path / "ckpt"),
        cwd=tiny_run,
    )
    assert result.returncode == 2
    assert "fingerprint field `teacher_key` is 'someone-else'" in result.stderr
    assert not out.exists()


def _broken_config(tmp_path: Path, mutate) -> Path:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    mutate(config)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c["tasks"]["sentiment"]["teachers"]["big"].update(tempreature=2),
            ["config key `tasks.sentiment.teachers.big`", "'tempreature' was unexpected"],
        ),
        (
            lambda c: c["tasks"]["sentiment"]["teachers"]["big"].update(max_length="long"),
            ["config key `tasks.sentiment.teachers.big.max_length`", "'long' is not of type 'integer'"],
        ),
        (
            lambda c: c["tasks"]["sentiment"]["students"]["distilled"].update(teachers=["huge"]),
            ["config key `tasks.sentiment.students.distilled.teachers`", "'huge' is not defined"],
        ),
        (
            lambda c: c["tasks"]["sentiment"]["student_defaults"]["training"].update(learning_rate=0),
            ["config key `tasks.sentiment.student_defaults.training.learning_rate`", "0 is less than or equal"],
        ),
    ],
    ids=["unknown-key", "wrong-type", "missing-teacher", "mistake-under-student-defaults"],
)
def test_an_invalid_config_stops_before_any_job_naming_the_key(tmp_path: Path, mutate, expected):
    config = _broken_config(tmp_path, mutate)
    result = snakemake(tmp_path, "--configfile", str(config), "--cores", "1", check=False)
    assert result.returncode != 0
    for fragment in expected:
        assert fragment in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_lint_reports_nothing(tmp_path: Path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    result = snakemake(tmp_path, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_a_stage_runs_alone_from_the_command_line(tmp_path: Path):
    spec = {
        "task": "t",
        "type": "classification",
        "labels": ["negative", "neutral", "positive"],
        "seed": 3,
        "format": 1,
        "data": {
            "loader": "synthetic_finance",
            "options": {"rows": 40},
            "split": {"validation": 0.2, "test": 0.2},
            "data_portion": 1.0,
        },
    }
    result = scalingdown("prepare", "--spec", json.dumps(spec), "--out", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert sum(split["rows"] for split in manifest["splits"].values()) == 40
