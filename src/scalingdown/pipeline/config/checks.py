"""Semantic checks of a validated config: what the JSON schema cannot express, each error naming its key.

They run before any job starts (the Snakefile calls `check_config`), read no model weights, and stay
standard library only. Every task gets the checks here; then the checks of its model family
(`FAMILY_CHECKS`: `classification_checks`, `text2text_checks`, `causal_checks`).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.causal_checks import check_causal_task
from scalingdown.pipeline.config.classification_checks import check_classification_task
from scalingdown.pipeline.config.label_budgets import check_budgets
from scalingdown.pipeline.config.model_files import Depth, model_depth, model_json, model_type
from scalingdown.pipeline.config.settings import lora_settings
from scalingdown.pipeline.config.shapes import attributed, check_shapes, expand_students
from scalingdown.pipeline.config.shipping import check_ship
from scalingdown.pipeline.config.text2text_checks import check_text2text_task
from scalingdown.pipeline.config.transfer_checks import check_transfer
from scalingdown.pipeline.config.twins import gold_only
from scalingdown.pipeline.config.value_checks import check_values, generated_train_rows
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.divergence_table import DEFAULT as DEFAULT_DIVERGENCE
from scalingdown.pipeline.names.divergence_table import divergence_problem, with_defaults
from scalingdown.pipeline.names.export_variants import CONFIG_NAMES, export_refusal
from scalingdown.pipeline.names.families import CAUSAL, CLASSIFICATION, TEXT2TEXT, FamilyInfo, family_of
from scalingdown.pipeline.names.loader_registry import DataConfigError, check_data
from scalingdown.pipeline.names.model_refs import BERT2BERT
from scalingdown.pipeline.names.tasks import INPUTS

TRAINING_STAGES = ("finetune_teacher", "distill")

# The checks of each model family's tasks, after the checks every task gets.
FAMILY_CHECKS = {
    CLASSIFICATION: check_classification_task,
    TEXT2TEXT: check_text2text_task,
    CAUSAL: check_causal_task,
}


def check_config(config: Mapping[str, Any], workdir: Path | None = None) -> None:
    """Semantic checks the JSON schema cannot express. Raises `ConfigError` naming the key.

    A student that sweeps shapes (`config.shapes`) is checked as the students of its shapes, each error named under
    the configured student's key with the shape it concerns.
    """
    for task_name, task in config["tasks"].items():
        check_shapes(f"tasks.{task_name}", task["students"])
        if task.get("ship") is not None:
            check_ship(f"tasks.{task_name}.ship", task)
    expanded = {
        **config,
        "tasks": {
            name: {**task, "students": expand_students(task["students"])} for name, task in config["tasks"].items()
        },
    }
    try:
        _check_expanded(expanded, workdir)
    except ConfigError as error:
        for task_name, task in config["tasks"].items():
            error = attributed(error, f"tasks.{task_name}", task["students"])
        raise error from None


def _check_expanded(config: Mapping[str, Any], workdir: Path | None) -> None:
    """The checks of `check_config`, on a config whose students each have one shape."""
    check_values(config, workdir)
    _check_mlflow(config)
    _check_seeds(config)
    _check_distributed(config, workdir)
    _check_benchmark(config.get("benchmark", {}))
    for task_name, task in config["tasks"].items():
        prefix = f"tasks.{task_name}"
        try:
            check_data(task["data"]["loader"], task["type"], task["data"].get("options", {}))
        except DataConfigError as error:
            raise ConfigError(f"{prefix}.{error.key}", error.problem) from None
        labels = task.get("labels")
        if labels is None and task["type"] == "classification":
            raise ConfigError(f"{prefix}.labels", "a classification task needs its label names")
        _check_label_names(f"{prefix}.labels", labels or [])
        group_by = task["data"].get("split", {}).get("group_by")
        if group_by is not None and group_by not in INPUTS[task["type"]]:
            raise ConfigError(
                f"{prefix}.data.split.group_by",
                f"{group_by!r} is not what a {task['type']} model reads; expected one of {list(INPUTS[task['type']])}",
            )
        check_budgets(prefix, task, generated_train_rows(task["data"]))
        if task["data"].get("transfer") is not None:
            check_transfer(prefix, task["data"]["transfer"], workdir)
        teachers = task["teachers"]
        for name, teacher in teachers.items():
            _check_teacher(f"{prefix}.teachers.{name}", teacher, labels, workdir)
        for name, student in task["students"].items():
            key = f"{prefix}.students.{name}"
            _check_model_ref(f"{key}.model", student["model"], workdir)
            for teacher in student["teachers"]:
                if teacher not in teachers:
                    known = ", ".join(sorted(teachers)) or "none"
                    raise ConfigError(
                        f"{key}.teachers",
                        f"teacher {teacher!r} is not defined under {prefix}.teachers (defined: {known})",
                    )
            _check_init(f"{key}.init", student["init"])
            _check_weighting(f"{key}.weighting", student["weighting"], student["teachers"])
            _check_loss(key, student)
        _check_chains(prefix, task["students"])
        _check_baselines(prefix, task["students"])
        _check_depths(prefix, task, workdir)
        family = _task_family(prefix, task)
        if family.name != CAUSAL:
            for name, student in task["students"].items():
                if student["loss"].get("on_policy", 0) > 0:
                    raise ConfigError(
                        f"{prefix}.students.{name}.loss.on_policy", "on-policy distillation is for causal students"
                    )
        FAMILY_CHECKS[family.name](prefix, task, workdir)
        _check_exports(prefix, task, workdir)


def _check_mlflow(config: Mapping[str, Any]) -> None:
    """`mlflow` sends training curves to MLflow through the Trainer, which needs the mlflow package."""
    if config.get("mlflow") and importlib.util.find_spec("mlflow") is None:
        raise ConfigError(
            "mlflow", "the mlflow package is not installed (pip install mlflow), so nothing could log to it"
        )


def _task_family(prefix: str, task: Mapping[str, Any]) -> FamilyInfo:
    """The family of a task (its `family`, else its type's own); a family that does not learn the type is refused."""
    try:
        return family_of(task["type"], task.get("family"))
    except KeyError as error:
        raise ConfigError(f"{prefix}.family", str(error.args[0])) from None


def _check_label_names(key: str, labels: list[str]) -> None:
    """Label names that data can match, one way only: data labels are read stripped of surrounding whitespace, and a
    teacher's label names are matched to the task's without case."""
    for index, label in enumerate(labels):
        if label != label.strip():
            fix = f"write {label.strip()!r}" if label.strip() else "expected a label name"
            raise ConfigError(
                f"{key}[{index}]",
                f"{label!r} begins or ends with whitespace, which no data label has (they are read stripped); {fix}",
            )
    seen: dict[str, str] = {}
    for label in labels:
        twin = seen.setdefault(label.lower(), label)
        if twin != label:
            raise ConfigError(
                key,
                f"labels {twin!r} and {label!r} differ only in case; a teacher's label names are matched to the "
                "task's without case (its POSITIVE is the task's positive), so each label must differ from the "
                "others in more than case",
            )


def _check_seeds(config: Mapping[str, Any]) -> None:
    """`seed` or `seeds`, not both; with several seeds, no training seed fixed for all of them."""
    if "seeds" not in config:
        return
    if "seed" in config:
        raise ConfigError("seeds", "give either `seed` (one seed) or `seeds` (a list), not both")
    if len(config["seeds"]) < 2:
        return
    for task_name, task in config["tasks"].items():
        members = [("teachers", name, teacher.get("finetune")) for name, teacher in task["teachers"].items()]
        members += [("students", name, student.get("training")) for name, student in task["students"].items()]
        for group, name, training in members:
            if isinstance(training, Mapping) and "seed" in training:
                setting = "finetune" if group == "teachers" else "training"
                raise ConfigError(
                    f"tasks.{task_name}.{group}.{name}.{setting}.seed",
                    "a fixed training seed would train the model of every one of `seeds` alike; "
                    "leave it out (each seed then trains with its own)",
                )


def _check_distributed(config: Mapping[str, Any], workdir: Path | None) -> None:
    distributed = config.get("distributed") or {}
    processes = distributed.get("processes", 1)
    for stage in TRAINING_STAGES:
        gpus = (config.get("resources") or {}).get(stage, {}).get("gpu", 0)
        if isinstance(processes, int) and gpus and processes > gpus:
            raise ConfigError(
                "distributed.processes",
                f"{processes} processes cannot share the {gpus} GPU(s) of resources.{stage}.gpu "
                "(one process per GPU: use `gpus`, or at most that many)",
            )
    deepspeed = distributed.get("deepspeed")
    if deepspeed is None:
        return
    path = Path(deepspeed)
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(
            "distributed.deepspeed", f"cannot read the DeepSpeed config {deepspeed!r}: {error.strerror}"
        ) from None
    except json.JSONDecodeError as error:
        raise ConfigError(
            "distributed.deepspeed", f"{deepspeed} line {error.lineno}: not valid JSON ({error.msg})"
        ) from None
    if not isinstance(settings, dict):
        raise ConfigError("distributed.deepspeed", f"{deepspeed} must hold a JSON object")


def _check_teacher(key: str, teacher: Mapping[str, Any], labels: list[str] | None, workdir: Path | None) -> None:
    _check_model_ref(f"{key}.model", teacher["model"], workdir)
    mapping = teacher.get("labels")
    if mapping is not None and labels is not None:
        unknown = sorted(set(mapping.values()) - set(labels))
        if unknown:
            raise ConfigError(f"{key}.labels", f"maps onto {unknown}, which are not task labels {labels}")
        repeated = sorted({value for value in mapping.values() if list(mapping.values()).count(value) > 1})
        if repeated:
            raise ConfigError(f"{key}.labels", f"several model labels map onto {repeated}")
    finetune = teacher["finetune"]
    if finetune is not False:
        if finetune["method"] == "lora":
            lora_settings(finetune, workdir, f"{key}.finetune.lora_config")
        elif "lora_config" in finetune:
            raise ConfigError(f"{key}.finetune.lora_config", "only used with method lora")


def _check_model_ref(key: str, ref: str, workdir: Path | None) -> None:
    scheme, _, rest = ref.partition(":")
    if scheme == BERT2BERT:
        if not rest or rest.startswith((f"{BERT2BERT}:", "tiny:t5-")):
            raise ConfigError(key, f"{ref!r}: bert2bert needs a BERT-family reference, e.g. bert2bert:tiny:bert-l2-h32")
        _check_model_ref(key, rest, workdir)
        config = model_json(rest, "config.json", workdir) or {}
        if config.get("is_encoder_decoder") or config.get("is_decoder") or "decoder" in config:
            raise ConfigError(
                key, f"{ref!r}: {rest} is a {config.get('model_type')!r} model, not a BERT-family encoder"
            )
        return
    if scheme in {"hub", "package", "tiny"}:
        if not rest:
            raise ConfigError(key, f"{ref!r} names no model after '{scheme}:'")
        return
    path = Path(ref)
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    if not path.is_dir():
        raise ConfigError(
            key,
            f"{ref!r} is neither hub:<id>, package:<name>, tiny:<arch>, bert2bert:<ref> nor a model directory",
        )


def _check_init(key: str, init: Mapping[str, Any]) -> None:
    chosen = [name for name in ("layers", "every") if name in init]
    if init["method"] == "teacher_layers" and len(chosen) != 1:
        problem = "needs either" if not chosen else "takes only one of"
        raise ConfigError(f"{key}.layers", f"method teacher_layers {problem} `layers` (a list) or `every` (k)")
    if init["method"] != "teacher_layers" and chosen:
        raise ConfigError(f"{key}.{chosen[0]}", f"only used with method teacher_layers, not {init['method']!r}")


def _check_weighting(key: str, weighting: Mapping[str, Any], teachers: list[str]) -> None:
    weights = weighting.get("weights")
    if weighting["method"] != "fixed":
        if weights is not None:
            raise ConfigError(f"{key}.weights", f"only used with method fixed, not {weighting['method']!r}")
        return
    if weights is None:
        raise ConfigError(f"{key}.weights", "method fixed needs a weight for each of the student's teachers")
    if set(weights) != set(teachers):
        raise ConfigError(
            f"{key}.weights", f"names teachers {sorted(weights)}; the student's teachers are {sorted(teachers)}"
        )
    if sum(weights.values()) <= 0:
        raise ConfigError(f"{key}.weights", "the weights sum to zero")


def _check_loss(key: str, student: Mapping[str, Any]) -> None:
    loss = student["loss"]
    problem = divergence_problem(loss.get("divergence", DEFAULT_DIVERGENCE), with_defaults(loss))
    if problem is not None:
        raise ConfigError(f"{key}.loss.{problem.key}", problem.problem)
    if student["train"] and student["teachers"] and loss["ce"] == 0 and loss["kd"] == 0 and loss["hidden"] == 0:
        raise ConfigError(f"{key}.loss", "all loss weights are zero; nothing would be learned")
    if student["train"] and not student["teachers"] and loss["ce"] == 0:
        raise ConfigError(
            f"{key}.loss.ce", "a student without teachers learns from gold labels only, so ce must be > 0"
        )


def _check_chains(prefix: str, students: Mapping[str, Any]) -> None:
    """`init: {method: student, student: <name>}`: an existing, trained student of the task, without cycles."""
    for name, student in students.items():
        init, key = student["init"], f"{prefix}.students.{name}.init"
        if (init["method"] == "student") != ("student" in init):
            raise ConfigError(f"{key}.student", "method student needs `student` (and only it uses that key)")
        if init["method"] != "student":
            continue
        seen = [name]
        current = init["student"]
        while True:
            if current not in students:
                raise ConfigError(f"{key}.student", f"{current!r} is not a student of this task")
            if current in seen:
                raise ConfigError(f"{key}.student", "the chain of students loops: " + " → ".join([*seen, current]))
            source = students[current]
            if not source["train"]:
                raise ConfigError(
                    f"{key}.student", f"{current!r} is not trained (train: false), so there is nothing to start from"
                )
            if current == init["student"] and source["model"] != student["model"]:
                raise ConfigError(
                    f"{prefix}.students.{name}.model",
                    f"{student['model']!r} differs from the model of {current!r} ({source['model']!r}), "
                    "whose weights this student starts from",
                )
            seen.append(current)
            if source["init"]["method"] != "student":
                break
            current = source["init"]["student"]


def _check_benchmark(benchmark: Mapping[str, Any]) -> None:
    """`benchmark.runs` spreads over `benchmark.rounds`: at least one timed call per round."""
    runs, rounds = benchmark.get("runs"), benchmark.get("rounds")
    if runs is not None and rounds is not None and runs < rounds:
        raise ConfigError(
            "benchmark.runs",
            f"{runs} timed calls cannot be spread over {rounds} rounds (at least one per round); "
            "raise benchmark.runs or lower benchmark.rounds",
        )


def _check_exports(prefix: str, task: Mapping[str, Any], workdir: Path | None) -> None:
    """Each student's `export` variants can be made of its architecture (ONNX: encoder classifiers only)."""
    for name, student in task["students"].items():
        wanted = student.get("export") or []
        if not wanted:
            continue
        architecture = model_type(student["model"], workdir)
        for config_name in wanted:
            problem = export_refusal(CONFIG_NAMES[config_name], _task_family(prefix, task), architecture)
            if problem:
                raise ConfigError(f"{prefix}.students.{name}.export", f"{config_name}: {problem}")


def _check_baselines(prefix: str, students: Mapping[str, Any]) -> None:
    """`baseline`: set on a trained student with teachers, naming a gold-only student of the same task."""
    for name, student in students.items():
        baseline = student.get("baseline")
        if baseline is None:
            continue
        key = f"{prefix}.students.{name}.baseline"
        if not student["train"] or not student["teachers"]:
            raise ConfigError(key, "only a trained student with teachers is compared with a gold-only baseline")
        if baseline not in students:
            raise ConfigError(key, f"{baseline!r} is not a student of this task (students: {', '.join(students)})")
        if not gold_only(students[baseline]):
            raise ConfigError(key, f"{baseline!r} is not trained on the gold labels alone (train: true, teachers: [])")


def _outside(layers: list[int], last: int) -> list[int]:
    return sorted({layer for layer in layers if not 0 <= layer <= last})


def _depth_problem(ref: str, layers: list[int], last: int, what: str) -> str | None:
    outside = _outside(layers, last)
    if not outside:
        return None
    return f"{what} {outside} do not exist: {ref} has {what} 0..{last}"


def _last_state(depth: Depth | None, side: str) -> int | None:
    """The last hidden-state index of one side (`encoder`, `decoder`) of a model; None when unknown."""
    if depth is None:
        return None
    return depth.encoder if side == "encoder" else depth.decoder


def _check_depths(prefix: str, task: Mapping[str, Any], workdir: Path | None) -> None:
    """Layer numbers (student init, hidden-state maps, cached teacher layers) within each model's depth.

    Models whose depth cannot be read without downloading them are checked by the stage that loads them.
    """
    depths = {name: model_depth(member["model"], workdir) for name, member in task["teachers"].items()}
    for name, teacher in task["teachers"].items():
        depth = depths[name]
        for side, layers in (teacher.get("hidden_layers") or {}).items():
            last = _last_state(depth, side)
            problem = None if last is None else _depth_problem(teacher["model"], layers, last, f"{side} hidden states")
            if problem:
                raise ConfigError(f"{prefix}.teachers.{name}.hidden_layers.{side}", problem)
    for name, student in task["students"].items():
        key, depth = f"{prefix}.students.{name}", model_depth(student["model"], workdir)
        init = student["init"]
        if depth is not None and init["method"] == "teacher_layers" and "layers" in init:
            problem = _depth_problem(student["model"], list(init["layers"]), depth.encoder - 1, "layers")
            if problem:
                raise ConfigError(f"{key}.init.layers", problem)
        student_last = None if depth is None else depth.encoder
        if init["method"] == "teacher_layers" and depth is not None:
            student_last = len(init["layers"]) if "layers" in init else len(range(0, depth.encoder, int(init["every"])))
        for student_layer, targets in (student["loss"].get("hidden_map") or {}).items():
            if student_last is not None and not 0 <= int(student_layer) <= student_last:
                raise ConfigError(
                    f"{key}.loss.hidden_map",
                    f"student hidden state {student_layer} does not exist: "
                    f"the initialised student has hidden states 0 (embeddings) .. {student_last}",
                )
            for teacher, teacher_layer in targets.items():
                teacher_depth = depths.get(teacher)
                problem = (
                    None
                    if teacher_depth is None
                    else _depth_problem(
                        task["teachers"][teacher]["model"], [teacher_layer], teacher_depth.encoder, "hidden states"
                    )
                )
                if problem:
                    raise ConfigError(f"{key}.loss.hidden_map.{student_layer}.{teacher}", problem)
        for side, pairs in (student["loss"].get("hidden_layers") or {}).items():
            last = _last_state(depth, side)
            if init["method"] == "teacher_layers":  # a bert2bert student keeps the same blocks on both sides
                last = student_last
            problem = (
                None
                if last is None
                else _depth_problem(student["model"], [s for s, _ in pairs], last, f"{side} hidden states")
            )
            if problem:
                raise ConfigError(f"{key}.loss.hidden_layers.{side}", problem)
