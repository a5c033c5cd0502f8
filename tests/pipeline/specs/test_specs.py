"""The typed stage specs: their JSON form (round trip, canonical text, optional fields left out), the
one-line errors of a spec that does not fit, and how the command line reports them."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalingdown.cli import main
from scalingdown.pipeline.config.defaults import apply_defaults
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.export_variants import CALIBRATED
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.pipeline.specs import definitions as specs
from scalingdown.pipeline.specs.codec import Spec, SpecError, parse_spec
from scalingdown.pipeline.specs.definitions import (
    DistillSpec,
    EvaluateSpec,
    InitSettings,
    LogitsSpec,
    PrepareSpec,
    TextTask,
    TopkLogitsSpec,
    TrainingSpec,
)
from scalingdown.pipeline.specs.stage_table import STAGES
from tests.conftest import FIXTURES, REPO, scalingdown
from tests.pipeline.conftest import multiteacher_config, ready_plan, resolved_tiny_config, text2text_config


def _stage_specs(plan: Plan) -> Iterator[Spec]:
    """Every spec a job of this plan runs with."""
    stage_specs = StageSpecs(plan)
    yield stage_specs.report()
    yield from (stage_specs.ship(cell) for cell in plan.ship_cells())
    for task in plan.tasks.values():
        if plan.carded_models(task.folder):
            yield stage_specs.model_cards(task.folder)
        yield stage_specs.prepare(task.data_key)
        yield stage_specs.ensemble(task.folder)
        yield stage_specs.benchmark(task.folder)
        for teacher in task.teachers.values():
            if teacher.candidates:
                yield stage_specs.select_teacher(teacher.key)
                yield from (stage_specs.finetune(candidate.key) for candidate in teacher.candidates)
            elif teacher.finetuned:
                yield stage_specs.finetune(teacher.key)
            yield stage_specs.logits(teacher.logits_key)
            yield stage_specs.evaluate(task.folder, "teacher", teacher.name)
        for student in task.students.values():
            yield stage_specs.init(student.init_key)
            yield stage_specs.distill(task.folder, student.name)
            yield stage_specs.evaluate(task.folder, "student", student.name)
            for variant in student.built_exports:
                if variant in CALIBRATED:
                    yield stage_specs.export_calibrated(task.folder, student.name, variant)
                else:
                    yield stage_specs.export(task.folder, student.name, variant)
            for variant in student.exports:
                yield stage_specs.evaluate(task.folder, "student", student.name, variant)


def _tiny_with_options() -> Plan:
    """The tiny experiment with the settings most runs leave off: remote code, an online student."""
    config = resolved_tiny_config()
    task = config["tasks"]["sentiment"]
    task["teachers"]["big"]["trust_remote_code"] = True
    task["students"]["online"] = {**copy.deepcopy(task["students"]["distilled"]), "teacher_mode": "online"}
    return Plan(config)


def _experiment_plan(path: Path) -> Plan:
    """The plan of one of the repository's experiment files, as Snakemake would build it."""
    from snakemake.utils import validate

    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    apply_defaults(config, REPO)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return Plan(config)


EXPERIMENTS = [REPO / "config" / "config.yaml", *sorted((REPO / "config" / "experiments").glob("*.yaml"))]
PLANS = {
    "tiny": lambda: Plan(resolved_tiny_config()),
    "tiny-options": _tiny_with_options,
    "multiteacher": lambda: ready_plan(multiteacher_config()),
    "seq2seq": lambda: Plan(text2text_config()),
    "tiny-select": lambda: _experiment_plan(REPO / "tests" / "configs" / "tiny_select.yaml"),
    "tiny-ship": lambda: _experiment_plan(REPO / "tests" / "configs" / "tiny-ship.yaml"),
    **{f"experiment-{path.stem}": (lambda path=path: _experiment_plan(path)) for path in EXPERIMENTS},
}


def _all_specs() -> list[Spec]:
    return [spec for make in PLANS.values() for spec in _stage_specs(make())]


def _classes_in(value: Any) -> set[type]:
    """The spec classes of `value` and of every spec nested in it."""
    if isinstance(value, list):
        return set().union(*map(_classes_in, value)) if value else set()
    if not isinstance(value, Spec):
        return set()
    found = {type(value)}
    for item in dataclasses.fields(value):
        found |= _classes_in(getattr(value, item.name))
    return found


def test_the_plans_build_a_spec_of_every_class():
    every_class = {value for value in vars(specs).values() if isinstance(value, type) and issubclass(value, Spec)}
    every_class.discard(Spec)
    built = set().union(*map(_classes_in, _all_specs()))
    assert sorted(cls.__name__ for cls in every_class - built) == []


@pytest.mark.parametrize("name", PLANS)
def test_every_spec_round_trips_through_its_json_form(name: str):
    for spec in _stage_specs(PLANS[name]()):
        again = type(spec).from_dict(json.loads(spec.to_json()))
        assert again == spec, type(spec).__name__
        assert type(spec).from_dict(spec.to_dict()) == spec
        assert again.to_json() == spec.to_json()


def test_the_json_form_is_compact_and_key_sorted():
    text = TextTask(prompt={"target": "{answer}", "source": "q: {question}"}, max_target_length=8).to_json()
    assert text == '{"max_target_length":8,"prompt":{"source":"q: {question}","target":"{answer}"}}'
    for spec in _all_specs():
        text = spec.to_json()
        assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_length_normalised_option_scores_change_the_spec_and_the_default_leaves_it_as_it_was():
    prompt = {"source": "{question}", "target": "{answer}"}
    default = TextTask(prompt=prompt, max_target_length=8)
    assert "option_score" not in default.to_json(), "existing evaluations keep their keys"
    mean = TextTask(prompt=prompt, max_target_length=8, option_score="mean")
    assert json.loads(mean.to_json())["option_score"] == "mean" and TextTask.from_dict(mean.to_dict()) == mean


def _training(**changes: Any) -> TrainingSpec:
    settings = {
        "epochs": 1,
        "learning_rate": 1e-3,
        "batch_size": 8,
        "gradient_accumulation_steps": 1,
        "weight_decay": 0.0,
        "warmup_ratio": 0.0,
        "eval_steps": 2,
        "logging_steps": 2,
        "precision": "auto",
        "processes": 1,
        "deepspeed": None,
        "checkpoint": "best",
        "selection_metric": "accuracy",
    }
    return TrainingSpec.from_dict({**settings, **changes})


def _evaluate_spec() -> EvaluateSpec:
    return StageSpecs(Plan(resolved_tiny_config())).evaluate("sentiment", "student", "distilled")


def test_an_optional_field_at_its_default_is_left_out_and_kept_otherwise():
    assert InitSettings(method="pretrained").to_dict() == {"method": "pretrained"}
    assert InitSettings(method="teacher_layers", every=2).to_dict() == {"every": 2, "method": "teacher_layers"}
    assert not {"seed", "checkpoint_steps"} & set(_training().to_dict())
    assert _training(seed=0).to_dict()["seed"] == 0, "0 is a value, not the default"
    assert _training().to_dict()["deepspeed"] is None, "a required field is written even when null"

    plain = _evaluate_spec()
    assert plain.label_map == {} and plain.text is None and plain.trust_remote_code is False
    assert not {"label_map", "trust_remote_code", "prompt", "max_target_length", "text"} & set(plain.to_dict())
    text = TextTask(prompt={"source": "{question}", "target": "{answer}"}, max_target_length=8)
    full = dataclasses.replace(plain, label_map={"LABEL_0": "negative"}, trust_remote_code=True, text=text)
    described = full.to_dict()
    assert described["label_map"] == {"LABEL_0": "negative"} and described["trust_remote_code"] is True
    assert described["prompt"] == text.prompt and described["max_target_length"] == 8, "flattened beside the rest"
    assert "text" not in described
    assert EvaluateSpec.from_dict(described) == full


BEFORE_THE_RESTRUCTURE = FIXTURES / "specs_before_restructure.json"


def _keys_and_specs(plan: Plan) -> dict[str, Any]:
    """What a rule's jobs are named and run with: the artefact keys and paths, and every stage's spec text."""
    stage_specs = StageSpecs(plan)
    found: dict[str, Any] = {"report": stage_specs.report().to_json()}
    for task in plan.tasks.values():
        found[f"data_key {task.name}"] = task.data_key
        found[f"prepare {task.name}"] = stage_specs.prepare(task.data_key).to_json()
        found[f"ensemble {task.name}"] = stage_specs.ensemble(task.name).to_json()
        for teacher in task.teachers.values():
            where = f"{task.name}.{teacher.name}"
            found[f"keys {where}"] = [teacher.key, teacher.logits_key, teacher.model_dir, teacher.logits]
            found[f"finetune {where}"] = stage_specs.finetune(teacher.key).to_json()
            found[f"logits {where}"] = stage_specs.logits(teacher.logits_key).to_json()
            found[f"evaluate teacher {where}"] = stage_specs.evaluate(task.name, "teacher", teacher.name).to_json()
        for student in task.students.values():
            where = f"{task.name}.{student.name}"
            found[f"keys student {where}"] = [student.init_key, student.init_dir, student.model_dir, student.role]
            found[f"init {where}"] = stage_specs.init(student.init_key).to_json()
            found[f"distill {where}"] = stage_specs.distill(task.name, student.name).to_json()
            found[f"evaluate student {where}"] = stage_specs.evaluate(task.name, "student", student.name).to_json()
    return found


@pytest.mark.parametrize("name", ["tiny", "seq2seq"])
def test_the_specs_and_keys_are_the_ones_the_jobs_ran_with_before_the_restructure(name: str):
    """The fixture holds what the plan built at the commit before the typed specs: a different spec text reruns
    every job of its rule, a different key rebuilds the shared artefact. A deliberate change updates the file."""
    before = json.loads(BEFORE_THE_RESTRUCTURE.read_text(encoding="utf-8"))[name]
    now = _keys_and_specs(PLANS[name]())
    assert sorted(now) == sorted(before)
    assert [key for key in before if now[key] != before[key]] == []


# -- parse errors ------------------------------------------------------------------------------------------------
def _distill_dict() -> dict[str, Any]:
    return StageSpecs(Plan(resolved_tiny_config())).distill("sentiment", "distilled").to_dict()


PARSE_ERRORS = {
    "missing": (lambda d: d.pop("loss"), "spec: missing key `loss` (DistillSpec needs it)"),
    "wrong-type": (lambda d: d.update(max_length="32"), 'spec.max_length: expected int, got "32"'),
    "bool-for-int": (lambda d: d.update(max_length=True), "spec.max_length: expected int, got true"),
    "not-a-list": (lambda d: d.update(labels="negative"), 'spec.labels: expected a list, got "negative"'),
    "nested-missing": (
        lambda d: d["training"].pop("epochs"),
        "spec.training: missing key `epochs` (TrainingSpec needs it)",
    ),
    "nested-wrong-type": (
        lambda d: d["training"].update(batch_size=1.5),
        "spec.training.batch_size: expected int, got 1.5",
    ),
    "list-item": (
        lambda d: d["teachers"][0].update(max_length="long"),
        'spec.teachers[0].max_length: expected int, got "long"',
    ),
    "mapping-value": (
        lambda d: d["loss"].update(hidden_map={"1": {"big": "2"}}),
        'spec.loss.hidden_map.1.big: expected int, got "2"',
    ),
    "half-a-flattened-part": (
        lambda d: d.update(prompt={"source": "{question}", "target": "{answer}"}),
        "spec: missing key `max_target_length` (TextTask needs it)",
    ),
}


@pytest.mark.parametrize(("change", "message"), PARSE_ERRORS.values(), ids=PARSE_ERRORS.keys())
def test_a_spec_that_does_not_fit_is_refused_naming_the_key(change, message: str):
    data = _distill_dict()
    change(data)
    with pytest.raises(SpecError) as error:
        DistillSpec.from_dict(data)
    assert str(error.value) == message
    assert isinstance(error.value, UserError)


def test_a_spec_that_is_not_an_object_is_refused():
    with pytest.raises(SpecError, match=r"^spec: expected a JSON object, got list$"):
        DistillSpec.from_dict([1, 2])  # type: ignore[arg-type]


def test_an_unknown_key_is_named_with_the_keys_that_are_known():
    data = _distill_dict()
    data["lr"] = 1
    with pytest.raises(SpecError) as error:
        DistillSpec.from_dict(data)
    known = (
        "['family', 'labels', 'loss', 'max_length', 'max_target_length', 'option_score', 'prompt', 'student', "
        "'teacher_mode', 'teachers',"
    )
    assert str(error.value).startswith(f"spec: unknown key `lr` (a DistillSpec has {known}")
    data = _distill_dict()
    data["teachers"][0]["lr"] = 1
    with pytest.raises(SpecError) as error:
        DistillSpec.from_dict(data)
    known = "['hidden_layers', 'key', 'label_map', 'logits_key', 'max_length', 'model', 'name', 'targets', 'top_k']"
    assert str(error.value) == f"spec.teachers[0]: unknown key `lr` (a DistillTeacher has {known})"


def test_a_float_setting_takes_an_integer_and_a_nullable_one_takes_null():
    data = _distill_dict()
    data["loss"]["temperature"] = 2
    data["labels"] = None
    spec = DistillSpec.from_dict(data)
    assert spec.loss.temperature == 2 and spec.labels is None


def test_a_stage_of_both_task_families_parses_the_spec_of_the_tasks_family():
    seq2seq, classification = Plan(text2text_config()), Plan(resolved_tiny_config())
    topk = StageSpecs(seq2seq).logits(seq2seq.tasks["qa"].teachers["large"].logits_key)
    logits = StageSpecs(classification).logits(classification.tasks["sentiment"].teachers["big"].logits_key)
    assert type(topk) is TopkLogitsSpec and type(logits) is LogitsSpec
    assert parse_spec(STAGES["teacher_logits"].spec, topk.to_dict()) == topk
    assert parse_spec(STAGES["teacher_logits"].spec, logits.to_dict()) == logits
    prepare = StageSpecs(seq2seq).prepare(seq2seq.tasks["qa"].data_key)
    assert type(prepare) is PrepareSpec
    assert parse_spec(STAGES["prepare"].spec, prepare.to_dict()) == prepare, "one class serves both families"


# -- the command line -------------------------------------------------------------------------------------------
def _required_arguments(command: str) -> list[str]:
    stage = next(stage for stage in STAGES.values() if stage.command == command)
    arguments = []
    for argument in stage.arguments:
        if argument.required:
            arguments += [argument.flag, "1" if argument.integer else "unused"]
    return arguments


@pytest.mark.parametrize("command", [stage.command for stage in STAGES.values()])
def test_every_stage_refuses_a_spec_that_lacks_keys_in_one_line(command: str, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([command, "--spec", "{}", *_required_arguments(command)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {command} --spec: spec: missing key `"), captured.err
    assert lines[0].endswith("needs it)") and captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_names_a_nested_key_and_exits_2(tmp_path):
    data = _distill_dict()
    data["training"]["batch_size"] = "8"
    result = scalingdown("distill", "--spec", json.dumps(data), *_required_arguments("distill"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == 'error: distill --spec: spec.training.batch_size: expected int, got "8"\n'
    assert result.stdout == "" and list(tmp_path.iterdir()) == []
