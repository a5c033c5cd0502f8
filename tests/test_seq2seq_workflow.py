"""A two-stage seq2seq workflow on real TriviaQA rows with tiny T5 models (a cut-down seq2seq-tiny.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_stage_run(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """seq2seq-tiny's TriviaQA task, smaller: untrained tiny teachers (no fine-tune jobs), 1 epoch, ~80 rows."""
    root = tmp_path_factory.mktemp("seq2seq-run")
    (root / "shared").symlink_to(shared_datasets.parent)
    workdir = root / "work"
    workdir.mkdir()
    config = yaml.safe_load((REPO / "config" / "experiments" / "seq2seq-tiny.yaml").read_text())
    trivia = config["tasks"]["trivia"]
    trivia["data"].update(split={"validation": 0.01, "test": 0.01}, data_portion=0.03)
    for teacher in trivia["teachers"].values():
        teacher["finetune"] = False
    trivia["student_defaults"]["training"].update(epochs=1, eval_steps=2, logging_steps=1)
    del trivia["students"]["gold_only"]
    trivia["students"]["stage2"]["export"] = ["torch-int8"]
    benchmark = {"warmup": 1, "runs": 20, "rounds": 6, "batch_size": 16, "memory": False}
    config.update(experiment="two-stage", tasks={"trivia": trivia}, benchmark=benchmark)
    (workdir / "two-stage.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", str(workdir / "two-stage.yaml"), "--cores", "2")
    return workdir


def test_each_stage_is_its_own_distill_job_and_stage_two_starts_from_stage_one(two_stage_run: Path):
    logs = two_stage_run / "results" / "two-stage" / "logs"
    assert sorted(p.name for p in (logs / "distill").iterdir()) == ["trivia.stage1.log", "trivia.stage2.log"]
    assert len(list((logs / "init_student").iterdir())) == 1, "stage 2 needs no init job"
    students = two_stage_run / "results" / "two-stage" / "trivia" / "students"
    for stage in ("stage1", "stage2"):
        history = json.loads((students / stage / "history.json").read_text())
        assert any("loss_kl" in entry for entry in history)
    caches = sorted((two_stage_run / "results" / "cache" / "logits").glob("*.parquet"))
    assert len(caches) == 2 and all(".topk-" in path.name for path in caches)


def test_the_report_lists_both_stages_with_their_teachers(two_stage_run: Path):
    report = two_stage_run / "results" / "two-stage" / "report"
    metrics = pd.read_csv(report / "metrics.csv")
    roles = dict(zip(metrics["model"] + "/" + metrics["variant"], metrics["role"]))
    assert roles == {
        "small/fp32": "teacher",
        "large/fp32": "teacher",
        "stage1/fp32": "student (distilled from small)",
        "stage2/fp32": "student (distilled from large, starting from stage1)",
        "stage2/torch-int8": "student (distilled from large, starting from stage1)",
    }
    assert {"exact_match", "f1", "precision", "recall", "latency_ms_per_sample", "throughput_per_s"} <= set(metrics)
    assert metrics["f1"].between(0, 1).all() and (metrics["throughput_per_s"] > 0).all()
    markdown = (report / "report.md").read_text()
    assert "Token F1" in markdown and "starting from stage1" in markdown
    assert "| stage2 · PyTorch int8 |" in markdown and "per question at batch size 1" in markdown


def test_a_finished_two_stage_run_has_nothing_left_to_do(two_stage_run: Path):
    result = snakemake(two_stage_run, "--configfile", str(two_stage_run / "two-stage.yaml"), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
