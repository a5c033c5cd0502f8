"""A `ship` budget and the `mlflow` key are refused before any job when nothing could use them, naming the key."""

from __future__ import annotations

import importlib.util

import pytest

from scalingdown.pipeline.config.checks import check_config
from tests.pipeline.conftest import config_error, set_task_key, text2text_config, tiny_written


@pytest.mark.parametrize(
    ("ship", "problem"),
    [
        ({}, "should be non-empty"),
        ({"max_latency_ms": 0}, "less than or equal to the minimum of 0"),
        ({"max_ms": 1}, "max_ms"),
    ],
)
def test_a_ship_budget_must_name_a_positive_limit(ship, problem, tmp_path):
    error = config_error(tiny_written(set_task_key("ship", ship)), tmp_path)
    assert error.key.startswith("tasks.sentiment.ship") and problem in str(error)


def test_a_text_to_text_task_ships_nothing_predict_cannot_run():
    config = text2text_config(lambda config: config["tasks"]["qa"].update(ship={"max_size_mb": 10}))
    with pytest.raises(Exception, match=r"tasks\.qa\.ship.*for classification tasks"):
        check_config(config)


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None, reason="mlflow is installed here")
def test_mlflow_without_its_package_is_refused(tmp_path):
    config = tiny_written(lambda config: config.update(mlflow="file:./mlruns"))
    error = config_error(config, tmp_path)
    assert error.key == "mlflow" and "pip install mlflow" in error.problem
