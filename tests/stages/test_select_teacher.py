"""Teacher selection (issue 14 item 4): candidates planned as teachers of their own, a selection key over them, the
`select_teacher` stage on hand-written histories, and bad candidate lists refused before any job."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from scalingdown.pipeline.config.candidates import candidates, selection_metric
from scalingdown.pipeline.config.defaults import apply_defaults
from scalingdown.pipeline.config.json_schema import check_schema
from scalingdown.pipeline.errors import UnknownKey
from scalingdown.pipeline.outputs.atomic import ForeignOutput, write_json
from scalingdown.pipeline.outputs.provenance import PROVENANCE_FILE
from scalingdown.pipeline.paths import SELECTED_SUFFIX
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.pipeline.specs.definitions import SelectCandidate, SelectTeacherSpec
from scalingdown.stages.select_teacher import SelectionInputError, best_candidate, select_teacher
from scalingdown.training.trainer import BEST_CHECKPOINT_FILE
from tests.conftest import REPO, TINY_CONFIG
from tests.pipeline.conftest import config_error, set_task_key, tiny_written

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
TASK = "tasks.sentiment"


def _plan(learning_rate: object = 1.0e-3, other: object = None, epochs: object = 1) -> Plan:
    """The tiny plan with teacher `big` fine-tuned at `learning_rate` and `epochs` (values or lists), and with
    `other`, a second teacher `small` at that learning rate."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    teachers = config["tasks"]["sentiment"]["teachers"]
    teachers["big"]["finetune"].update(learning_rate=learning_rate, epochs=epochs)
    if other is not None:
        teachers["small"] = copy.deepcopy(teachers["big"])
        teachers["small"]["finetune"].update(learning_rate=other, epochs=1)
    apply_defaults(config, REPO)
    check_schema(config, SCHEMA)
    validate(config, str(SCHEMA))
    return Plan(config)


def _teacher(plan: Plan, name: str = "big"):
    return plan.tasks["sentiment"].teachers[name]


# -- the plan --------------------------------------------------------------------------------------------------------
def test_listed_values_expand_to_their_product_in_key_order():
    finetune = {"learning_rate": [1e-3, 1e-2], "epochs": [1, 2], "batch_size": 8, "method": "full"}
    found = [(c["epochs"], c["learning_rate"], c["batch_size"]) for c in candidates(finetune)]
    assert found == [(1, 1e-3, 8), (1, 1e-2, 8), (2, 1e-3, 8), (2, 1e-2, 8)]  # epochs before learning_rate
    assert candidates({"learning_rate": 1e-3}) == [] and candidates(False) == []


def test_a_teacher_without_lists_has_no_candidates_and_its_usual_key():
    teacher = _teacher(_plan())
    assert teacher.candidates == () and not teacher.key.endswith(SELECTED_SUFFIX)


def test_each_candidate_is_keyed_like_a_teacher_configured_with_its_values():
    """So a candidate shares its fine-tuned model with such a teacher (of this or another experiment)."""
    selected = _teacher(_plan([1.0e-3, 1.0e-2]))
    assert [c.key for c in selected.candidates] == [_teacher(_plan(1.0e-3)).key, _teacher(_plan(1.0e-2)).key]
    assert selected.key.endswith(SELECTED_SUFFIX) and selected.model_dir.endswith(f"{selected.key}/model")
    assert selected.logits_key.startswith(selected.key)  # the cache holds the selected teacher's logits


def test_changing_one_candidate_changes_its_key_and_the_selection_key_only():
    before = _plan([1.0e-3, 1.0e-2], other=1.0e-3)
    after = _plan([1.0e-3, 3.0e-3], other=1.0e-3)
    old, new = _teacher(before), _teacher(after)
    assert old.candidates[0].key == new.candidates[0].key
    assert old.candidates[1].key != new.candidates[1].key
    assert old.key != new.key and old.logits_key != new.logits_key
    assert _teacher(before, "small").key == _teacher(after, "small").key
    assert _teacher(before, "small").logits_key == _teacher(after, "small").logits_key
    assert before.tasks["sentiment"].data_key == after.tasks["sentiment"].data_key


def test_adding_a_candidate_to_one_teacher_leaves_the_other_teacher_alone():
    before, after = _plan([1.0e-3, 1.0e-2], other=1.0e-3), _plan([1.0e-3, 1.0e-2, 3.0e-3], other=1.0e-3)
    assert len(_teacher(after).candidates) == 3
    assert [c.key for c in _teacher(after).candidates[:2]] == [c.key for c in _teacher(before).candidates]
    small_before, small_after = _teacher(before, "small"), _teacher(after, "small")
    assert (small_before.key, small_before.logits_key) == (small_after.key, small_after.logits_key)


def test_the_specs_of_the_candidates_and_of_the_selection():
    plan = _plan([1.0e-3, 1.0e-2], epochs=[1, 2])
    specs, teacher = StageSpecs(plan), _teacher(plan)
    assert [specs.finetune(c.key).training.learning_rate for c in teacher.candidates] == [1e-3, 1e-2, 1e-3, 1e-2]
    assert [specs.finetune(c.key).training.epochs for c in teacher.candidates] == [1, 1, 2, 2]
    selection = specs.select_teacher(teacher.key)
    assert (selection.metric, selection.higher_is_better) == ("eval_accuracy", True)
    assert [c.settings for c in selection.candidates][:2] == [
        {"epochs": 1, "learning_rate": 1e-3},
        {"epochs": 1, "learning_rate": 1e-2},
    ]
    assert [c.key for c in selection.candidates] == [c.key for c in teacher.candidates]
    with pytest.raises(UnknownKey, match="selected among candidates"):
        specs.finetune(teacher.key)
    with pytest.raises(UnknownKey, match="lists no fine-tuning candidates"):
        specs.select_teacher(teacher.candidates[0].key)


def test_the_report_reads_the_selection_record_and_the_candidates_provenance():
    plan = _plan([1.0e-3, 1.0e-2])
    teacher = _teacher(plan)
    assert plan.selection_files() == [teacher.selection]
    assert plan.report_inputs()[teacher.selection].kind == "selection"
    assert all(c.model_dir in plan.cached_artefacts() for c in teacher.candidates)
    assert _plan().selection_files() == []


def test_candidates_are_ranked_by_the_primary_metric_that_selected_their_checkpoints():
    assert selection_metric("generative_qa") == ("eval_f1", True)
    assert selection_metric("multiple_choice") == ("eval_accuracy", True)
    assert selection_metric("classification") == ("eval_accuracy", True)


# -- the stage -------------------------------------------------------------------------------------------------------
def _candidate(root: Path, name: str, scores: list[float], metric: str = "eval_accuracy") -> tuple[str, str]:
    """A fake fine-tuned candidate: a model directory (with the stage marker, provenance and the record of the
    checkpoint its training kept: the best of `scores`, ties to the earlier) and a history whose validation `metric`
    took `scores` in turn."""
    model = root / name / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"name": name}))
    (model / "model.safetensors").write_bytes(name.encode())
    (model / ".scalingdown-output").write_text('{"stage": "finetune_teacher"}')
    (model / PROVENANCE_FILE).write_text("{}")
    entries = [{"loss": 1.0, "step": 1}] + [{metric: score, "step": 2 * i + 2} for i, score in enumerate(scores)]
    if scores:
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        kept = {"metric": metric, "score": float(scores[best]), "step": 2 * best + 2}
        (model / BEST_CHECKPOINT_FILE).write_text(json.dumps(kept))
    history = root / name / "history.json"
    history.write_text(json.dumps(entries))
    return str(model), str(history)


def _select(tmp_path: Path, scores: dict[str, list[float]], metric="eval_accuracy"):
    made = [_candidate(tmp_path / "in", name, values, metric) for name, values in scores.items()]
    spec = SelectTeacherSpec(
        task="sentiment",
        teacher="big",
        metric=metric,
        higher_is_better=True,
        candidates=[SelectCandidate(key=name, settings={"learning_rate": i}) for i, name in enumerate(scores)],
    )
    out = tmp_path / "selected"
    select_teacher(
        spec,
        [m for m, _ in made],
        [h for _, h in made],
        str(out / "model"),
        str(out / "history.json"),
        str(out / "selection.json"),
        "tiny",
    )
    return out, json.loads((out / "selection.json").read_text())


def test_the_candidate_whose_kept_checkpoint_scored_best_is_kept(tmp_path):
    # `b` peaked highest during training, and its training kept that checkpoint, though its last step scored lower.
    out, record = _select(tmp_path, {"a": [0.5, 0.6], "b": [0.9, 0.55], "c": [0.4, 0.7]})
    assert record["selected"] == "b"
    assert [c["validation_score"] for c in record["candidates"]] == [0.6, 0.9, 0.7]
    assert record["candidates"][1]["settings"] == {"learning_rate": 1}
    assert record["written_by"] == "select_teacher"
    assert (out / "model" / "model.safetensors").read_bytes() == b"b"
    assert os.path.samefile(out / "model" / "model.safetensors", tmp_path / "in" / "b" / "model" / "model.safetensors")
    assert json.loads((out / "model" / ".scalingdown-output").read_text())["stage"] == "select_teacher"
    assert json.loads((out / "model" / PROVENANCE_FILE).read_text())["stage"] == "select_teacher"
    assert json.loads((out / "model" / BEST_CHECKPOINT_FILE).read_text())["score"] == 0.9
    assert json.loads((out / "history.json").read_text())[1]["eval_accuracy"] == 0.9


def test_a_tie_goes_to_the_earlier_candidate(tmp_path):
    assert best_candidate([0.5, 0.7, 0.7], higher_is_better=True) == 1
    assert best_candidate([0.3, 0.2, 0.2], higher_is_better=False) == 1
    _, record = _select(tmp_path, {"a": [0.7], "b": [0.7]})
    assert record["selected"] == "a"


def test_a_candidate_without_the_record_of_its_kept_checkpoint_is_refused_naming_it(tmp_path):
    with pytest.raises(SelectionInputError, match=r"b/model: records no validation eval_accuracy of its kept"):
        _select(tmp_path, {"a": [0.7], "b": []})
    assert not (tmp_path / "selected" / "model").exists()


def test_the_stage_replaces_only_its_own_outputs(tmp_path):
    _select(tmp_path / "first", {"a": [0.7], "b": [0.8]})
    foreign = tmp_path / "second" / "selected" / "selection.json"
    write_json(foreign, {"written_by": "someone else"})
    with pytest.raises(ForeignOutput, match=r"selection\.json: already exists"):
        _select(tmp_path / "second", {"a": [0.7], "b": [0.8]})


# -- bad candidate lists, refused before any job ----------------------------------------------------------------------
def _defaults_list(config: dict) -> None:
    task = config["tasks"]["sentiment"]
    task["teacher_defaults"] = {"finetune": {"warmup_ratio": []}}


CASES = {
    "empty-list": (
        set_task_key("teachers", "big", "finetune", "learning_rate", []),
        f"{TASK}.teachers.big.finetune.learning_rate",
        "an empty list of candidates",
    ),
    "wrong-type": (
        set_task_key("teachers", "big", "finetune", "batch_size", [8, "16"]),
        f"{TASK}.teachers.big.finetune.batch_size[1]",
        "'16' is not of type 'integer'",
    ),
    "out-of-range": (
        set_task_key("teachers", "big", "finetune", "learning_rate", [1.0e-3, 0]),
        f"{TASK}.teachers.big.finetune.learning_rate[1]",
        "less than or equal to the minimum of 0",
    ),
    "listed-twice": (
        set_task_key("teachers", "big", "finetune", "learning_rate", [1.0e-3, 1.0e-3]),
        f"{TASK}.teachers.big.finetune.learning_rate",
        "non-unique elements",
    ),
    "not-a-hyperparameter": (
        set_task_key("teachers", "big", "finetune", "method", ["full", "lora"]),
        f"{TASK}.teachers.big.finetune.method",
        "only epochs, learning_rate, batch_size, gradient_accumulation_steps, weight_decay, warmup_ratio may list",
    ),
    "student-training": (
        set_task_key("students", "gold_only", "training", {"learning_rate": [1.0e-3, 1.0e-2]}),
        f"{TASK}.students.gold_only.training.learning_rate",
        "is not of type 'number'",
    ),
    "empty-list-in-teacher-defaults": (
        _defaults_list,
        f"{TASK}.teacher_defaults.finetune.warmup_ratio",
        "an empty list of candidates",
    ),
}


@pytest.mark.parametrize(("mutation", "key", "problem"), list(CASES.values()), ids=list(CASES))
def test_a_bad_candidate_list_is_refused_before_any_job_naming_the_key(tmp_path, mutation, key, problem):
    error = config_error(tiny_written(mutation), tmp_path)
    assert (error.key, problem in error.problem) == (key, True), (error.key, error.problem)


def test_a_candidate_list_is_accepted(tmp_path):
    with pytest.raises(AssertionError, match="accepted"):
        config_error(
            tiny_written(set_task_key("teachers", "big", "finetune", "learning_rate", [1.0e-3, 1.0e-2])), tmp_path
        )


# -- the report ------------------------------------------------------------------------------------------------------
def _record(seed: int, scores: list[float], selected: int) -> dict:
    keys = [f"k{seed}{index}" for index in range(len(scores))]
    return {
        "task": "sentiment",
        "teacher": "big",
        "metric": "eval_accuracy",
        "seed": seed,
        "candidates": [
            {"key": key, "settings": {"learning_rate": rate}, "validation_score": score}
            for key, rate, score in zip(keys, [0.001, 0.01], scores, strict=True)
        ],
        "selected": keys[selected],
    }


def test_the_selection_table_gives_mean_and_sd_over_seeds_and_how_often_each_candidate_was_kept():
    from scalingdown.report.document import Heading, Table
    from scalingdown.report.selection import selection_blocks

    blocks = selection_blocks([_record(13, [0.6, 0.7], 1), _record(14, [0.8, 0.7], 0)])
    assert blocks[0] == Heading("Teacher selection: sentiment, teacher big")
    (table,) = [block for block in blocks if isinstance(block, Table)]
    assert table.frame.to_dict("records") == [
        {"learning_rate": "0.001", "Validation accuracy": "0.7000 ± 0.1414", "Kept": "1 of 2 seeds"},
        {"learning_rate": "0.01", "Validation accuracy": "0.7000 ± 0.0000", "Kept": "1 of 2 seeds"},
    ]
    assert selection_blocks([]) == []


def test_each_seed_selects_among_its_own_candidates():
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config.pop("seed")
    config["seeds"] = [13, 14]
    config["tasks"]["sentiment"]["teachers"]["big"]["finetune"]["learning_rate"] = [1.0e-3, 1.0e-2]
    apply_defaults(config, REPO)
    validate(config, str(SCHEMA))
    plan = Plan(config)
    first, second = (plan.tasks[f"sentiment/seed-{seed}"].teachers["big"] for seed in (13, 14))
    assert first.key != second.key and not {c.key for c in first.candidates} & {c.key for c in second.candidates}
    assert [plan.report_inputs()[t.selection].task.seed for t in (first, second)] == [13, 14]
