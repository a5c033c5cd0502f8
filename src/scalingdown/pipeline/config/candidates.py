"""Teacher selection: a teacher's `finetune` may list candidate values for its hyper-parameters.

Each combination of the listed values (their Cartesian product) is fine-tuned as a teacher of its own, with the
key its one-value settings give it (`pipeline.plan.keys.teacher_key`), so a candidate equal to a teacher of another
experiment is shared with it. The `select_teacher` stage then keeps the candidate whose saved model scored best
on the validation split (`selection_metric`) as the teacher the rest of the workflow uses. A teacher without lists
is planned as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from scalingdown.pipeline.errors import KeyProblem
from scalingdown.pipeline.names.tasks import PRIMARY_METRIC

# The fine-tuning keys that may list candidates, in the order the product is taken (the first varies slowest).
CANDIDATE_KEYS = (
    "epochs",
    "learning_rate",
    "batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "warmup_ratio",
)


def listed(finetune: Mapping[str, Any] | bool) -> dict[str, list[Any]]:
    """The hyper-parameters of a teacher's `finetune` that list candidates, with their values (empty: none)."""
    if not isinstance(finetune, Mapping):
        return {}
    return {key: list(finetune[key]) for key in CANDIDATE_KEYS if isinstance(finetune.get(key), list)}


def candidates(finetune: Mapping[str, Any] | bool) -> list[dict[str, Any]]:
    """Each candidate's one-value `finetune` settings, in selection order (ties go to the earlier one); empty when
    nothing is listed."""
    lists = listed(finetune)
    if not lists or not isinstance(finetune, Mapping):
        return []
    return [{**finetune, **dict(zip(lists, values, strict=True))} for values in itertools.product(*lists.values())]


def varied(finetune: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the listed hyper-parameters that make `candidate` what it is (what the report shows)."""
    return {key: candidate[key] for key in listed(finetune)}


def selection_metric(task_type: str) -> tuple[str, bool]:
    """The validation score candidates are ranked by, as the training history logs it, and whether higher is
    better: the task type's primary metric, the one that selected each candidate's checkpoint."""
    return f"eval_{PRIMARY_METRIC[task_type]}", True


def _finetune_settings(config: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(dotted key, mapping) of every `teacher_defaults.finetune` and teacher `finetune` of a config that may not
    have passed the schema yet (anything that is not a mapping is left to the schema)."""
    tasks = config.get("tasks")
    for task_name, task in (tasks if isinstance(tasks, Mapping) else {}).items():
        if not isinstance(task, Mapping):
            continue
        members = {"teacher_defaults": task.get("teacher_defaults")}
        teachers = task.get("teachers")
        if isinstance(teachers, Mapping):
            members.update({f"teachers.{name}": teacher for name, teacher in teachers.items()})
        for where, member in members.items():
            finetune = member.get("finetune") if isinstance(member, Mapping) else None
            if isinstance(finetune, Mapping):
                yield f"tasks.{task_name}.{where}.finetune", finetune


def candidate_list_problem(config: Mapping[str, Any]) -> KeyProblem | None:
    """The first list under a teacher's `finetune` (or `teacher_defaults.finetune`) that is empty or belongs to a key
    that cannot list candidates, as (dotted key, problem); None when there is none. Runs before the schema check,
    whose messages for these cases do not say what is allowed."""
    for prefix, finetune in _finetune_settings(config):
        for key, value in finetune.items():
            if isinstance(value, list) and key not in CANDIDATE_KEYS:
                return KeyProblem(
                    f"{prefix}.{key}", f"only {', '.join(CANDIDATE_KEYS)} may list candidates (teacher selection)"
                )
            if value == []:
                return KeyProblem(f"{prefix}.{key}", "an empty list of candidates: list at least one value")
    return None
