"""One selection protocol for every trained model: the checkpoint with the best validation score is kept (ties to the
earlier), optionally with early stopping, and recorded; `data.validation_budget` caps the validation labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalingdown.data.budget import cap_validation
from scalingdown.data.labels import label_ids
from scalingdown.data.store import read_split
from scalingdown.families.classification.predict import predict_logits
from scalingdown.models.loading import load_classifier, load_tokenizer
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.stages.distill import distill
from scalingdown.stages.prepare import prepare
from scalingdown.training.trainer import BEST_CHECKPOINT_FILE, training_arguments
from tests.pipeline.conftest import budget_config, config_error, resolved_tiny_config, set_task_key, tiny_written
from tests.training.conftest import LABELS, DistillInputs, distill_spec


def _spec(**training: object):
    return distill_spec([], **training)


def test_best_checkpoint_training_saves_at_every_evaluation_and_loads_the_best_by_the_primary_metric(tmp_path):
    best = training_arguments(_spec(eval_steps=3).training, tmp_path, evaluate=True)
    assert best.load_best_model_at_end and best.metric_for_best_model == "accuracy" and best.greater_is_better
    assert (best.save_strategy, best.save_steps, best.eval_steps) == ("steps", 3, 3)
    last = training_arguments(_spec(checkpoint="last", checkpoint_steps=4).training, tmp_path, evaluate=True)
    assert not last.load_best_model_at_end and (last.save_strategy, last.save_steps) == ("steps", 4)
    assert training_arguments(_spec(checkpoint="last").training, tmp_path, evaluate=True).save_strategy == "epoch"


def _train(inputs: DistillInputs, out: Path, **training: object) -> tuple[list[dict], dict]:
    """Train the tiny gold-only student in-process; its history and the record of the checkpoint it kept."""
    spec = distill_spec([], **training)
    distill(spec, str(inputs.data), str(inputs.init), [], str(out / "model"), str(out / "h.json"), str(out / "ck"))
    kept = json.loads((out / "model" / BEST_CHECKPOINT_FILE).read_text())
    return json.loads((out / "h.json").read_text()), kept


def _validation_accuracy(inputs: DistillInputs, model_dir: Path) -> float:
    validation = read_split(inputs.data, "validation")
    logits = predict_logits(
        load_classifier(str(model_dir)), load_tokenizer(str(model_dir)), validation["text"].tolist(), 32, 16, None
    )
    return float(np.mean(np.argmax(logits, axis=1) == np.array(label_ids(validation, LABELS))))


@pytest.mark.slow
def test_the_kept_weights_are_those_of_the_best_evaluation_ties_to_the_earlier(distill_inputs, tmp_path):
    history, kept = _train(distill_inputs, tmp_path, epochs=3, eval_steps=2, learning_rate=3e-3)
    scores = [(entry["step"], entry["eval_accuracy"]) for entry in history if "eval_accuracy" in entry]
    assert scores[-1][0] == kept["last_step"] == 30, "the last step is evaluated too (30 steps, every 2nd evaluated)"
    first_best = max(range(len(scores)), key=lambda i: (scores[i][1], -i))
    assert (kept["step"], kept["score"]) == scores[first_best]
    assert kept["evaluations"] == len(scores) == 15 and kept["validation_rows"] == len(
        read_split(distill_inputs.data, "validation")
    )
    assert not kept["early_stopped"] and kept["checkpoint"] == "best"
    assert _validation_accuracy(distill_inputs, tmp_path / "model") == pytest.approx(kept["score"])


@pytest.mark.slow
def test_early_stopping_ends_training_after_patience_evaluations_without_improvement(distill_inputs, tmp_path):
    history, kept = _train(distill_inputs, tmp_path, epochs=20, eval_steps=1, early_stopping=2)
    scores = [(entry["step"], entry["eval_accuracy"]) for entry in history if "eval_accuracy" in entry]
    assert kept["early_stopped"] and kept["patience"] == 2 and kept["last_step"] < 200
    after_best = [step for step, _ in scores if step > kept["step"]]
    assert len(after_best) == 2, "stopped at the second evaluation in a row without improvement"
    assert all(score <= kept["score"] for _, score in scores)


@pytest.mark.slow
def test_checkpoint_last_keeps_the_last_step(distill_inputs, tmp_path):
    history, kept = _train(distill_inputs, tmp_path, epochs=1, eval_steps=4, checkpoint="last")
    last = [entry for entry in history if "eval_accuracy" in entry][-1]
    assert (kept["step"], kept["score"], kept["checkpoint"]) == (kept["last_step"], last["eval_accuracy"], "last")


# -- the config ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "key", "problem"),
    [
        ({"checkpoint_steps": 5}, "training.checkpoint_steps", "saved at every evaluation"),
        ({"checkpoint": "last", "early_stopping": 3}, "training.early_stopping", "needs checkpoint: best"),
    ],
)
def test_settings_the_selection_cannot_use_are_refused_naming_the_key(tmp_path, settings, key, problem):
    config = tiny_written(set_task_key("student_defaults", "training", settings))
    error = config_error(config, tmp_path)
    assert error.key.endswith(key) and problem in error.problem


def test_every_training_spec_names_its_selection_and_an_early_stopping_patience_reaches_it():
    config = resolved_tiny_config()
    config["tasks"]["sentiment"]["student_defaults"]["training"]["early_stopping"] = 3
    apply_member_defaults(config)
    plan = Plan(config)
    specs = StageSpecs(plan)
    task = plan.tasks["sentiment"]
    for student in task.students.values():
        training = specs.distill(task.name, student.name).training
        assert (training.checkpoint, training.selection_metric, training.early_stopping) == ("best", "accuracy", 3)
    teacher = next(iter(task.teachers.values()))
    finetune = specs.finetune(teacher.key).training
    assert (finetune.checkpoint, finetune.selection_metric, finetune.early_stopping) == ("best", "accuracy", None)


# -- the validation budget -------------------------------------------------------------------------------------------
def test_a_validation_budget_keeps_a_stratified_seeded_share_in_the_original_order():
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(40)], "label": ["a"] * 30 + ["b"] * 10})
    capped = cap_validation(frame, 0.2, seed=7, stratify="label")
    assert len(capped) == 8 and capped["label"].value_counts().to_dict() == {"a": 6, "b": 2}
    assert list(capped["text"]) == sorted(capped["text"], key=lambda text: int(text[1:]))
    assert capped.equals(cap_validation(frame, 0.2, seed=7, stratify="label"))
    assert not capped.equals(cap_validation(frame, 0.2, seed=8, stratify="label"))
    assert len(cap_validation(frame, 12, seed=7, stratify="label")) == 12
    assert cap_validation(frame, None, seed=7, stratify="label") is frame


def test_a_validation_budget_reaches_the_students_data_and_a_teacher_on_their_labels_not_one_with_its_own():
    config = budget_config(0.5, teacher_budget=1.0)
    config["tasks"]["sentiment"]["data"]["validation_budget"] = 0.5
    task = Plan(config).tasks["sentiment"]
    specs = StageSpecs(Plan(config))
    assert specs.prepare(task.data_key).data.validation_budget == 0.5
    assert specs.prepare(task.teachers["big"].data_key).data.validation_budget is None
    assert task.teachers["big"].key == Plan(budget_config(0.5)).tasks["sentiment"].teachers["big"].key
    on_their_labels = budget_config(0.5, teacher_budget=None)
    on_their_labels["tasks"]["sentiment"]["data"]["validation_budget"] = 0.5
    teacher = Plan(on_their_labels).tasks["sentiment"].teachers["big"]
    assert StageSpecs(Plan(on_their_labels)).prepare(teacher.data_key).data.validation_budget == 0.5


def test_prepare_caps_the_validation_split_and_records_it(tmp_path):
    config = resolved_tiny_config()
    config["tasks"]["sentiment"]["data"]["validation_budget"] = 4
    plan = Plan(config)
    manifest = prepare(StageSpecs(plan).prepare(plan.tasks["sentiment"].data_key), str(tmp_path / "capped"))
    plain = Plan(resolved_tiny_config())
    full = prepare(StageSpecs(plain).prepare(plain.tasks["sentiment"].data_key), str(tmp_path / "plain"))
    assert manifest["splits"]["validation"]["rows"] == 4 and manifest["validation_budget"] == 4
    assert manifest["validation_rows_before_budget"] == full["splits"]["validation"]["rows"] > 4
    assert set(read_split(tmp_path / "capped", "validation")["text"]) < set(
        read_split(tmp_path / "plain", "validation")["text"]
    )
    assert (
        manifest["splits"]["train"] == full["splits"]["train"] and manifest["splits"]["test"] == full["splits"]["test"]
    )


def test_a_validation_budget_that_is_not_a_budget_is_refused_naming_the_key(tmp_path):
    error = config_error(tiny_written(set_task_key("data", "validation_budget", 2.5)), tmp_path)
    assert error.key == "tasks.sentiment.data.validation_budget" and "not a whole number" in error.problem
