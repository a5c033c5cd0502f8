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
CAUSAL = "causal"


@dataclass(frozen=True)
class FamilyInfo:
    """What the pipeline layer knows of a model family.

    `generative`: its models write text: a task's rows are rendered through prompt templates into source and target
    texts (the specs' `TextTask`), and its teachers cache the top-k distribution of every target token (`topk` caches,
    `TopkLogitsSpec`) rather than logits per row. `export_variants`: the shipping variants its students can be
    exported to. `teacher_ensemble`: its tasks with several teachers get the `teacher_ensemble` record.
    `benchmark_unit`: what one timed call of a model answers (`text`, `question`). `also_learns`: task types of
    another family it learns too when a task says so (`family`, or its models' configs: see
    `config.model_files.causal_members`).
    """

    name: str
    task_types: tuple[str, ...]
    generative: bool
    export_variants: tuple[str, ...]
    teacher_ensemble: bool
    benchmark_unit: str
    also_learns: tuple[str, ...] = ()


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
    CAUSAL: FamilyInfo(
        CAUSAL,
        ("instruction",),
        generative=True,
        export_variants=(),
        teacher_ensemble=False,
        benchmark_unit="question",
        also_learns=("multiple_choice", "generative_qa", "math"),
    ),
}

# Every task type, in the families' order (the schema's `type` enum lists the same).
TASK_TYPES = tuple(task_type for family in FAMILIES.values() for task_type in family.task_types)
_BY_TASK_TYPE = {task_type: family for family in FAMILIES.values() for task_type in family.task_types}


def family_of(task_type: str, family: str | None = None) -> FamilyInfo:
    """The family a task type is learned with: `family` when a task names one (it must learn that type), else the
    type's own; `KeyError` naming what is known for another one."""
    if task_type not in _BY_TASK_TYPE:
        raise KeyError(f"unknown task type {task_type!r}; expected one of {', '.join(TASK_TYPES)}")
    if family is None:
        return _BY_TASK_TYPE[task_type]
    if family not in FAMILIES:
        raise KeyError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    info = FAMILIES[family]
    if task_type not in (*info.task_types, *info.also_learns):
        raise KeyError(f"the {family} family does not learn {task_type} tasks")
    return info


def spec_family(task_type: str, family: str | None) -> str | None:
    """What a stage spec records of a task's family: its name where it is not the task type's own, else None (left
    out of the spec's JSON, so that the specs of every other task stay as they were)."""
    resolved = family_of(task_type, family).name
    return None if resolved == _BY_TASK_TYPE[task_type].name else resolved


def is_generative(task_type: object) -> bool:
    """Whether `task_type` names a task of a generative family (False for anything that is not a task type)."""
    return isinstance(task_type, str) and task_type in _BY_TASK_TYPE and _BY_TASK_TYPE[task_type].generative
