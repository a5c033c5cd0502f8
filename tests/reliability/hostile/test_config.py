"""Generated hostile configs (issue 27): every value the schema describes, at and past its bounds and of every type;
names, labels, prompts and paths of any printable Unicode; the structure of the YAML itself. The config is checked
in-process by `validate_config`, the function the Snakefile calls, and an accepted config must build its plan and
every job's spec, each spec surviving its JSON round trip: accepted and usable, or refused with one line naming a
key, never a traceback."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from scalingdown.pipeline.config.validation import validate_config
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.pipeline.specs.codec import parse_spec
from scalingdown.pipeline.specs.stage_table import STAGES
from tests.conftest import REPO, TINY_CONFIG
from tests.reliability.hostile.conftest import (
    examples,
    hostile_text,
    numbers_near,
    one_line,
    round_trip_yaml,
    wrong_types,
    yaml_values,
)

SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
TINY = yaml.safe_load(TINY_CONFIG.read_text(encoding="utf-8"))
# The member of the tiny config that stands for "any name" under each map of the schema.
INSTANCES = {"tasks": "sentiment", "teachers": "big", "students": "distilled", "hidden_map": "1", "labels": "LABEL_0"}


# -- the schema's leaves ------------------------------------------------------------------------------------------
def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$ref` (and the `$ref`s that reference leads to) merged in, properties of both kept."""
    merged = dict(schema)
    while "$ref" in merged:
        target: Any = SCHEMA
        for part in merged.pop("$ref").removeprefix("#/").split("/"):
            target = target[part]
        properties = {**target.get("properties", {}), **merged.get("properties", {})}
        merged = {**target, **merged}
        if properties:
            merged["properties"] = properties
    return merged


def _leaves(schema: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(config path, schema) of every value the schema describes; `*` stands for a name, `[]` for a list element."""
    schema = _resolve(schema)
    properties = schema.get("properties", {})
    for name, child in properties.items():
        yield from _leaves(child, (*path, name))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _leaves(extra, (*path, "*"))
    if isinstance(schema.get("items"), dict) and len(path) < 12:
        yield from _leaves(schema["items"], (*path, "[]"))
    if not properties and not isinstance(extra, dict):
        yield path, schema
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _leaves(option, path)


def _grouped() -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """The schemas of each config path (several where the schema allows several forms: `anyOf`, `oneOf`)."""
    found: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for path, schema in _leaves(SCHEMA):
        found.setdefault(path, []).append(schema)
    return found


LEAVES = sorted(_grouped().items())


def _bounds(schemas: list[dict[str, Any]]) -> list[float]:
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "minLength")
    return [schema[key] for schema in schemas for key in keys if key in schema]


def _values_for(schemas: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Values at and past the schemas' bounds, their enum values, text for their strings, and every other type."""
    options: list[st.SearchStrategy[Any]] = [numbers_near(_bounds(schemas))] if _bounds(schemas) else []
    for schema in schemas:
        if "enum" in schema:
            options.append(st.sampled_from(schema["enum"]))
        if "const" in schema:
            options.append(st.just(schema["const"]))
        if "pattern" in schema:
            options.append(st.from_regex(schema["pattern"], fullmatch=True).map(lambda text: text[:40]))
        if schema.get("type") == "array":
            options.append(st.lists(numbers_near(_bounds(schemas)), max_size=3))
    return st.one_of([*options, wrong_types(), hostile_text(), numbers_near([])])


def _set(config: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put `value` at `path` (names by `INSTANCES`, list elements at index 0), creating what is missing."""
    node: Any = config
    parts = [INSTANCES.get(path[index - 1], "x") if part == "*" else part for index, part in enumerate(path)]
    for index, part in enumerate(parts[:-1]):
        following = parts[index + 1]
        if part == "[]":
            continue
        if following == "[]":
            if not isinstance(node.get(part), list) or not node[part]:
                node[part] = [None]
            if index + 2 == len(parts):
                node[part][0] = value
                return
            if not isinstance(node[part][0], dict):
                node[part][0] = {}
            node = node[part][0]
            continue
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


# -- the invariant ------------------------------------------------------------------------------------------------
KEY = re.compile(r"^config key `([^`]+)`: ")


def _accepted_or_one_line(raw: Any, workdir: Path) -> str | None:
    """None when the config is accepted (and its plan and every job's spec built and round-tripped), else the one
    line it is refused with, which names a key."""
    config = copy.deepcopy(raw)
    try:
        validate_config(config, workdir, SCHEMA_PATH)
    except ConfigError as error:
        message = one_line(error)
        assert KEY.match(message), message
        return message
    _every_spec(config)
    return None


def _every_spec(config: dict[str, Any]) -> None:
    """Build the plan and every job's spec; each parses back from its JSON to the same spec."""
    plan = Plan(config)
    specs = StageSpecs(plan)
    built = [specs.report()]
    for data in plan.data_plans():
        built.append(specs.prepare(data.key))
    for task in plan.tasks.values():
        for teacher in task.teachers.values():
            if teacher.finetuned and not teacher.candidates:
                built.append(specs.finetune(teacher.key))
            built.append(specs.logits(teacher.logits_key))
        for student in task.students.values():
            built.append(specs.init(student.init_key))
            built.append(specs.distill(task.folder, student.name))
            built.append(specs.evaluate(task.folder, "student", student.name))
    for spec in built:
        stage = next(stage for stage in STAGES.values() if type(spec) in stage.spec)
        assert parse_spec(stage.spec, json.loads(spec.to_json())) == spec


@pytest.mark.parametrize(("path", "schemas"), LEAVES, ids=[".".join(path) for path, _ in LEAVES])
@examples(2)
@given(data=st.data())
def test_every_config_value_at_and_past_its_bounds_is_accepted_or_refused_in_one_line(tmp_path, path, schemas, data):
    config = copy.deepcopy(TINY)
    value = data.draw(_values_for(schemas), label=".".join(path))
    _set(config, path, value)
    _accepted_or_one_line(round_trip_yaml(config), tmp_path)


# Loader options the schema leaves open (`data.options` is any mapping): each with the bounds its loader's check
# (`pipeline.config.value_checks`, `pipeline.names.loader_registry`) holds it to.
LOADER_OPTIONS = [
    ("synthetic_finance", "rows", [1]),
    ("synthetic_finance", "label_noise", [0, 1]),
    ("synthetic_finance", "label_mix.negative", [0, 1]),
    ("synthetic_finance", "seed", [0, 2**32 - 1]),
    ("synthetic_finance_qa", "rows", [10]),
    ("synthetic_finance_qa", "choices", [2, 10]),
    ("synthetic_finance_qa", "seed", [0, 2**32 - 1]),
    ("generic", "path", []),
    ("generic", "files.train", []),
    ("generic", "text_column", []),
    ("generic", "label_column", []),
    ("generic", "label_names", []),
    ("generic", "format", []),
    ("generic", "id_column", []),
    ("generic", "hub.id", []),
    ("generic", "hub.splits.train", []),
    ("phrasebank", "encoding", []),
    ("phrasebank", "labels_path", []),
]


def _with_loader(loader: str, workdir: Path) -> dict[str, Any]:
    """A config whose task reads its data with `loader` (files written into `workdir`)."""
    if loader == "synthetic_finance_qa":
        return copy.deepcopy(SEQ2SEQ)
    config = copy.deepcopy(TINY)
    if loader == "generic":
        (workdir / "data.csv").write_text("text,label\nprofits rose,positive\nsales fell,negative\nflat,neutral\n")
        config["tasks"]["sentiment"]["data"] = {"loader": "generic", "options": {"path": str(workdir / "data.csv")}}
    elif loader == "phrasebank":
        (workdir / "Sentences.txt").write_text("profits rose@positive\n", encoding="latin-1")
        config["tasks"]["sentiment"]["data"] = {
            "loader": "phrasebank",
            "options": {"path": str(workdir / "Sentences.txt")},
        }
    return config


@pytest.mark.parametrize(
    ("loader", "option", "bounds"), LOADER_OPTIONS, ids=[f"{loader}.{option}" for loader, option, _ in LOADER_OPTIONS]
)
@examples(2)
@given(data=st.data())
def test_every_loader_option_at_and_past_its_bounds_is_accepted_or_refused_in_one_line(
    tmp_path, loader, option, bounds, data
):
    config = _with_loader(loader, tmp_path)
    value = data.draw(st.one_of(numbers_near(bounds), wrong_types(), hostile_text()), label=option)
    task = next(iter(config["tasks"]))
    _set(config, ("tasks", task, "data", "options", *option.split(".")), value)
    _accepted_or_one_line(round_trip_yaml(config), tmp_path)


NAMED_TEXTS = {
    "experiment name": ("experiment",),
    "task name": None,
    "teacher name": None,
    "student name": None,
    "label": ("tasks", "sentiment", "labels", "[]"),
    "data file path": ("tasks", "sentiment", "data", "options", "path"),
    "model path": ("tasks", "sentiment", "students", "distilled", "model"),
    "hyperparameters path": ("hyperparameters",),
    "teacher label map": ("tasks", "sentiment", "teachers", "big", "labels", "*"),
    "data loader": ("tasks", "sentiment", "data", "loader"),
}


def _rename(config: dict[str, Any], where: tuple[str, ...], old: str, new: str) -> None:
    node: Any = config
    for part in where:
        node = node[part]
    node[new] = node.pop(old)


@pytest.mark.parametrize("what", list(NAMED_TEXTS))
@examples(6)
@given(text=hostile_text(max_size=30))
def test_names_labels_and_paths_of_any_printable_unicode_are_accepted_or_refused_in_one_line(tmp_path, what, text):
    config = copy.deepcopy(TINY)
    if what == "task name":
        _rename(config, ("tasks",), "sentiment", text)
    elif what == "teacher name":
        _rename(config, ("tasks", "sentiment", "teachers"), "big", text)
        config["tasks"]["sentiment"]["students"]["distilled"]["teachers"] = [text]
    elif what == "student name":
        _rename(config, ("tasks", "sentiment", "students"), "gold_only", text)
    elif what == "data file path":
        config["tasks"]["sentiment"]["data"] = {"loader": "generic", "options": {"path": text}}
    else:
        _set(config, NAMED_TEXTS[what], text)
    _accepted_or_one_line(round_trip_yaml(config), tmp_path)


SEQ2SEQ = {
    "experiment": "qa",
    "tasks": {
        "qa": {
            "type": "generative_qa",
            "data": {"loader": "synthetic_finance_qa", "options": {"rows": 40}},
            "teachers": {"t5": {"model": "tiny:t5-l2-h32", "max_length": 32}},
            "students": {"small": {"model": "tiny:t5-l2-h32", "teachers": ["t5"], "max_length": 32}},
        }
    },
}


@examples(15)
@given(source=hostile_text(max_size=40), target=hostile_text(max_size=40))
def test_prompts_of_any_text_are_accepted_or_refused_in_one_line(tmp_path, source, target):
    config = copy.deepcopy(SEQ2SEQ)
    config["tasks"]["qa"]["prompt"] = {"source": source, "target": target}
    _accepted_or_one_line(round_trip_yaml(config), tmp_path)


def _subtrees(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _subtrees(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _subtrees(child, (*path, index))


TINY_PATHS = list(_subtrees(TINY))[1:]


@examples(25)
@given(where=st.sampled_from(TINY_PATHS), change=st.sampled_from(["replace", "delete"]), value=yaml_values())
def test_any_yaml_structure_in_place_of_any_part_of_the_config_is_accepted_or_refused_in_one_line(
    tmp_path, where, change, value
):
    config = copy.deepcopy(TINY)
    node: Any = config
    for part in where[:-1]:
        node = node[part]
    if change == "delete":
        del node[where[-1]]
    else:
        node[where[-1]] = value
    _accepted_or_one_line(round_trip_yaml(config), tmp_path)


@examples(10)
@given(document=yaml_values())
def test_any_yaml_document_as_the_whole_config_is_refused_in_one_line(tmp_path, document):
    if not isinstance(document, dict):
        return  # Snakemake itself refuses a config file without keys at the top level, before the Snakefile runs
    assert _accepted_or_one_line(round_trip_yaml(document), tmp_path) is not None
