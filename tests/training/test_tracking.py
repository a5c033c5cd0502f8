"""Where training curves go besides the history: TensorBoard under the experiment's logs, MLflow when asked; neither
in any spec."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scalingdown.pipeline.plan.launch import MLFLOW_ENV, TENSORBOARD_ENV, tracking_environment
from scalingdown.training.tracking import run_name, tracking_arguments


def test_a_run_is_named_after_its_models_folder():
    assert run_name(Path("results/exp/sentiment/seed-13/students/kd/checkpoints")) == "sentiment/seed-13/students/kd"
    assert run_name(Path("results/cache/teachers/sentiment.big-123/checkpoints")) == "teachers/sentiment.big-123"
    assert run_name(Path("/elsewhere/mine/checkpoints")) == "mine"


def test_the_workflow_environment_turns_tensorboard_on_and_mlflow_with_its_key():
    assert tracking_environment("results/exp", "exp", None) == {TENSORBOARD_ENV: "results/exp/logs/tensorboard"}
    found = tracking_environment("results/exp", "exp", "file:./mlruns")
    assert found[MLFLOW_ENV] == "1" and found["MLFLOW_TRACKING_URI"] == "file:./mlruns"
    assert found["MLFLOW_EXPERIMENT_NAME"] == "exp"


def test_the_trainer_reports_where_the_environment_says(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(TENSORBOARD_ENV, raising=False)
    monkeypatch.delenv(MLFLOW_ENV, raising=False)
    checkpoints = Path("results/exp/t/students/kd/checkpoints")
    assert tracking_arguments(checkpoints) == {"report_to": "none"}
    monkeypatch.setenv(TENSORBOARD_ENV, "results/exp/logs/tensorboard")
    monkeypatch.setenv(MLFLOW_ENV, "1")
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    assert tracking_arguments(checkpoints) == {"report_to": ["tensorboard", "mlflow"]}
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == "results/exp/logs/tensorboard/t/students/kd"
