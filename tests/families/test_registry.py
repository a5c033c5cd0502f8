"""The model families: every family the pipeline layer names has one package behind the interface, registered once,
and every task type belongs to exactly one family."""

from __future__ import annotations

import inspect

import pytest
import yaml

from scalingdown.families import registry
from scalingdown.families.interface import ModelFamily
from scalingdown.pipeline.names.families import FAMILIES, TASK_TYPES, family_of
from scalingdown.pipeline.names.tasks import PRIMARY_METRIC
from tests.conftest import REPO


def test_every_family_of_the_pipeline_layer_has_its_code_registered_and_no_other():
    assert set(registry.FAMILIES) == set(FAMILIES)
    for name, family in registry.FAMILIES.items():
        assert family.info is FAMILIES[name]
        assert family.__name__ == f"scalingdown.families.{name}.family"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_module_has_every_member_of_the_interface_with_its_parameters(name: str):
    family = registry.FAMILIES[name]
    members = [member for member in vars(ModelFamily) if not member.startswith("_")]
    assert "fit_student" in members and "cache_teacher" in members
    for member in members:
        wanted = [p for p in inspect.signature(getattr(ModelFamily, member)).parameters if p != "self"]
        assert list(inspect.signature(getattr(family, member)).parameters) == wanted, member


def test_every_task_type_belongs_to_one_family_and_the_registry_finds_its_code():
    assert sorted(TASK_TYPES) == sorted(PRIMARY_METRIC)
    assert sum(len(family.task_types) for family in FAMILIES.values()) == len(set(TASK_TYPES))
    assert registry.family_for("classification") is registry.FAMILIES["classification"]
    assert registry.family_for("generative_qa").info.name == "text2text"
    with pytest.raises(KeyError, match="unknown task type 'tagging'; expected one of classification"):
        family_of("tagging")


def test_the_schema_lists_the_task_types_of_the_families():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["$defs"]["task"]["properties"]["type"]["enum"] == list(TASK_TYPES)
