"""Multi-teacher workflows: a tiny two-teacher run end to end, and the dry runs of the shipped studies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from safetensors import safe_open
from transformers import AutoModelForSequenceClassification

from tests.conftest import REPO, SHARED, snakemake
from tests.families.classification.conftest import FINBERT_ORDER, write_tiny_classifier
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow


def _two_teacher_config(finbert_dir: Path) -> dict:
    """Teacher `lora`: a tiny BERT fine-tuned with LoRA; teacher `finbert`: a task-ready tiny model,
    48 wide, whose labels are in FinBERT's order. One student distilled from both, with a hidden map."""
    return {
        "experiment": "two",
        "seed": 3,
        "threads": 1,
        "benchmark": {"warmup": 1, "runs": 20, "rounds": 6, "batch_size": 8, "memory": False},
        "tasks": {
            "sentiment": {
                "type": "classification",
                "labels": ["negative", "neutral", "positive"],
                "data": {
                    "loader": "synthetic_finance",
                    "options": {"rows": 60},
                    "split": {"validation": 0.2, "test": 0.25},
                },
                "teachers": {
                    "lora": {
                        "model": "tiny:bert-l2-h32",
                        "max_length": 32,
                        "finetune": {
                            "method": "lora",
                            "lora_config": str(REPO / "config" / "lora_config.json"),
                            "epochs": 1,
                            "learning_rate": 1.0e-3,
                            "batch_size": 8,
                            "eval_steps": 2,
                        },
                    },
                    "finbert": {"model": str(finbert_dir), "max_length": 24, "finetune": False},
                },
                "students": {
                    "both": {
                        "model": "tiny:bert-l2-h32",
                        "max_length": 32,
                        "init": {"method": "teacher_layers", "every": 2},
                        "teachers": ["lora", "finbert"],
                        "weighting": {"method": "validation"},
                        "training": {
                            "epochs": 1,
                            "learning_rate": 1.0e-3,
                            "batch_size": 8,
                            "eval_steps": 2,
                            "logging_steps": 2,
                        },
                        "loss": {"ce": 0.5, "kd": 0.5, "hidden": 1.0, "hidden_map": {1: {"lora": 2, "finbert": 1}}},
                    }
                },
            }
        },
    }


@pytest.fixture(scope="module")
def two_teacher_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("two-teachers")
    finbert = write_tiny_classifier(workdir / "finbert", FINBERT_ORDER, arch="bert-l2-h48", seed=4)
    (workdir / "two.yaml").write_text(yaml.safe_dump(_two_teacher_config(finbert)))
    snakemake(workdir, "--configfile", str(workdir / "two.yaml"), "--cores", "2")
    return workdir


def test_two_teachers_end_to_end(two_teacher_run: Path):
    root = two_teacher_run / "results" / "two"
    metrics = pd.read_csv(root / "report" / "metrics.csv")
    assert sorted(metrics["model"]) == ["both", "finbert", "lora"]
    assert "student (distilled from lora + finbert, hidden-layer MSE)" in set(metrics["role"])

    ensemble = json.loads((root / "sentiment" / "eval" / "ensemble.json").read_text())
    for teacher in ("lora", "finbert"):
        evaluated = json.loads((root / "sentiment" / "eval" / f"teacher.{teacher}.json").read_text())
        # The cached logits (aligned in distill/ensemble) and evaluate's own inference agree on the score.
        assert ensemble["teachers"][teacher]["accuracy"] == pytest.approx(evaluated["metrics"]["accuracy"])
    assert set(ensemble["ensembles"]) == {"uniform", "validation", "confidence"}
    assert 0 <= ensemble["agreement"]["all"] <= 1 and list(ensemble["agreement"]["pairwise"]) == ["finbert / lora"]
    report = (root / "report" / "report.md").read_text()
    assert "## Teachers: sentiment" in report and "| teacher finbert |" in report and "ensemble (uniform)" in report

    history = json.loads((root / "sentiment" / "students" / "both" / "history.json").read_text())
    assert any("loss_hidden" in entry and "loss_kl" in entry for entry in history)
    model_dir = root / "sentiment" / "students" / "both" / "model"
    with safe_open(model_dir / "model.safetensors", "pt") as weights:
        assert not [key for key in weights.keys() if "kd_projections" in key], "projections are not saved"  # noqa: SIM118 (safe_open is not iterable)
    student = AutoModelForSequenceClassification.from_pretrained(model_dir)
    assert student.config.num_hidden_layers == 1 and not student.config.output_hidden_states

    caches = sorted(p.name for p in (two_teacher_run / "results" / "cache" / "logits").iterdir())
    assert len(caches) == 2 and any(".h1-" in name for name in caches) and any(".h2-" in name for name in caches)


def test_a_hidden_map_change_recomputes_only_that_teachers_cache(two_teacher_run: Path):
    config = yaml.safe_load((two_teacher_run / "two.yaml").read_text())
    student = config["tasks"]["sentiment"]["students"]["both"]
    student["loss"]["hidden_map"] = {1: {"lora": 1, "finbert": 1}}
    (two_teacher_run / "remapped.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(two_teacher_run, "--configfile", str(two_teacher_run / "remapped.yaml"), "-n")
    assert job_counts(result.stdout) == {
        "teacher_logits": 1,
        "teacher_ensemble": 1,
        "check_distill_inputs": 1,
        "distill": 1,
        "evaluate": 1,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }, result.stdout

    student["loss"]["hidden_map"] = {1: {"lora": 2, "finbert": 1}}
    student["training"]["learning_rate"] = 2.0e-3
    (two_teacher_run / "relearn.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(two_teacher_run, "--configfile", str(two_teacher_run / "relearn.yaml"), "-n")
    assert job_counts(result.stdout) == {
        "check_distill_inputs": 1,
        "distill": 1,
        "evaluate": 1,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }, result.stdout


def _study_workdir(tmp_path: Path) -> Path:
    """A working directory with the repository's config/ and `../shared` pointing at the shared datasets."""
    workdir = tmp_path / "work"
    shutil.copytree(REPO / "config", workdir / "config")
    (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    return workdir


def test_the_finance_study_dry_run_schedules_every_stage_without_network(tmp_path: Path, shared_datasets: Path):
    workdir = _study_workdir(tmp_path)
    result = snakemake(workdir, "--configfile", str(workdir / "config/experiments/finance.yaml"), "-n", "-p")
    assert job_counts(result.stdout) == {
        "prepare": 1,
        "finetune_teacher": 2,
        "teacher_logits": 3,
        "init_student": 1,
        "check_distill_inputs": 2,
        "distill": 2,
        "evaluate": 6,
        "teacher_ensemble": 1,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }
    commands = result.stdout
    assert "hub:ProsusAI/finbert" in commands and "hub:distilbert-base-uncased" in commands
    assert '"learning_rate":2e-05' in commands, "the study's hyper-parameters file is merged"
    assert '"hidden_layers":[4,8,12]' in commands, "teacher caches hold the mapped layers"
    assert not (workdir / "results").exists()


def test_the_offline_study_dry_run(tmp_path: Path, shared_datasets: Path):
    workdir = _study_workdir(tmp_path)
    result = snakemake(workdir, "--configfile", str(workdir / "config/experiments/phrasebank-minilm.yaml"), "-n")
    assert job_counts(result.stdout) == {
        "prepare": 1,
        "finetune_teacher": 2,
        "teacher_logits": 2,
        "init_student": 1,
        "check_distill_inputs": 4,
        "distill": 4,
        "evaluate": 7,
        "export": 6,
        "evaluate_export": 6,
        "teacher_ensemble": 1,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }
