"""Student shape sweeps: a list of layer lists or of lengths expands into one student per shape, each planned like a
configured student (same specs and keys), and what a sweep cannot plan is refused naming the configured key."""

from __future__ import annotations

import copy

import pytest

from scalingdown.pipeline.config.shapes import Shape, expand_students, shaped_students, shapes
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.pipeline.conftest import config_error, ready_plan, set_task_key, tiny_written

TASK = "tasks.sentiment"


def _swept(layers=None, lengths=None, gold: bool = True):
    """The tiny config whose distilled student (and gold-only student, with `gold`) sweep `layers` / `lengths`."""

    def mutate(config: dict) -> None:
        students = config["tasks"]["sentiment"]["students"]
        for name in ("distilled", "gold_only") if gold else ("distilled",):
            if layers is not None:
                students[name]["init"] = {"method": "teacher_layers", "layers": layers}
            if lengths is not None:
                students[name]["max_length"] = lengths

    return tiny_written(mutate)


def test_a_sweep_is_the_product_of_its_lists_named_by_shape():
    student = {"init": {"method": "teacher_layers", "layers": [[0], [0, 1]]}, "max_length": [16, 32]}
    assert shapes(student) == [Shape((0,), 16), Shape((0,), 32), Shape((0, 1), 16), Shape((0, 1), 32)]
    assert [shape.label for shape in shapes(student)] == [
        "layers0-len16",
        "layers0-len32",
        "layers0_1-len16",
        "layers0_1-len32",
    ]
    expanded = expand_students({"plain": {"init": {"layers": [0]}, "max_length": 8}, "swept": student})
    assert list(expanded) == [
        "plain",
        "swept-layers0-len16",
        "swept-layers0-len32",
        "swept-layers0_1-len16",
        "swept-layers0_1-len32",
    ]
    assert expanded["plain"] == {"init": {"layers": [0]}, "max_length": 8}
    assert expanded["swept-layers0_1-len16"]["init"] == {"method": "teacher_layers", "layers": [0, 1]}
    assert expanded["swept-layers0_1-len16"]["max_length"] == 16
    assert shaped_students({"a": {"max_length": [8, 16], "init": {}}})["a-len16"].sweep == "a"


def test_each_shape_is_planned_as_the_student_configured_with_it(tmp_path):
    plan = ready_plan(_swept(layers=[[0], [0, 1]]))
    students = plan.task("sentiment").students
    assert {"distilled-layers0", "distilled-layers0_1", "gold_only-layers0", "gold_only-layers0_1", "untrained"} <= set(
        students
    )
    assert "distilled" not in students and "gold_only" not in students
    assert students["distilled-layers0_1"].baseline == "gold_only-layers0_1"
    assert students["distilled-layers0_1"].role.endswith("; 2 layers [0, 1], 32 tokens)")
    assert plan.sweeps_shapes() and "shape_front" in plan.report_files()
    # the shape's specs and keys are those of a student configured with that shape
    explicit = tiny_written(
        set_task_key("students", "distilled", "init", {"method": "teacher_layers", "layers": [0, 1]})
    )
    other = ready_plan(explicit).task("sentiment").students["distilled"]
    shaped = students["distilled-layers0_1"]
    assert shaped.init_key == other.init_key
    swept_spec = StageSpecs(plan).distill("sentiment", "distilled-layers0_1").to_dict()
    plain_spec = StageSpecs(ready_plan(explicit)).distill("sentiment", "distilled").to_dict()
    assert {**swept_spec, "student": "distilled"} == plain_spec


def test_a_config_without_lists_plans_what_it_did():
    plan = ready_plan(tiny_written(lambda config: None))
    assert set(plan.task("sentiment").students) == {"untrained", "gold_only", "distilled"}
    assert all(student.shape is None for student in plan.task("sentiment").students.values())
    assert not plan.sweeps_shapes() and "shape_front" not in plan.report_files()


def test_a_length_sweep_twins_each_length_with_the_gold_student_of_that_length():
    plan = ready_plan(_swept(lengths=[16, 32]))
    students = plan.task("sentiment").students
    assert students["distilled-len16"].baseline == "gold_only-len16"
    assert students["distilled-len32"].baseline == "gold_only-len32"
    assert StageSpecs(plan).distill("sentiment", "distilled-len16").max_length == 16


def _with(config: dict, name: str, **keys) -> dict:
    config = copy.deepcopy(config)
    config["tasks"]["sentiment"]["students"][name].update(keys)
    return config


CASES = {
    "a-shape-twice": (
        lambda: _swept(lengths=[16, 16], gold=False),
        f"{TASK}.students.distilled.max_length",
        "lists 16 twice",
    ),
    "layer-lists-without-teacher-layers": (
        lambda: _with(_swept(gold=False), "distilled", init={"method": "pretrained", "layers": [[0], [1]]}),
        f"{TASK}.students.distilled.init.layers",
        "needs init.method teacher_layers",
    ),
    "a-layer-outside-one-shape": (
        lambda: _swept(layers=[[0], [0, 5]], gold=False),
        f"{TASK}.students.distilled.init.layers",
        "shape layers0_5: layers [5] do not exist",
    ),
    "a-chain-from-a-swept-student": (
        lambda: _with(
            _swept(lengths=[16, 32], gold=False), "gold_only", init={"method": "student", "student": "distilled"}
        ),
        f"{TASK}.students.gold_only.init.student",
        "sweeps shapes, so there is no one model to start from",
    ),
    "a-baseline-sweeping-other-shapes": (
        lambda: _with(
            _with(_swept(lengths=[16, 32]), "gold_only", max_length=[16, 64]), "distilled", baseline="gold_only"
        ),
        f"{TASK}.students.distilled.baseline",
        "this student's ['len32'] are not among them",
    ),
    "an-empty-length-list": (
        lambda: _swept(lengths=[], gold=False),
        f"{TASK}.students.distilled.max_length",
        "",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_what_a_sweep_cannot_plan_is_refused_naming_the_configured_key(case, tmp_path):
    make, key, problem = CASES[case]
    error = config_error(make(), tmp_path)
    assert error.key == key
    assert problem in error.problem


def test_a_shape_named_like_another_student_is_refused(tmp_path):
    config = _swept(lengths=[16, 32], gold=False)
    config["tasks"]["sentiment"]["students"]["distilled-len16"] = {"teachers": []}
    error = config_error(config, tmp_path)
    assert (
        error.key == f"{TASK}.students.distilled" and "'distilled-len16', which is already configured" in error.problem
    )
