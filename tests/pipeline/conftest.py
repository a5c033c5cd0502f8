"""Configs as the Snakefile hands them over, for the tests of every folder: the tiny experiment (resolved, or as
written and changed), a text-to-text experiment, a two-teacher one, one with label budgets, and the one-line error a
config gets before any job."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import yaml
from snakemake.utils import validate

from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.defaults import apply_defaults, apply_member_defaults
from scalingdown.pipeline.config.validation import validate_config
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.experiment import Plan
from tests.conftest import REPO, TINY_CONFIG

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def resolved_tiny_config() -> dict:
    """The tiny config as Snakemake hands it over: defaults merged and filled by the schema."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    apply_member_defaults(config)
    validate(config, str(SCHEMA))
    return config


def budget_config(budget: float | None = 0.5, teacher_budget: float | None = 1.0) -> dict:
    """The resolved tiny config with the students' label budget and the teacher's own."""
    config = resolved_tiny_config()
    task = config["tasks"]["sentiment"]
    if budget is not None:
        task["data"]["label_budget"] = budget
    if teacher_budget is not None:
        task["teachers"]["big"]["label_budget"] = teacher_budget
    return config


def config_error(raw: dict, workdir: Path) -> ConfigError:
    """The error the Snakefile reports for `raw` (as the user wrote it): defaults, schema, checks, attribution."""
    try:
        validate_config(copy.deepcopy(raw), workdir, SCHEMA)
    except ConfigError as error:
        return error
    raise AssertionError("the config was accepted")


def tiny_written(mutate: Callable[[dict], object]) -> dict:
    """The tiny config as a user wrote it, changed by `mutate`."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    mutate(config)
    return config


def sentiment_task(config: dict) -> dict:
    """The tiny config's one task."""
    return config["tasks"]["sentiment"]


def set_task_key(*path_and_value):
    """A mutation setting the sentiment task's key `path` (dotted) to `value`."""
    *path, value = path_and_value

    def mutate(config: dict) -> None:
        target = sentiment_task(config)
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value

    return mutate


TEXT2TEXT_BASE = {
    "experiment": "s2s",
    "tasks": {
        "qa": {
            "type": "generative_qa",
            "data": {"loader": "triviaqa", "options": {"path": "qa.jsonl"}},
            "teachers": {
                "base": {"model": "tiny:t5-l2-h32", "max_target_length": 16, "hidden_layers": {"encoder": [2]}},
                "large": {"model": "tiny:t5-l3-h32", "max_target_length": 16, "top_k": 8},
            },
            "student_defaults": {"model": "tiny:t5-l1-h16", "max_target_length": 16},
            "students": {
                "stage1": {"teachers": ["base"]},
                "stage2": {"teachers": ["large"], "init": {"method": "student", "student": "stage1"}},
            },
        }
    },
}


def text2text_config(mutate=None) -> dict:
    """A two-stage TriviaQA experiment of tiny T5s (`TEXT2TEXT_BASE`), changed by `mutate`, resolved."""
    config = copy.deepcopy(TEXT2TEXT_BASE)
    if mutate:
        mutate(config)
    apply_member_defaults(config)
    validate(config, str(SCHEMA))
    return config


def multiteacher_config() -> dict:
    """The tiny config with a second teacher (LoRA) and a student distilled from both with a hidden map."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    task = config["tasks"]["sentiment"]
    task["teachers"]["small"] = {
        "model": "tiny:bert-l2-h32",
        "max_length": 32,
        "finetune": {"method": "lora", "lora_config": str(REPO / "config" / "lora_config.json"), "epochs": 1},
    }
    task["students"]["both"] = {
        "teachers": ["big", "small"],
        "weighting": {"method": "validation"},
        "loss": {"hidden": 1.0, "hidden_map": {1: {"big": 2, "small": 1}}},
    }
    return config


def ready(config: dict, workdir: Path | None = None) -> dict:
    """As Snakemake hands it over: defaults merged, validated and filled, checked."""
    apply_defaults(config, workdir)
    validate(config, str(SCHEMA))
    check_config(config, workdir)
    return config


def ready_plan(config: dict) -> Plan:
    """The plan of a config as a user wrote it."""
    return Plan(ready(config))
