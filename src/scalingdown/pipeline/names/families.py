"""The model families and the task types each one serves: the one place that says which family a task belongs to.

A family is the kind of model a task is learned with, and one package of code (`scalingdown.families.<name>`,
behind the interface `scalingdown.families.interface.ModelFamily`); this table is what the pipeline layer knows of
it before any job runs, so that the checks, keys and specs ask `family_of(task_type)` instead of testing task
types. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSIFICATION = "classification"
TEXT2TEXT = "text2text"


@dataclass(frozen=True)
class FamilyInfo:
    """What the pipeline layer knows of a model family.

    `generative`: its models write text: a task's rows are rendered through prompt templates into source and target
    texts (the specs' `TextTask`), and its teachers cache the top-k distribution of every target token (`topk` caches,
    `TopkLogitsSpec`) rather than logits per row. `export_variants`: the shipping variants its students can be
    exported to. `teacher_ensemble`: its tasks with several teachers get the `teacher_ensemble` record.
    `benchmark_unit`: what one timed call of a model answers (`text`, `question`).
    """

    name: str
    task_types: tuple[str, ...]
    generative: bool
    export_variants: tuple[str, ...]
    teacher_ensemble: bool
    benchmark_unit: str


FAMILIES: dict[str, FamilyInfo] = {
    CLASSIFICATION: FamilyInfo(
        CLASSIFICATION,
        ("classification",),
        generative=False,
        export_variants=("onnx-fp32", "onnx-int8", "onnx-int8-static", "torch-int8"),
        teacher_ensemble=True,
        benchmark_unit="text",
    ),
    TEXT2TEXT: FamilyInfo(
        TEXT2TEXT,
        ("multiple_choice", "generative_qa", "math"),
        generative=True,
        export_variants=("torch-int8",),
        teacher_ensemble=False,
        benchmark_unit="question",
    ),
}

# Every task type, in the families' order (the schema's `type` enum lists the same).
TASK_TYPES = tuple(task_type for family in FAMILIES.values() for task_type in family.task_types)
_BY_TASK_TYPE = {task_type: family for family in FAMILIES.values() for task_type in family.task_types}


def family_of(task_type: str) -> FamilyInfo:
    """The family a task type is learned with; `KeyError` naming the known types for another one."""
    if task_type not in _BY_TASK_TYPE:
        raise KeyError(f"unknown task type {task_type!r}; expected one of {', '.join(TASK_TYPES)}")
    return _BY_TASK_TYPE[task_type]


def is_generative(task_type: object) -> bool:
    """Whether `task_type` names a task of a generative family (False for anything that is not a task type)."""
    return isinstance(task_type, str) and task_type in _BY_TASK_TYPE and _BY_TASK_TYPE[task_type].generative
