"""Config canonicalisation, hashing, semantic checks and the plan's cache keys."""

import copy
import json

import numpy as np
import pytest
import yaml

from scalingdown.pipeline.canonical import canonical, canonical_json, short_hash
from scalingdown.pipeline.checks import check_config
from scalingdown.pipeline.config import ConfigError, apply_student_defaults
from scalingdown.pipeline.plan import Plan
from scalingdown.pipeline.stage_specs import StageSpecs
from tests.conftest import TINY_CONFIG


def test_canonical_form_ignores_key_order_and_number_spelling():
    a = {"b": 3.0, "a": {"y": np.int64(2), "x": [1.5, (1, 2)]}}
    b = {"a": {"x": [1.5, [1, 2]], "y": 2}, "b": 3}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":[1.5,[1,2]],"y":2},"b":3}'
    assert short_hash(a) == short_hash(b)
    assert short_hash({"lr": 1e-4}) != short_hash({"lr": 2e-4})
    assert type(canonical(np.float32(0.5))) is float


def _tiny_config() -> dict:
    """The tiny config as Snakemake hands it over: defaults merged and filled by the schema."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    apply_student_defaults(config)
    from snakemake.utils import validate

    validate(config, str(TINY_CONFIG.parents[2] / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_student_defaults_are_merged_deeply():
    config = _tiny_config()
    student = config["tasks"]["sentiment"]["students"]["distilled"]
    assert student["teachers"] == ["big"]
    assert student["training"]["learning_rate"] == 1e-3 and student["training"]["weight_decay"] == 0.01
    assert config["tasks"]["sentiment"]["students"]["gold_only"]["teachers"] == []


def test_student_settings_never_change_teacher_or_data_paths():
    config = _tiny_config()
    before = Plan(config)
    changed = copy.deepcopy(config)
    changed["tasks"]["sentiment"]["students"]["distilled"]["training"]["learning_rate"] = 5e-4
    changed["tasks"]["sentiment"]["students"]["distilled"]["loss"]["temperature"] = 4.0
    after = Plan(changed)
    task_before, task_after = before.tasks["sentiment"], after.tasks["sentiment"]
    assert task_before.data_dir == task_after.data_dir
    assert task_before.teachers["big"].logits == task_after.teachers["big"].logits
    specs_before, specs_after = StageSpecs(before), StageSpecs(after)
    teacher_before, teacher_after = task_before.teachers["big"].key, task_after.teachers["big"].key
    assert specs_before.finetune(teacher_before).to_json() == specs_after.finetune(teacher_after).to_json()
    distill_before, distill_after = (
        specs_before.distill("sentiment", "distilled"),
        specs_after.distill("sentiment", "distilled"),
    )
    assert distill_before.to_json() != distill_after.to_json()


def test_teacher_and_data_settings_change_their_keys():
    config = _tiny_config()
    base = Plan(config).tasks["sentiment"]
    teacher_change = copy.deepcopy(config)
    teacher_change["tasks"]["sentiment"]["teachers"]["big"]["finetune"]["epochs"] = 2
    data_change = copy.deepcopy(config)
    data_change["tasks"]["sentiment"]["data"]["options"]["rows"] = 61
    assert Plan(teacher_change).tasks["sentiment"].teachers["big"].key != base.teachers["big"].key
    assert Plan(teacher_change).tasks["sentiment"].data_dir == base.data_dir
    changed = Plan(data_change).tasks["sentiment"]
    assert changed.data_dir != base.data_dir and changed.teachers["big"].key != base.teachers["big"].key


def test_students_with_the_same_init_share_one_init_directory():
    task = Plan(_tiny_config()).tasks["sentiment"]
    assert len({student.init_dir for student in task.students.values()}) == 1


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
    config = _tiny_config()
    mutate(config)
    with pytest.raises(ConfigError) as error:
        check_config(config, tmp_path)
    assert error.value.key == key
    assert f"config key `{key}`" in str(error.value)


def test_an_onnx_export_of_an_architecture_it_was_not_proven_on_is_refused_naming_the_key(tmp_path):
    model = tmp_path / "gpt"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    config = _tiny_config()
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
