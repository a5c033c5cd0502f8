"""The stages reach a model family only through the registry (`families.registry.family_for`): no stage tests a task
type, a family or the shape of a spec to pick a code path, and only a stage the plan runs for one family's tasks
imports that family's package."""

from __future__ import annotations

import ast

import pytest

from scalingdown.pipeline.names.families import FAMILIES, TASK_TYPES
from tests.conftest import REPO

STAGES = REPO / "src" / "scalingdown" / "stages"
# Stages the plan runs for the tasks of one family only (`FamilyInfo.teacher_ensemble`), and that family.
ONE_FAMILY_STAGES = {"teacher_ensemble": "classification"}
# Deciding a family by hand: testing what family a task type is, or which teacher_logits spec class a spec is.
FAMILY_TESTS = {"family_of", "is_generative", "is_seq2seq", "generative"}
SPEC_CLASSES = {"LogitsSpec", "TopkLogitsSpec"}
NAMES = {*FAMILIES, *TASK_TYPES, "seq2seq", "text-to-text"}


def _branches(source: str) -> list[str]:
    """What in `source` decides a model family itself (docstrings and comments aside)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id in FAMILY_TESTS:
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in FAMILY_TESTS:
            found.append(f".{node.attr}")
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == "text":
            found.append("a test of a spec's `text`")  # a text-to-text prompt as a switch
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            found += [arg.id for arg in ast.walk(node) if isinstance(arg, ast.Name) and arg.id in SPEC_CLASSES]
        elif isinstance(node, ast.Compare):
            found += [
                repr(part.value) for part in ast.walk(node) if isinstance(part, ast.Constant) and part.value in NAMES
            ]
    return found


@pytest.mark.parametrize("stage", sorted(path.stem for path in STAGES.glob("*.py") if path.stem != "__init__"))
def test_no_stage_branches_on_a_model_family(stage: str):
    source = (STAGES / f"{stage}.py").read_text(encoding="utf-8")
    assert _branches(source) == [], f"stages/{stage}.py decides a model family itself"
    imported = {
        node.module.split(".")[2]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scalingdown.families.")
    }
    allowed = {"registry", "interface", *([ONE_FAMILY_STAGES[stage]] if stage in ONE_FAMILY_STAGES else [])}
    assert imported <= allowed, f"stages/{stage}.py imports a family's package: {sorted(imported - allowed)}"


@pytest.mark.parametrize(
    "branch",
    [
        "if spec.text is not None:\n    evaluate_seq2seq(spec)",
        "inputs = rows if family_of(spec.type).generative else texts",
        "if is_seq2seq(spec.type):\n    pass",
        "if isinstance(spec, TopkLogitsSpec):\n    pass",
        "if spec.type == 'classification':\n    pass",
        "if spec.type in ('math', 'generative_qa'):\n    pass",
    ],
)
def test_the_check_finds_each_way_of_branching(branch: str):
    assert _branches(branch)


def test_the_check_leaves_a_dispatch_through_the_registry_alone():
    assert _branches('"""Classification and text-to-text alike."""\nfamily_for(spec.type).fit_student(spec)') == []
