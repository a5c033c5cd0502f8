"""A causal workflow on the built-in financial questions with tiny Llamas (causal-offline.yaml cut down): the family
comes from the models' configs, the teacher answers the transfer rows of a label budget, a depth-pruned student
distils from the top-k cache beside its gold-only twin, every student is compared with the teacher token by token,
and the report lists them. A dry run of causal-math.yaml (Hub models, DeepSpeed) plans it offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scalingdown.pipeline.names.families import CAUSAL
from tests.conftest import REPO, snakemake
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow

TRAINING = {"epochs": 1, "learning_rate": 1.0e-3, "batch_size": 8, "eval_steps": 4, "logging_steps": 2}


@pytest.fixture(scope="module")
def causal_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("causal-run")
    config = yaml.safe_load((REPO / "config" / "experiments" / "causal-offline.yaml").read_text())
    finqa = config["tasks"]["finqa"]
    finqa["data"].update(options={"rows": 60}, split={"validation": 0.2, "test": 0.2}, label_budget=0.5)
    teacher = finqa["teachers"].pop("smollm2")
    teacher.update(model="tiny:llama-l4-h32", max_length=96, top_k=8, finetune={**TRAINING, "method": "full"})
    finqa["teachers"] = {"llama": teacher}
    finqa["student_defaults"].update(
        model="tiny:llama-l4-h32", max_length=96, init={"method": "teacher_layers", "every": 2}, training=TRAINING
    )
    finqa["students"]["gold_only"]["training"] = {"epochs": 2}
    finqa["students"]["distilled"]["teachers"] = ["llama"]
    config.update(
        experiment="causal-tiny", seeds=[13], benchmark={"warmup": 0, "runs": 20, "rounds": 6, "batch_size": 4}
    )
    (workdir / "causal-tiny.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", str(workdir / "causal-tiny.yaml"), "--cores", "2")
    return workdir


def test_the_task_is_learnt_by_causal_lms_and_the_students_distil_from_the_cache(causal_run: Path):
    results = causal_run / "results" / "causal-tiny" / "finqa" / "seed-13"
    history = json.loads((results / "students" / "distilled" / "history.json").read_text())
    assert any("loss_kl" in entry for entry in history)
    config = json.loads((results / "students" / "distilled" / "model" / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["num_hidden_layers"] == 2
    assert (results / "students" / "distilled" / "model" / "README.md").is_file()
    (cache,) = (causal_run / "results" / "cache" / "logits").glob("finqa.*.parquet")
    assert ".topk-" in cache.name


def test_the_report_compares_each_student_with_the_teacher_and_the_twin(causal_run: Path):
    metrics = pd.read_csv(causal_run / "results" / "causal-tiny" / "report" / "metrics.csv").set_index("model")
    assert set(metrics.index) == {"llama", "pruned", "gold_only", "distilled"}
    assert metrics["f1"].between(0, 1).all() and (metrics["throughput_per_s"] > 0).all()
    speed = metrics[["tokens_per_s_batch_1", "tokens_per_s_batch", "time_to_first_token_ms"]]
    assert (speed > 0).all().all()
    for student in ("pruned", "gold_only", "distilled"):
        record = json.loads(
            (
                causal_run / "results" / "causal-tiny" / "finqa" / "seed-13" / "eval" / f"student.{student}.json"
            ).read_text()
        )
        assert {"perplexity", "kl_to_teacher_mean", "kl_to_teacher_p99", "top1_agreement"} <= set(record["metrics"])
    assert metrics.loc["distilled", "params"] < metrics.loc["llama", "params"]
    markdown = (causal_run / "results" / "causal-tiny" / "report" / "report.md").read_text()
    assert "KL to teacher (mean)" in markdown and "Top-1 agreement" in markdown and "Perplexity (gold)" in markdown
    assert "## Teacher caches" in markdown and "Bytes per token" in markdown
    assert "Tokens/s (batch 1)" in markdown and "First token (ms)" in markdown


def test_the_math_experiment_plans_offline_with_the_causal_family(shared_datasets: Path, tmp_path: Path):
    (tmp_path / "shared").symlink_to(shared_datasets.parent)
    workdir = tmp_path / "work"
    shutil.copytree(REPO / "config", workdir / "config")  # the LoRA and DeepSpeed settings are relative to it
    config = REPO / "config" / "experiments" / "causal-math.yaml"
    result = snakemake(workdir, "--configfile", str(config), "-n", "--printshellcmds")
    counts = job_counts(result.stdout)
    assert counts["distill"] == 9 and counts["finetune_teacher"] == 3 and counts["teacher_logits"] == 3
    assert f'"family":"{CAUSAL}"' in result.stdout and '"on_policy":0.5' in result.stdout
