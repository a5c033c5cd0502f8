"""The config checks before any job: defaults merged, semantic errors named by their key, schema defaults."""

import json

import pytest
import yaml

from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.errors import ConfigError
from tests.conftest import TINY_CONFIG
from tests.pipeline.conftest import resolved_tiny_config


def test_student_defaults_are_merged_deeply():
    config = resolved_tiny_config()
    student = config["tasks"]["sentiment"]["students"]["distilled"]
    assert student["teachers"] == ["big"]
    assert student["training"]["learning_rate"] == 1e-3 and student["training"]["weight_decay"] == 0.01
    assert config["tasks"]["sentiment"]["students"]["gold_only"]["teachers"] == []


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (
            lambda c: c["tasks"]["sentiment"]["students"]["distilled"].update(teachers=["nobody"]),
            "tasks.sentiment.students.distilled.teachers",
        ),
        (
            lambda c: c["tasks"]["sentiment"]["students"]["distilled"]["loss"].update(ce=0, kd=0),
            "tasks.sentiment.students.distilled.loss",
        ),
        (
            lambda c: c["tasks"]["sentiment"]["teachers"]["big"].update(model="no/such/dir"),
            "tasks.sentiment.teachers.big.model",
        ),
        (
            lambda c: c["tasks"]["sentiment"]["students"]["distilled"]["init"].pop("layers"),
            "tasks.sentiment.students.distilled.init.layers",
        ),
        (lambda c: c.update(benchmark={"runs": 20, "rounds": 30}), "benchmark.runs"),
    ],
    ids=["undefined-teacher", "all-loss-weights-zero", "model-dir-missing", "init-without-layers", "runs-below-rounds"],
)
def test_semantic_errors_name_the_key(mutate, key, tmp_path):
    config = resolved_tiny_config()
    mutate(config)
    with pytest.raises(ConfigError) as error:
        check_config(config, tmp_path)
    assert error.value.key == key
    assert f"config key `{key}`" in str(error.value)


def test_an_onnx_export_of_an_architecture_it_was_not_proven_on_is_refused_naming_the_key(tmp_path):
    model = tmp_path / "gpt"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    config = resolved_tiny_config()
    config["tasks"]["sentiment"]["students"]["distilled"].update(model="gpt", init={"method": "pretrained"})
    with pytest.raises(ConfigError) as error:
        check_config(config, tmp_path)
    assert error.value.key == "tasks.sentiment.students.distilled.export"
    assert error.value.problem.startswith("onnx: ONNX export is supported for bert,") and "not 'gpt2'" in str(
        error.value
    )
    config["tasks"]["sentiment"]["students"]["distilled"]["export"] = ["torch-int8"]
    check_config(config, tmp_path)


def test_a_student_without_training_or_loss_gets_the_schema_defaults():
    config = yaml.safe_load(TINY_CONFIG.read_text())
    task = config["tasks"]["sentiment"]
    task.pop("student_defaults")
    task["students"] = {"plain": {"model": "tiny:bert-l2-h32", "teachers": ["big"]}}
    from snakemake.utils import validate

    validate(config, str(TINY_CONFIG.parents[2] / "workflow" / "schemas" / "config.schema.yaml"))
    student = config["tasks"]["sentiment"]["students"]["plain"]
    assert student["loss"] == {
        "ce": 0.5,
        "kd": 0.5,
        "temperature": 2.0,
        "hidden": 0,
        "hidden_map": {},
        "hidden_projection": "auto",
    }
    assert student["training"]["learning_rate"] == 5e-5 and student["training"]["epochs"] == 3
    check_config(config)
