"""The workflow with tiny BERT2BERT models on the built-in financial questions: fine-tune, top-k cache, layer-subset
students (gold only, distilled with hidden-layer MSE, a second stage), generation and option scoring, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import snakemake

pytestmark = pytest.mark.slow

TRAINING = {"epochs": 1, "learning_rate": 1.0e-3, "batch_size": 16, "eval_steps": 2, "logging_steps": 1}
MODEL = "bert2bert:tiny:bert-l2-h32"
LAYER_SUBSET = {"method": "teacher_layers", "layers": [1]}  # the teacher's second block, in encoder and decoder


def _task(task_type: str) -> dict:
    lengths = {"max_length": 72, "max_target_length": 12}
    return {
        "type": task_type,
        "data": {"loader": "synthetic_finance_qa", "options": {"rows": 60}, "split": {"validation": 0.2, "test": 0.2}},
        "teachers": {
            "b2b": {
                "model": MODEL,
                **lengths,
                "top_k": 8,
                "hidden_layers": {"encoder": [2], "decoder": [2]},
                "finetune": TRAINING,
            }
        },
        "student_defaults": {
            "model": MODEL,
            **lengths,
            "training": {**TRAINING, "freeze_embeddings": True},
            "loss": {
                "ce": 0.5,
                "kd": 0.5,
                "temperature": 1.0,
                "hidden": 0.1,
                "hidden_layers": {"encoder": [[1, 2]], "decoder": [[1, 2]]},
            },
        },
        "students": {
            "gold_only": {"teachers": [], "init": LAYER_SUBSET, "loss": {"hidden": 0.0}},
            "distilled": {"teachers": ["b2b"], "init": LAYER_SUBSET},
            "stage2": {"teachers": ["b2b"], "init": {"method": "student", "student": "distilled"}},
        },
    }


@pytest.fixture(scope="module")
def bert2bert_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("bert2bert-run")
    config = {
        "experiment": "b2b",
        "seed": 3,
        "threads": 1,
        "benchmark": {"warmup": 1, "runs": 20, "batch_size": 16},
        "tasks": {"finqa": _task("generative_qa"), "finmc": _task("multiple_choice")},
    }
    choice = config["tasks"]["finmc"]
    choice["students"] = {"distilled": choice["students"]["distilled"]}
    (workdir / "b2b.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", str(workdir / "b2b.yaml"), "--cores", "2")
    return workdir


def test_teachers_and_layer_subset_students_generate_and_score_options(bert2bert_run: Path):
    metrics = pd.read_csv(bert2bert_run / "results" / "b2b" / "report" / "metrics.csv")
    qa = metrics[metrics["task"] == "finqa"].set_index("model")
    choice = metrics[metrics["task"] == "finmc"].set_index("model")
    assert set(qa.index) == {"b2b", "gold_only", "distilled", "stage2"} and set(choice.index) == {"b2b", "distilled"}
    assert qa["exact_match"].between(0, 1).all() and choice["accuracy"].between(0, 1).all()
    assert (qa.loc["distilled", "params"] < qa.loc["b2b", "params"]) and (metrics["throughput_per_s"] > 0).all()
    record = json.loads((bert2bert_run / "results" / "b2b" / "finqa" / "eval" / "student.stage2.json").read_text())
    assert record["examples"] and all(isinstance(example["prediction"], str) for example in record["examples"])


def test_distilled_students_learn_from_the_cache_with_hidden_states(bert2bert_run: Path):
    students = bert2bert_run / "results" / "b2b" / "finqa" / "students"
    history = json.loads((students / "distilled" / "history.json").read_text())
    assert any({"loss_kl", "loss_hidden"} <= set(entry) for entry in history)
    config = json.loads((students / "distilled" / "model" / "config.json").read_text())
    assert config["model_type"] == "encoder-decoder"
    assert config["encoder"]["num_hidden_layers"] == config["decoder"]["num_hidden_layers"] == 1
    caches = list((bert2bert_run / "results" / "cache" / "logits").glob("*.parquet"))
    assert len(caches) == 2 and all(".topk-" in path.name for path in caches)


def test_a_finished_bert2bert_run_has_nothing_left_to_do(bert2bert_run: Path):
    result = snakemake(bert2bert_run, "--configfile", str(bert2bert_run / "b2b.yaml"), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
