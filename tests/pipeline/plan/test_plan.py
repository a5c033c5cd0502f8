"""The plan's lookups by wildcard value: a value the experiment does not know is one clear error."""

from __future__ import annotations

import pytest

from scalingdown.pipeline.errors import UnknownKey, UserError
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.pipeline.conftest import resolved_tiny_config

# lookup, what the message calls it, the values it knows (from the tiny plan)
LOOKUPS = {
    "task": (lambda plan, key: plan.task(key), "task", lambda plan: ["sentiment"]),
    "data_by_key": (
        lambda plan, key: plan.data_by_key(key),
        "prepared data",
        lambda plan: [plan.tasks["sentiment"].data_key],
    ),
    "teacher_by_key": (
        lambda plan, key: plan.teacher_by_key(key),
        "teacher",
        lambda plan: [plan.tasks["sentiment"].teachers["big"].key],
    ),
    "teacher_by_logits_key": (
        lambda plan, key: plan.teacher_by_logits_key(key),
        "teacher logit cache",
        lambda plan: [plan.tasks["sentiment"].teachers["big"].logits_key],
    ),
    "student_by_init_key": (
        lambda plan, key: plan.student_by_init_key(key),
        "student initialisation",
        lambda plan: sorted({s.init_key for s in plan.tasks["sentiment"].students.values()}),
    ),
    "student": (
        lambda plan, key: plan.student("sentiment", key),
        "student of task 'sentiment'",
        lambda plan: ["distilled", "gold_only", "untrained"],
    ),
    "teacher": (lambda plan, key: plan.teacher("sentiment", key), "teacher of task 'sentiment'", lambda plan: ["big"]),
    "stage spec": (lambda plan, key: StageSpecs(plan).distill("sentiment", key), "student of task 'sentiment'", None),
}


@pytest.mark.parametrize(("lookup", "what", "known"), LOOKUPS.values(), ids=LOOKUPS.keys())
def test_an_unknown_value_names_itself_and_the_known_ones(lookup, what: str, known):
    plan = Plan(resolved_tiny_config())
    with pytest.raises(UnknownKey) as error:
        lookup(plan, "ghost")
    message = str(error.value)
    assert message.startswith(f"experiment 'tiny' has no {what} 'ghost' (known: ")
    if known is not None:
        assert message == f"experiment 'tiny' has no {what} 'ghost' (known: {', '.join(known(plan))})"
    assert isinstance(error.value, UserError) and isinstance(error.value, KeyError)


def test_an_unknown_task_of_a_student_lookup_names_the_task():
    with pytest.raises(UnknownKey, match=r"^experiment 'tiny' has no task 'ghost' \(known: sentiment\)$"):
        Plan(resolved_tiny_config()).student("ghost", "distilled")


def test_every_lookup_finds_what_the_plan_holds():
    plan = Plan(resolved_tiny_config())
    task = plan.tasks["sentiment"]
    teacher, student = task.teachers["big"], task.students["distilled"]
    assert plan.task("sentiment") is task and plan.data_by_key(task.data_key).seed == task.seed
    assert plan.teacher_by_key(teacher.key) is teacher and plan.teacher_by_logits_key(teacher.logits_key) is teacher
    assert plan.teacher("sentiment", "big") is teacher and plan.student("sentiment", "distilled") is student
    assert plan.student_by_init_key(student.init_key).init_key == student.init_key


def test_a_teacher_that_is_not_fine_tuned_has_no_finetune_spec():
    config = resolved_tiny_config()
    config["tasks"]["sentiment"]["teachers"]["big"]["finetune"] = False
    plan = Plan(config)
    key = plan.tasks["sentiment"].teachers["big"].key
    with pytest.raises(UnknownKey, match=r"^teacher 'big' of task 'sentiment' is not fine-tuned \(finetune: false\)$"):
        StageSpecs(plan).finetune(key)


def test_a_local_benchmark_job_asks_for_every_core_and_a_cluster_one_for_its_threads():
    config = resolved_tiny_config()
    config["threads"], config["benchmark"]["threads"] = 1, 2
    plan = Plan(config)
    assert plan.benchmark_cores(local_cores=8) == 8, "locally nothing else may run beside the timed models"
    assert plan.benchmark_cores(local_cores=None) == 2, "on a cluster: the larger of `threads` and benchmark.threads"
    config["threads"] = 4
    assert Plan(config).benchmark_cores(local_cores=2) == 4
