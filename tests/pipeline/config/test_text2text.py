"""Seq2seq config checks, multi-stage chains in the plan, and dry runs of the hub experiments."""

import shutil
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.conftest import REPO, snakemake
from tests.pipeline.conftest import text2text_config
from tests.workflow.conftest import job_counts

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
HUB_EXPERIMENTS = ("trivia", "commonsense", "math")


def _qa(config: dict) -> dict:
    return config["tasks"]["qa"]


def test_a_valid_seq2seq_config_passes():
    check_config(text2text_config())


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (
            lambda c: _qa(c)["students"]["stage2"]["init"].update(student="stage9"),
            "tasks.qa.students.stage2.init.student",
            "'stage9' is not a student",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(init={"method": "student", "student": "stage2"}),
            "tasks.qa.students.stage1.init.student",
            "loops: stage1 → stage2 → stage1",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(train=False),
            "tasks.qa.students.stage2.init.student",
            "'stage1' is not trained",
        ),
        (
            lambda c: _qa(c)["students"]["stage2"].update(model="tiny:t5-l2-h16"),
            "tasks.qa.students.stage2.model",
            "differs from the model of 'stage1'",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(init={"method": "pretrained", "student": "x"}),
            "tasks.qa.students.stage1.init.student",
            "method student needs",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(max_target_length=20),
            "tasks.qa.students.stage1.max_target_length",
            "must equal that of teacher 'base' (16)",
        ),
        (
            lambda c: (
                _qa(c)["teachers"]["base"].update(targets="generated")
                or _qa(c)["students"]["stage1"].update(teachers=["base", "large"])
            ),
            "tasks.qa.students.stage1.teachers",
            "exactly one teacher",
        ),
        (
            lambda c: (
                _qa(c)["data"].update(label_budget=0.1)
                or _qa(c)["students"]["stage1"].update(teachers=["base", "large"])
            ),
            "tasks.qa.students.stage1.teachers",
            "a transfer row's target is its teacher's own generation",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(loss={"hidden": 0.5, "hidden_layers": {"encoder": [[1, 3]]}}),
            "tasks.qa.students.stage1.loss.hidden_layers.encoder",
            "caches no encoder hidden state of layer(s) [3]",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(loss={"hidden": 0.5}),
            "tasks.qa.students.stage1.loss.hidden_layers",
            "needs [student, teacher] layer pairs",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(loss={"hidden": 0.5, "hidden_map": {"1": {"base": 2}}}),
            "tasks.qa.students.stage1.loss.hidden_map",
            "pair layers with loss.hidden_layers",
        ),
        (
            lambda c: _qa(c)["teachers"]["base"].update(model="tiny:bert-l2-h32"),
            "tasks.qa.teachers.base.model",
            "is an encoder; a generative_qa task needs a text-to-text model",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(teacher_mode="online"),
            "tasks.qa.students.stage1.teacher_mode",
            "learn from the top-k cache",
        ),
        (lambda c: _qa(c).update(prompt={"source": "{question} {answer}"}), "tasks.qa.prompt.source", "uses {answer}"),
        (lambda c: _qa(c).update(labels=["a", "b"]), "tasks.qa.labels", "has no label names"),
        (lambda c: _qa(c).update(option_score="mean"), "tasks.qa.option_score", "multiple_choice tasks only"),
        (
            lambda c: _qa(c)["students"]["stage1"].update(init={"method": "teacher_layers", "layers": [0]}),
            "tasks.qa.students.stage1.init.method",
            "teacher_layers keeps blocks of a bert2bert:<BERT> model",
        ),
        (
            lambda c: _qa(c)["students"]["stage1"].update(export=["torch-int8", "onnx-int8"]),
            "tasks.qa.students.stage1.export",
            "onnx-int8: text-to-text (t5) models are not exported to ONNX",
        ),
    ],
    ids=[
        "unknown-student",
        "cycle",
        "untrained-source",
        "other-model",
        "student-key-without-method",
        "target-length",
        "generated-two-teachers",
        "budget-two-teachers",
        "hidden-layer-not-cached",
        "hidden-without-pairs",
        "hidden-with-lora",
        "encoder-model",
        "online",
        "prompt-leaks-answer",
        "labels",
        "option-score-without-options",
        "teacher-layers",
        "onnx-export",
    ],
)
def test_seq2seq_config_errors_name_the_key(mutate, key, problem):
    with pytest.raises(ConfigError) as error:
        check_config(text2text_config(mutate))
    assert error.value.key == key and problem in error.value.problem, str(error.value)


def test_text_to_text_students_ship_as_torch_int8():
    check_config(text2text_config(lambda c: _qa(c)["students"]["stage1"].update(export=["torch-int8"])))


def test_classification_tasks_refuse_seq2seq_keys():
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["tasks"]["sentiment"]["teachers"]["big"]["top_k"] = 8
    apply_member_defaults(config)
    validate(config, str(SCHEMA))
    with pytest.raises(ConfigError, match=r"`tasks\.sentiment\.teachers\.big\.top_k`: only text-to-text tasks"):
        check_config(config)


def test_a_chained_student_starts_from_the_other_students_model():
    plan = Plan(text2text_config())
    stage1, stage2 = plan.student("qa", "stage1"), plan.student("qa", "stage2")
    assert stage2.init_dir == stage1.model_dir == "results/s2s/qa/students/stage1/model"
    assert stage1.role == "student (distilled from base)"
    assert stage2.role == "student (distilled from large, starting from stage1)"


def test_cache_settings_change_the_cache_but_not_the_teacher():
    plan = Plan(text2text_config())
    other = Plan(text2text_config(lambda c: _qa(c)["teachers"]["large"].update(top_k=16)))
    before, after = plan.tasks["qa"].teachers["large"], other.tasks["qa"].teachers["large"]
    assert before.key == after.key and before.model_dir == after.model_dir
    assert before.logits != after.logits and ".topk-" in after.logits_key
    assert StageSpecs(plan).distill("qa", "stage2").to_json() != StageSpecs(other).distill("qa", "stage2").to_json()
    longer = Plan(
        text2text_config(
            lambda c: [
                m.update(max_target_length=20) for m in [*_qa(c)["teachers"].values(), _qa(c)["student_defaults"]]
            ]
        )
    )
    assert longer.tasks["qa"].teachers["large"].key != before.key, "the target length changes the fine-tuned teacher"


def test_length_normalised_option_scores_rerun_only_the_scoring_stages():
    def multiple_choice(option_score: str | None):
        def mutate(config: dict) -> None:
            _qa(config).update(type="multiple_choice", data={"loader": "social_iqa", "options": {"path": "x.jsonl"}})
            if option_score:
                _qa(config)["option_score"] = option_score

        return Plan(text2text_config(mutate))

    summed, mean = multiple_choice(None), multiple_choice("mean")
    for name in ("base", "large"):
        before, after = summed.tasks["qa"].teachers[name], mean.tasks["qa"].teachers[name]
        assert (before.key, before.logits) == (after.key, after.logits), "teachers and their caches are untouched"
    specs = {plan: StageSpecs(plan) for plan in (summed, mean)}
    assert specs[summed].distill("qa", "stage2").to_json() == specs[mean].distill("qa", "stage2").to_json()
    assert (
        specs[summed].evaluate("qa", "student", "stage2").to_json()
        != specs[mean].evaluate("qa", "student", "stage2").to_json()
    )
    assert '"option_score":"mean"' in specs[mean].benchmark("qa").to_json()


@pytest.mark.slow
@pytest.mark.parametrize("name", HUB_EXPERIMENTS)
def test_hub_experiments_pass_a_dry_run_offline(name: str, shared_datasets: Path, tmp_path: Path):
    """trivia, commonsense and math need a GPU and the Hub to run; the DAG builds without either."""
    (tmp_path / "shared").symlink_to(shared_datasets.parent)
    workdir = tmp_path / "work"
    shutil.copytree(REPO / "config", workdir / "config")  # config paths (LoRA settings) are relative to it
    result = snakemake(workdir, "--configfile", str(REPO / "config" / "experiments" / f"{name}.yaml"), "-n")
    jobs = job_counts(result.stdout)
    config = yaml.safe_load((REPO / "config" / "experiments" / f"{name}.yaml").read_text())
    students = sum(len(task["students"]) for task in config["tasks"].values())
    trained = sum(s.get("train", True) for task in config["tasks"].values() for s in task["students"].values())
    assert jobs["distill"] == trained and jobs["evaluate"] == students + sum(
        len(task["teachers"]) for task in config["tasks"].values()
    )
    assert jobs["teacher_logits"] == jobs["finetune_teacher"] >= 1
    if name == "trivia":
        assert "stage2_from_large" in result.stdout and jobs["init_student"] == 1, "stage 2 starts from stage 1"
