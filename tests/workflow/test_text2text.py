"""A two-stage seq2seq workflow on real TriviaQA rows with tiny T5 models (a cut-down seq2seq-tiny.yaml), and in
the same run tiny BERT2BERT models on the built-in financial questions: fine-tuned teachers, their top-k caches,
layer-subset students (gold only; distilled with hidden-layer MSE), generation and option scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, snakemake

pytestmark = pytest.mark.slow

BERT2BERT = "bert2bert:tiny:bert-l2-h32"
B2B_TRAINING = {"epochs": 1, "learning_rate": 1.0e-3, "batch_size": 16, "eval_steps": 2, "logging_steps": 1}
LAYER_SUBSET = {"method": "teacher_layers", "layers": [1]}  # the teacher's second block, in encoder and decoder


def _bert2bert_task(task_type: str, students: tuple[str, ...]) -> dict:
    """A built-in financial-question task with a tiny BERT2BERT teacher and layer-subset students."""
    lengths = {"max_length": 72, "max_target_length": 12}
    roster = {
        "gold_only": {"teachers": [], "loss": {"hidden": 0.0}},
        "distilled": {"teachers": ["b2b"]},
    }
    return {
        "type": task_type,
        "data": {"loader": "synthetic_finance_qa", "options": {"rows": 60}, "split": {"validation": 0.2, "test": 0.2}},
        "teachers": {
            "b2b": {
                "model": BERT2BERT,
                **lengths,
                "top_k": 8,
                "hidden_layers": {"encoder": [2], "decoder": [2]},
                "finetune": B2B_TRAINING,
            }
        },
        "student_defaults": {
            "model": BERT2BERT,
            **lengths,
            "init": LAYER_SUBSET,
            "training": {**B2B_TRAINING, "freeze_embeddings": True, "group_by_length": False},
            "loss": {
                "ce": 0.5,
                "kd": 0.5,
                "temperature": 1.0,
                "hidden": 0.1,
                "hidden_layers": {"encoder": [[1, 2]], "decoder": [[1, 2]]},
            },
        },
        "students": {name: roster[name] for name in students},
    }


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
    tasks = {
        "trivia": trivia,
        "finqa": _bert2bert_task("generative_qa", ("gold_only", "distilled")),
        "finmc": _bert2bert_task("multiple_choice", ("distilled",)),
    }
    config.update(experiment="two-stage", tasks=tasks, benchmark=benchmark)
    (workdir / "two-stage.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", str(workdir / "two-stage.yaml"), "--cores", "2")
    return workdir


def test_each_stage_is_its_own_distill_job_and_stage_two_starts_from_stage_one(two_stage_run: Path):
    logs = two_stage_run / "results" / "two-stage" / "logs"
    trivia = sorted(p.name for p in (logs / "distill").iterdir() if p.name.startswith("trivia."))
    assert trivia == ["trivia.stage1.log", "trivia.stage2.log"]
    assert len(list((logs / "init_student").glob("trivia-*"))) == 1, "stage 2 needs no init job"
    students = two_stage_run / "results" / "two-stage" / "trivia" / "students"
    for stage in ("stage1", "stage2"):
        history = json.loads((students / stage / "history.json").read_text())
        assert any("loss_kl" in entry for entry in history)
    caches = sorted((two_stage_run / "results" / "cache" / "logits").glob("trivia.*.parquet"))
    assert len(caches) == 2 and all(".topk-" in path.name for path in caches)


def test_the_report_lists_both_stages_with_their_teachers(two_stage_run: Path):
    report = two_stage_run / "results" / "two-stage" / "report"
    metrics = pd.read_csv(report / "metrics.csv")
    metrics = metrics[metrics["task"] == "trivia"]
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


def test_bert2bert_teachers_and_layer_subset_students_generate_and_score_options(two_stage_run: Path):
    metrics = pd.read_csv(two_stage_run / "results" / "two-stage" / "report" / "metrics.csv")
    qa = metrics[metrics["task"] == "finqa"].set_index("model")
    choice = metrics[metrics["task"] == "finmc"].set_index("model")
    assert set(qa.index) == {"b2b", "gold_only", "distilled"} and set(choice.index) == {"b2b", "distilled"}
    assert qa["exact_match"].between(0, 1).all() and choice["accuracy"].between(0, 1).all()
    assert qa.loc["distilled", "params"] < qa.loc["b2b", "params"]
    record = json.loads(
        (two_stage_run / "results" / "two-stage" / "finqa" / "eval" / "student.distilled.json").read_text()
    )
    assert record["examples"] and all(isinstance(example["prediction"], str) for example in record["examples"])


def test_bert2bert_students_learn_from_the_cache_with_hidden_states(two_stage_run: Path):
    students = two_stage_run / "results" / "two-stage" / "finqa" / "students"
    history = json.loads((students / "distilled" / "history.json").read_text())
    assert any({"loss_kl", "loss_hidden"} <= set(entry) for entry in history)
    config = json.loads((students / "distilled" / "model" / "config.json").read_text())
    assert config["model_type"] == "encoder-decoder"
    assert config["encoder"]["num_hidden_layers"] == config["decoder"]["num_hidden_layers"] == 1
    caches = list((two_stage_run / "results" / "cache" / "logits").glob("fin*.parquet"))
    assert len(caches) == 2 and all(".topk-" in path.name for path in caches)
