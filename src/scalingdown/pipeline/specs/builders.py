"""The specs built from a task's and a member's config alone, without the plan: shared by the plan's cache keys
(`plan.keys` hashes the `prepare` and `init_student` specs) and by `plan.stage_specs`, which builds every job's spec.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scalingdown.pipeline import paths
from scalingdown.pipeline.config.settings import text2text_setting
from scalingdown.pipeline.names.families import family_of, spec_family
from scalingdown.pipeline.names.tasks import PRIMARY_METRIC, prompt_for
from scalingdown.pipeline.specs.definitions import (
    DataSpec,
    InitSettings,
    InitSpec,
    PrepareSpec,
    TextTask,
    TrainingSpec,
    TransferSpec,
)


def text_task(task: Mapping[str, Any], member: Mapping[str, Any], scoring: bool = False) -> TextTask | None:
    """The prompt and target length of a teacher or student of a generative family's task (None for classification);
    with
    `scoring` (the stages that score options: evaluate, benchmark) also the task's `option_score`, which training
    and the caches never see, so that changing it reruns only those stages."""
    if not family_of(task["type"]).generative:
        return None
    return TextTask(
        prompt=prompt_for(task["type"], task.get("prompt")),
        max_target_length=text2text_setting(member, "max_target_length"),
        option_score=task.get("option_score", "sum") if scoring else "sum",
    )


def task_family(task: Mapping[str, Any]) -> str | None:
    """What the stage specs of a task record of its family (`names.families.spec_family`: None unless the task is
    learnt by another family than its type's own)."""
    return spec_family(task["type"], task.get("family"))


def remote_code(*members: Mapping[str, Any]) -> bool:
    """Whether a stage loads a model whose config turns `trust_remote_code` on."""
    return any(member.get("trust_remote_code") for member in members)


def prepare_spec(
    task_name: str,
    task: Mapping[str, Any],
    seed: int,
    budget: float | None = None,
    transfer: bool = False,
    validation_budget: float | None = None,
) -> PrepareSpec:
    """The `prepare` spec of one task's data: at `seed`, with `budget` of the training labels (None: all; see
    `config.label_budgets.normalised`), with `transfer` the task's `data.transfer` text appended unlabelled, and with
    `validation_budget` a share of the validation labels."""
    data = {
        key: value
        for key, value in task["data"].items()
        if key not in ("label_budget", "transfer", "validation_budget")
    }
    source = task["data"].get("transfer") if transfer else None
    return PrepareSpec(
        task=task_name,
        type=task["type"],
        labels=task.get("labels"),
        data=replace(
            DataSpec.from_dict(data, f"tasks.{task_name}.data"),
            label_budget=budget,
            validation_budget=validation_budget,
            transfer=None if source is None else TransferSpec.from_dict(source, f"tasks.{task_name}.data.transfer"),
        ),
        seed=seed,
        format=paths.FORMAT_VERSIONS["data"],
    )


def init_spec(task: Mapping[str, Any], student: Mapping[str, Any], seed: int) -> InitSpec:
    """The `init_student` spec of one student's starting weights at `seed`."""
    return InitSpec(
        type=task["type"],
        model=student["model"],
        init=InitSettings.from_dict(student["init"]),
        labels=task.get("labels"),
        seed=seed,
        format=paths.FORMAT_VERSIONS["student"],
        trust_remote_code=remote_code(student),
        family=task_family(task),
    )


def training_spec(
    task_type: str, settings: Mapping[str, Any], launch: Mapping[str, Any], seed: int | None = None
) -> TrainingSpec:
    """A training spec from the config's training settings and the launch settings; `seed` fills an unset seed.
    Checkpoints are selected by the task type's primary metric."""
    merged = {**({"seed": seed} if seed is not None else {}), **settings, **launch}
    return TrainingSpec.from_dict({**merged, "selection_metric": PRIMARY_METRIC[task_type]}, "training")
