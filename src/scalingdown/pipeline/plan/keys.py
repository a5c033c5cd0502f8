"""The keys of shared artefacts: a name and a hash of everything that determines the artefact.

Two experiments that agree on what determines an artefact get the same key, so they share it under
`results/cache/`; anything else (a student setting, the experiment name) never enters a key. Changing
what a key covers reruns every stage that builds that kind of artefact, so these functions change
only deliberately (and `paths.FORMAT_VERSIONS` marks changes of what a stage writes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scalingdown.pipeline import paths
from scalingdown.pipeline.canonical import short_hash
from scalingdown.pipeline.config.settings import cache_settings, finetune_settings
from scalingdown.pipeline.names.families import family_of
from scalingdown.pipeline.specs.builders import init_spec, prepare_spec, text_task


def data_key(
    task_name: str,
    task: Mapping[str, Any],
    seed: int,
    budget: float | None = None,
    transfer: bool = False,
    validation_budget: float | None = None,
) -> str:
    """Prepared data: the hash of the `prepare` spec (loader, options, split, portion, labels, seed, and the label
    budget, transfer source and validation budget when set)."""
    spec = prepare_spec(task_name, task, seed, budget, transfer, validation_budget)
    return f"{task_name}-{short_hash(spec.to_dict())}"


def init_key(task_name: str, task: Mapping[str, Any], student: Mapping[str, Any], seed: int) -> str:
    """A student's starting weights: the hash of its `init_student` spec."""
    return f"{task_name}-{short_hash(init_spec(task, student, seed).to_dict())}"


def teacher_key(
    task_name: str,
    teacher_name: str,
    task: Mapping[str, Any],
    teacher: Mapping[str, Any],
    data: str,
    seed: int,
    launch_spec: Callable[[str], dict[str, Any]],
) -> str:
    """A (fine-tuned) teacher: its data, model, max length, fine-tune settings and how training is launched."""
    finetune = teacher["finetune"]
    identity: dict[str, Any] = {
        "data": data,
        "labels": task.get("labels"),
        "model": teacher["model"],
        "max_length": teacher["max_length"],
        "finetune": finetune_settings(finetune),
        "launch": launch_spec("finetune_teacher") if finetune is not False else None,
        "seed": seed,
        "format": paths.FORMAT_VERSIONS["teacher"],
    }
    text = text_task(task, teacher)
    if text is not None:
        identity.update(type=task["type"], **text.to_dict())
    if teacher.get("labels"):
        identity["label_map"] = teacher["labels"]
    return f"{task_name}.{teacher_name}-{short_hash(identity)}"


def selection_key(task_name: str, teacher_name: str, candidates: list[str], metric: str) -> str:
    """A teacher selected among fine-tuning candidates (`config.candidates`): its candidates' keys, in selection
    order, and the validation score that ranks them; it ends in `paths.SELECTED_SUFFIX`."""
    identity = {"candidates": candidates, "metric": metric, "format": paths.FORMAT_VERSIONS["teacher"]}
    return f"{task_name}.{teacher_name}-{short_hash(identity)}{paths.SELECTED_SUFFIX}"


def logits_key(
    key: str,
    task: Mapping[str, Any],
    teacher: Mapping[str, Any],
    hidden_layers: tuple[int, ...],
    covered: str | None = None,
) -> str:
    """A teacher's cache: the teacher's key, plus the cache settings and format (a generative family's top-k cache) or
    the pooled hidden layers; `covered` is the key of the data the cache covers when it is not the data the teacher
    was fine-tuned on (the students' labelled and transfer rows of one label budget)."""
    if covered is not None:
        key = f"{key}.on-{covered}"
    if family_of(task["type"]).generative:
        return f"{key}.topk-{short_hash({**cache_settings(teacher), 'format': paths.FORMAT_VERSIONS['topk']})}"
    if hidden_layers:
        return f"{key}.h" + "_".join(str(layer) for layer in hidden_layers)
    return key
