"""Semantic checks of a validated config: what the JSON schema cannot express, each error naming its key.

They run before any job starts (the Snakefile calls `check_config`), read no model weights, and stay
standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.budgets import check_budgets, has_budget
from scalingdown.pipeline.config import ConfigError, hidden_pairs, lora_settings, seq2seq_setting
from scalingdown.pipeline.depth import Depth, model_depth, model_json, model_type
from scalingdown.pipeline.divergences import DEFAULT as DEFAULT_DIVERGENCE
from scalingdown.pipeline.divergences import divergence_problem, with_defaults
from scalingdown.pipeline.exports import CONFIG_NAMES, export_refusal
from scalingdown.pipeline.loaders import DataConfigError, check_data
from scalingdown.pipeline.refs import BERT2BERT
from scalingdown.pipeline.tasks import INPUTS, is_seq2seq, prompt_problem
from scalingdown.pipeline.transfer import check_transfer
from scalingdown.pipeline.twins import gold_only
from scalingdown.pipeline.value_checks import check_values, generated_train_rows
from scalingdown.pipeline.vocab_identity import vocabulary_difference, vocabulary_identity

_SEQ2SEQ_TEACHER_KEYS = ("max_target_length", "top_k", "targets", "hidden_layers")


_SEQ2SEQ_STUDENT_KEYS = ("max_target_length",)


_SEQ2SEQ_LOSS_KEYS = ("hidden_layers",)


TRAINING_STAGES = ("finetune_teacher", "distill")


def check_config(config: Mapping[str, Any], workdir: Path | None = None) -> None:
    """Semantic checks the JSON schema cannot express. Raises `ConfigError` naming the key."""
    check_values(config, workdir)
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
        if is_seq2seq(task["type"]):
            _check_seq2seq(prefix, task, workdir)
        else:
            _check_no_seq2seq_keys(prefix, task)
            for name, student in task["students"].items():
                _check_hidden_map(f"{prefix}.students.{name}", student)
        _check_exports(prefix, task, workdir)


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
        raise ConfigError(f"{key}.loss.{problem[0]}", problem[1])
    if student["train"] and student["teachers"] and loss["ce"] == 0 and loss["kd"] == 0 and loss["hidden"] == 0:
        raise ConfigError(f"{key}.loss", "all loss weights are zero; nothing would be learned")
    if student["train"] and not student["teachers"] and loss["ce"] == 0:
        raise ConfigError(
            f"{key}.loss.ce", "a student without teachers learns from gold labels only, so ce must be > 0"
        )


def _check_hidden_map(key: str, student: Mapping[str, Any]) -> None:
    """Classification students: `loss.hidden_map` names the student's teachers, with a weight to match."""
    loss = student["loss"]
    if loss["hidden"] > 0 and student.get("teacher_mode") == "online":
        raise ConfigError(
            f"{key}.teacher_mode",
            "the hidden-layer MSE learns from the cached pooled teacher "
            "states; teacher_mode online supports the logit loss only (set loss.hidden: 0)",
        )
    if any(int(layer) < 0 for layer in loss.get("hidden_map") or {}):
        raise ConfigError(f"{key}.loss.hidden_map", "student layers are hidden-state indices >= 0")
    pairs = hidden_pairs(loss)
    if loss["hidden"] > 0 and not pairs:
        raise ConfigError(f"{key}.loss.hidden_map", "loss.hidden > 0 needs a map of student layers to teacher layers")
    if pairs and loss["hidden"] == 0:
        raise ConfigError(f"{key}.loss.hidden", "hidden_map is set but its weight loss.hidden is 0")
    for _, teacher, _ in pairs:
        if teacher not in student["teachers"]:
            raise ConfigError(
                f"{key}.loss.hidden_map",
                f"teacher {teacher!r} is not one of the student's teachers {student['teachers']}",
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
            problem = export_refusal(CONFIG_NAMES[config_name], is_seq2seq(task["type"]), architecture)
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


def _check_no_seq2seq_keys(prefix: str, task: Mapping[str, Any]) -> None:
    found = [key for key in ("prompt", "option_score") if key in task]
    found += [
        f"teachers.{name}.{key}"
        for name, teacher in task["teachers"].items()
        for key in _SEQ2SEQ_TEACHER_KEYS
        if key in teacher
    ]
    found += [
        f"students.{name}.{key}"
        for name, student in task["students"].items()
        for key in _SEQ2SEQ_STUDENT_KEYS
        if key in student
    ]
    found += [
        f"students.{name}.loss.{key}"
        for name, student in task["students"].items()
        for key in _SEQ2SEQ_LOSS_KEYS
        if key in student["loss"]
    ]
    if found:
        raise ConfigError(f"{prefix}.{found[0]}", f"only text-to-text tasks use this key, not a {task['type']} task")


def _check_seq2seq(prefix: str, task: Mapping[str, Any], workdir: Path | None) -> None:
    for role in ("teachers", "students"):
        for name, member in task[role].items():
            if _is_encoder_only(member["model"], workdir):
                raise ConfigError(
                    f"{prefix}.{role}.{name}.model",
                    f"{member['model']!r} is an encoder; a {task['type']} task needs a text-to-text model: "
                    f"T5 family (e.g. tiny:t5-l2-h32, hub:t5-small) or one warm-started from it, "
                    f"bert2bert:{member['model']}",
                )
    if task.get("labels") is not None:
        raise ConfigError(f"{prefix}.labels", f"a {task['type']} task has no label names (its targets are texts)")
    if "option_score" in task and task["type"] != "multiple_choice":
        raise ConfigError(
            f"{prefix}.option_score", f"a {task['type']} task has no options to score (multiple_choice tasks only)"
        )
    for name, student in task["students"].items():
        if student["loss"].get("hidden_map"):
            raise ConfigError(
                f"{prefix}.students.{name}.loss.hidden_map",
                "text-to-text students pair layers with "
                "loss.hidden_layers ({encoder: [[student, teacher], ...], decoder: [...]})",
            )
    for part, template in (task.get("prompt") or {}).items():
        problem = prompt_problem(task["type"], part, template)
        if problem:
            raise ConfigError(f"{prefix}.prompt.{part}", problem)
    teachers = task["teachers"]
    for name, student in task["students"].items():
        key = f"{prefix}.students.{name}"
        if student.get("teacher_mode") == "online" and student["teachers"]:
            raise ConfigError(
                f"{key}.teacher_mode",
                "text-to-text students learn from the top-k cache; teacher_mode online is for classification tasks",
            )
        if student["init"]["method"] == "teacher_layers" and not _is_bert2bert(student["model"], workdir):
            raise ConfigError(
                f"{key}.init.method",
                "teacher_layers keeps blocks of a bert2bert:<BERT> model; any other text-to-text "
                "student starts pretrained, from scratch, or from another student",
            )
        _check_shared_vocabulary(key, student, {t: teachers[t] for t in student["teachers"]}, workdir)
        mine = [teachers[t] for t in student["teachers"]]
        generated = [t for t in student["teachers"] if seq2seq_setting(teachers[t], "targets") == "generated"]
        if (generated or has_budget(task["data"])) and len(student["teachers"]) > 1:
            why = (
                f"teacher {generated[0]!r} caches its own generations (targets: generated)"
                if generated
                else "with data.label_budget a transfer row's target is its teacher's own generation"
            )
            raise ConfigError(f"{key}.teachers", f"{why}; a student learning those sequences has exactly one teacher")
        for teacher_name, teacher in zip(student["teachers"], mine):
            if teacher_name not in generated and (
                seq2seq_setting(teacher, "max_target_length") != seq2seq_setting(student, "max_target_length")
            ):
                raise ConfigError(
                    f"{key}.max_target_length",
                    f"must equal that of teacher {teacher_name!r} ({seq2seq_setting(teacher, 'max_target_length')}): "
                    "the teacher's cached distributions are aligned with the student's target tokens",
                )
        _check_hidden(key, student, {t: teachers[t] for t in student["teachers"]})


# Model types of encoder-only checkpoints, which a text-to-text task uses through `bert2bert:`.
ENCODER_ONLY_TYPES = ("bert", "roberta", "distilbert", "electra", "albert", "xlm-roberta", "mpnet", "deberta-v2")


def _is_encoder_only(ref: str, workdir: Path | None) -> bool:
    """Whether a reference is known (tiny BERT, or from its config.json) to be an encoder without a decoder."""
    scheme, _, rest = ref.partition(":")
    if scheme == BERT2BERT:
        return False
    if scheme == "tiny":
        return rest.startswith("bert-")
    config = model_json(ref, "config.json", workdir)
    return config is not None and config.get("model_type") in ENCODER_ONLY_TYPES


def _is_bert2bert(ref: str, workdir: Path | None) -> bool:
    """A `bert2bert:` reference, or a saved encoder-decoder of two BERT-family stacks."""
    if ref.startswith(f"{BERT2BERT}:"):
        return True
    config = model_json(ref, "config.json", workdir) or {}
    return config.get("model_type") == "encoder-decoder"


def _check_shared_vocabulary(
    key: str, student: Mapping[str, Any], teachers: Mapping[str, Any], workdir: Path | None
) -> None:
    """A text-to-text student and each of its teachers use one vocabulary, as far as their files tell."""
    mine = vocabulary_identity(student["model"], workdir)
    for name, teacher in teachers.items():
        difference = vocabulary_difference(vocabulary_identity(teacher["model"], workdir), mine)
        if difference:
            raise ConfigError(
                f"{key}.model",
                f"{student['model']!r} and teacher {name!r} ({teacher['model']!r}) do not share a vocabulary "
                f"({difference}); token-level distillation compares token ids, so both need the same tokenizer",
            )


def _check_hidden(key: str, student: Mapping[str, Any], teachers: Mapping[str, Any]) -> None:
    loss = student["loss"]
    if not student["train"]:
        return
    pairs = {side: loss.get("hidden_layers", {}).get(side) or [] for side in ("encoder", "decoder")}
    if loss.get("hidden", 0) > 0 and not any(pairs.values()):
        raise ConfigError(f"{key}.loss.hidden_layers", "loss.hidden > 0 needs [student, teacher] layer pairs to match")
    if loss.get("hidden", 0) > 0 and not teachers:
        raise ConfigError(f"{key}.loss.hidden", "a student without teachers has no teacher hidden states to match")
    for teacher_name, teacher in teachers.items():
        for side, side_pairs in pairs.items():
            stored = (teacher.get("hidden_layers") or {}).get(side) or []
            missing = sorted({t for _, t in side_pairs} - set(stored))
            if missing and loss.get("hidden", 0) > 0:
                raise ConfigError(
                    f"{key}.loss.hidden_layers.{side}",
                    f"teacher {teacher_name!r} caches no {side} hidden state of layer(s) {missing}; "
                    f"add them to its hidden_layers.{side}",
                )
