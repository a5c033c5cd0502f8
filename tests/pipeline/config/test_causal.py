"""Causal config checks: the family from the models' configs or the task's key, causal LMs only in a causal task,
on-policy students with one teacher, no hidden-state loss, one tokenizer, no export; and the specs of other tasks
unchanged (they carry no family)."""

import copy

import pytest

from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.pipeline.conftest import ready, ready_plan

LENGTHS = {"max_length": 48, "max_target_length": 8}
BASE = {
    "experiment": "causal",
    "tasks": {
        "qa": {
            "type": "generative_qa",
            "data": {"loader": "synthetic_finance_qa", "options": {"rows": 60}},
            "teachers": {"big": {"model": "tiny:llama-l2-h32", **LENGTHS, "top_k": 8}},
            "student_defaults": {
                "model": "tiny:llama-l2-h32",
                **LENGTHS,
                "init": {"method": "teacher_layers", "every": 2},
            },
            "students": {"gold_only": {"teachers": []}, "distilled": {"teachers": ["big"]}},
        }
    },
}


def config(mutate=None) -> dict:
    changed = copy.deepcopy(BASE)
    if mutate:
        mutate(changed["tasks"]["qa"])
    return changed


def test_the_family_comes_from_the_models_and_reaches_every_spec_of_the_task():
    resolved = ready(config())
    assert resolved["tasks"]["qa"]["family"] == "causal"
    plan = ready_plan(config())
    specs = StageSpecs(plan)
    assert specs.distill("qa", "distilled").family == "causal"
    teacher = specs.distill("qa", "distilled").teachers[0].model  # the fine-tuned teacher's directory
    assert (
        specs.evaluate("qa", "student", "gold_only").reference
        == teacher
        == plan.agreement_models("qa", "student", "gold_only")[0]
    )
    assert specs.evaluate("qa", "teacher", "big").reference is None


def test_an_instruction_task_is_causal_by_its_type():
    def instruction(task):
        task.update(type="instruction", data={"loader": "generic", "options": {"path": "rows.jsonl"}})

    resolved = ready(config(instruction))
    assert "family" not in resolved["tasks"]["qa"]  # the type's own family: nothing to record
    assert StageSpecs(ready_plan(config(instruction))).distill("qa", "distilled").family is None


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (lambda t: t.update(family="classification"), "tasks.qa.family", "does not learn generative_qa"),
        (
            lambda t: t["students"]["distilled"].update(model="tiny:t5-l1-h16"),
            "tasks.qa.students.distilled.model",
            "is not a decoder-only causal LM",
        ),
        (
            lambda t: t.update(family="text2text"),
            "tasks.qa.teachers.big.model",
            "is a decoder-only causal LM; a task learnt by causal LMs says family: causal",
        ),
        (
            lambda t: (
                t["students"]["distilled"].update(loss={"on_policy": 0.5}, teachers=["big", "other"])
                or t["teachers"].update(other={"model": "tiny:llama-l1-h32", **LENGTHS})
            ),
            "tasks.qa.students.distilled.loss.on_policy",
            "one teacher online, not 2",
        ),
        (
            lambda t: t["students"]["distilled"].update(loss={"hidden": 0.5}),
            "tasks.qa.students.distilled.loss.hidden",
            "causal students learn no hidden states",
        ),
        (
            lambda t: t["students"]["distilled"].update(export=["torch-int8"]),
            "tasks.qa.students.distilled.export",
            "causal models are not exported: the student's directory is the hand-off",
        ),
        (
            lambda t: t["students"]["distilled"].update(teacher_mode="online"),
            "tasks.qa.students.distilled.teacher_mode",
            "generative_qa students learn from the top-k cache",
        ),
    ],
    ids=[
        "family-of-another-type",
        "t5-in-causal-task",
        "causal-in-text2text",
        "on-policy-two-teachers",
        "hidden-loss",
        "export",
        "online-mode",
    ],
)
def test_causal_config_errors_name_the_key(mutate, key: str, problem: str):
    with pytest.raises(ConfigError) as error:
        ready(config(mutate))
    assert error.value.key == key and problem in str(error.value)


def test_on_policy_is_refused_for_other_families():
    from tests.pipeline.conftest import text2text_config

    with pytest.raises(ConfigError) as error:
        ready(
            text2text_config(
                lambda c: c["tasks"]["qa"]["students"]["stage1"].setdefault("loss", {}).update(on_policy=0.5)
            )
        )
    assert error.value.key == "tasks.qa.students.stage1.loss.on_policy"
    assert "on-policy distillation is for causal students" in str(error.value)


def test_a_messages_column_with_prompt_columns_is_refused():
    def both(task):
        task.update(
            type="instruction",
            data={"loader": "generic", "options": {"path": "rows.jsonl", "messages_column": "m", "prompt_column": "p"}},
        )

    with pytest.raises(ConfigError) as error:
        ready(config(both))
    assert error.value.key == "tasks.qa.data.options.messages_column"
