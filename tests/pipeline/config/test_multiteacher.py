"""Multi-teacher config keys: defaults files, semantic checks, and which cache keys they change."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from scalingdown.pipeline.config.defaults import apply_defaults
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.conftest import REPO
from tests.pipeline.conftest import multiteacher_config, ready, ready_plan

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def _student(config: dict, name: str = "both") -> dict:
    return config["tasks"]["sentiment"]["students"][name]


def test_the_hyperparameters_file_sits_under_the_tasks_defaults_and_the_models_own_settings(tmp_path):
    (tmp_path / "hp.yaml").write_text(
        yaml.safe_dump(
            {
                "teacher_defaults": {"max_length": 50, "finetune": {"epochs": 7, "learning_rate": 3.0e-5}},
                "student_defaults": {"training": {"epochs": 9, "weight_decay": 0.2}, "loss": {"temperature": 5.0}},
            }
        )
    )
    config = multiteacher_config()
    config["hyperparameters"] = "hp.yaml"
    task = config["tasks"]["sentiment"]
    del task["teachers"]["small"]["max_length"]
    del _student(config)["loss"]
    config = ready(config, tmp_path)
    task = config["tasks"]["sentiment"]
    assert task["teachers"]["small"]["max_length"] == 50  # from the file
    assert task["teachers"]["big"]["max_length"] == 32  # the teacher's own
    assert task["teachers"]["small"]["finetune"]["epochs"] == 1  # the teacher's own
    assert task["teachers"]["small"]["finetune"]["learning_rate"] == 3.0e-5  # from the file
    assert task["teachers"]["big"]["finetune"]["learning_rate"] == 1.0e-3  # the teacher's own
    assert _student(config, "distilled")["training"]["epochs"] == 1  # the task's student_defaults
    assert _student(config, "distilled")["training"]["weight_decay"] == 0.2  # from the file
    assert _student(config, "distilled")["loss"]["temperature"] == 2.0  # the task's student_defaults
    assert _student(config)["loss"]["temperature"] == 2.0


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "not found"), ("[1, 2]", "must hold a mapping"), ("students: {}", "unknown keys ['students']")],
    ids=["missing-file", "not-a-mapping", "unknown-keys"],
)
def test_a_bad_hyperparameters_file_names_the_key(tmp_path, content, problem):
    if content is not None:
        (tmp_path / "hp.yaml").write_text(content)
    config = {**multiteacher_config(), "hyperparameters": "hp.yaml"}
    with pytest.raises(ConfigError, match=f"config key `hyperparameters`: .*{re.escape(problem)}"):
        apply_defaults(config, tmp_path)


def _mutated(mutate) -> dict:
    config = multiteacher_config()
    mutate(config)
    return config


S = "tasks.sentiment.students.both"


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (
            lambda c: _student(c).update(weighting={"method": "fixed", "weights": {"big": 1.0}}),
            f"{S}.weighting.weights",
            "the student's teachers are ['big', 'small']",
        ),
        (lambda c: _student(c).update(weighting={"method": "fixed"}), f"{S}.weighting.weights", "needs a weight"),
        (
            lambda c: _student(c).update(weighting={"method": "uniform", "weights": {"big": 1, "small": 1}}),
            f"{S}.weighting.weights",
            "only used with method fixed",
        ),
        (lambda c: _student(c).update(teachers=["big"]), f"{S}.loss.hidden_map", "'small' is not one of"),
        (lambda c: _student(c)["loss"].update(hidden_map={}), f"{S}.loss.hidden_map", "needs a map"),
        (lambda c: _student(c)["loss"].update(hidden=0), f"{S}.loss.hidden", "its weight loss.hidden is 0"),
        (
            lambda c: _student(c).update(init={"method": "teacher_layers", "layers": [0], "every": 2}),
            f"{S}.init.layers",
            "takes only one of",
        ),
        (
            lambda c: (
                c["tasks"]["sentiment"]["student_defaults"].update(init={"method": "scratch"}),
                _student(c).update(init={"every": 2}),
            ),
            f"{S}.init.every",
            "only used with method teacher_layers",
        ),
        (
            lambda c: c["tasks"]["sentiment"]["teachers"]["big"].update(labels={"LABEL_0": "bullish"}),
            "tasks.sentiment.teachers.big.labels",
            "maps onto ['bullish'], which are not task labels",
        ),
        (
            lambda c: c["tasks"]["sentiment"]["teachers"]["small"]["finetune"].update(lora_config="nowhere.json"),
            "tasks.sentiment.teachers.small.finetune.lora_config",
            "'nowhere.json' not found",
        ),
        (
            lambda c: c["tasks"]["sentiment"]["teachers"]["big"]["finetune"].update(lora_config="x.json"),
            "tasks.sentiment.teachers.big.finetune.lora_config",
            "only used with method lora",
        ),
    ],
    ids=[
        "fixed-names",
        "fixed-missing",
        "weights-unused",
        "hidden-teacher",
        "hidden-no-map",
        "hidden-zero",
        "init-both",
        "init-every-pretrained",
        "label-map",
        "lora-file",
        "lora-full",
    ],
)
def test_semantic_errors_name_the_key(tmp_path, mutate, key, problem):
    with pytest.raises(ConfigError) as error:
        ready(_mutated(mutate), tmp_path)
    assert error.value.key == key
    assert problem in str(error.value)


def test_schema_rejects_an_unknown_weighting_method():
    config = _mutated(lambda c: _student(c).update(weighting={"method": "best"}))
    apply_defaults(config)
    with pytest.raises(Exception, match="'best' is not one of"):
        validate(config, SCHEMA)


def test_the_logit_cache_stores_the_union_of_mapped_layers_and_only_a_map_change_moves_it():
    base = ready_plan(multiteacher_config()).tasks["sentiment"]
    assert base.teachers["big"].hidden_layers == (2,) and base.teachers["small"].hidden_layers == (1,)
    assert base.teachers["big"].logits.endswith(".h2-f3.parquet")

    lr = multiteacher_config()
    _student(lr)["training"] = {"learning_rate": 5.0e-4}
    _student(lr)["weighting"] = {"method": "confidence"}
    after_lr = ready_plan(lr).tasks["sentiment"]
    assert after_lr.teachers["big"].logits == base.teachers["big"].logits

    remapped = multiteacher_config()
    _student(remapped)["loss"]["hidden_map"] = {1: {"big": 1, "small": 1}, 2: {"big": 2}}
    _student(remapped)["init"] = {"method": "teacher_layers", "layers": [0, 1]}  # hidden states 0..2
    after_map = ready_plan(remapped).tasks["sentiment"]
    assert after_map.teachers["big"].hidden_layers == (1, 2)
    assert after_map.teachers["big"].logits != base.teachers["big"].logits
    assert after_map.teachers["big"].model_dir == base.teachers["big"].model_dir, "the fine-tuned teacher is reused"
    assert after_map.teachers["small"].logits == base.teachers["small"].logits

    without = multiteacher_config()
    del _student(without)["loss"]
    plain = ready_plan(without).tasks["sentiment"]
    assert plain.teachers["big"].hidden_layers == () and ".h" not in Path(plain.teachers["big"].logits).name


def test_lora_settings_are_part_of_the_teacher_key_by_content(tmp_path):
    settings = json.loads((REPO / "config" / "lora_config.json").read_text())
    copied = tmp_path / "copy.json"
    copied.write_text(json.dumps(settings))
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({**settings, "r": 16}))

    def key(path: Path) -> str:
        config = multiteacher_config()
        config["tasks"]["sentiment"]["teachers"]["small"]["finetune"]["lora_config"] = str(path)
        return ready_plan(config).tasks["sentiment"].teachers["small"].key

    assert key(copied) == key(REPO / "config" / "lora_config.json")
    assert key(changed) != key(copied)


def test_specs_carry_weighting_hidden_map_and_label_maps():
    config = multiteacher_config()
    config["tasks"]["sentiment"]["teachers"]["big"]["labels"] = {"LABEL_0": "negative"}
    plan = ready_plan(config)
    specs = StageSpecs(plan)
    distill = json.loads(specs.distill("sentiment", "both").to_json())
    assert distill["weighting"] == {"method": "validation"}
    assert distill["loss"]["hidden_map"] == {"1": {"big": 2, "small": 1}} and distill["loss"]["hidden"] == 1
    teacher = plan.tasks["sentiment"].teachers["big"]
    assert json.loads(specs.logits(teacher.logits_key).to_json())["label_map"] == {"LABEL_0": "negative"}
    assert json.loads(specs.evaluate("sentiment", "teacher", "big").to_json())["label_map"] == {"LABEL_0": "negative"}
    assert plan.ensemble_files() == ["results/tiny/sentiment/eval/ensemble.json"]
    assert plan.tasks["sentiment"].students["both"].role == "student (distilled from big + small, hidden-layer MSE)"
    finetune = json.loads(specs.finetune(plan.tasks["sentiment"].teachers["small"].key).to_json())
    assert finetune["method"] == "lora" and finetune["lora"]["r"] == 8 and "lora_config" not in finetune["training"]
    assert [t["name"] for t in json.loads(specs.ensemble("sentiment").to_json())["teachers"]] == ["big", "small"]
