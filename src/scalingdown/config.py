"""Configuration helpers that the Snakefile imports: canonical forms, hashing, semantic checks.

Light on purpose (standard library only): the Snakefile runs again inside every cluster job.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.data.registry import DataConfigError, check_data
from scalingdown.errors import UserError
from scalingdown.seq2seq.formats import is_seq2seq, prompt_problem

# Defaults of the keys that only text-to-text (seq2seq) tasks use; the schema gives them none so
# that a classification task setting one is an error rather than silently ignored.
SEQ2SEQ_DEFAULTS: dict[str, Any] = {"max_target_length": 64, "top_k": 32, "targets": "gold"}
_SEQ2SEQ_TEACHER_KEYS = ("max_target_length", "top_k", "targets", "hidden_layers")
_SEQ2SEQ_STUDENT_KEYS = ("max_target_length",)
_SEQ2SEQ_LOSS_KEYS = ("hidden", "hidden_layers")


class ConfigError(UserError, ValueError):
    """A config value is invalid; the message starts with the dotted key that is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key `{key}`: {problem}")
        self.key = key
        self.problem = problem


def canonical(value: Any) -> Any:
    """Return `value` as plain, key-sorted builtins.

    Snakemake compares params by `repr`, so dict order, `3` vs `3.0` and numpy scalars would
    otherwise trigger (or hide) reruns. Integral floats become ints; tuples become lists.
    """
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        value = value.item()  # numpy / torch scalar
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"cannot canonicalise {type(value).__name__}: {value!r}")


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON of `canonical(value)`: the form passed to stages as params."""
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(value: Any, length: int = 10) -> str:
    """A short, stable content hash of `value` (sha256 over its canonical JSON)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base`; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_student_defaults(config: dict[str, Any]) -> None:
    """Merge each task's `student_defaults` into its students, in place, before validation."""
    for task in (config.get("tasks") or {}).values():
        if not isinstance(task, dict):
            continue
        defaults = task.get("student_defaults") or {}
        students = task.get("students") or {}
        if isinstance(defaults, Mapping) and isinstance(students, Mapping):
            task["students"] = {
                name: deep_merge(defaults, spec) if isinstance(spec, Mapping) else spec
                for name, spec in students.items()
            }


def check_config(config: Mapping[str, Any], workdir: Path | None = None) -> None:
    """Semantic checks the JSON schema cannot express. Raises `ConfigError` naming the key."""
    _check_distributed(config, workdir)
    for task_name, task in config["tasks"].items():
        prefix = f"tasks.{task_name}"
        try:
            check_data(task["data"]["loader"], task["type"], task["data"].get("options", {}))
        except DataConfigError as error:
            raise ConfigError(f"{prefix}.{error.key}", error.problem) from None
        teachers = task["teachers"]
        for name, teacher in teachers.items():
            _check_model_ref(f"{prefix}.teachers.{name}.model", teacher["model"], workdir)
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
            init = student["init"]
            if init["method"] == "teacher_layers" and "layers" not in init:
                raise ConfigError(f"{key}.init.layers", "method teacher_layers needs a list of layers to keep")
            if init["method"] != "teacher_layers" and "layers" in init:
                raise ConfigError(f"{key}.init.layers", f"only used with method teacher_layers, not {init['method']!r}")
            loss = student["loss"]
            if student["train"] and student["teachers"] and loss["ce"] == 0 and loss["kd"] == 0:
                raise ConfigError(f"{key}.loss", "all loss weights are zero; nothing would be learned")
            if student["train"] and not student["teachers"] and loss["ce"] == 0:
                raise ConfigError(f"{key}.loss.ce", "a student without teachers learns from gold labels only, so ce must be > 0")
        labels = task.get("labels")
        if labels is None and task["type"] == "classification":
            raise ConfigError(f"{prefix}.labels", "a classification task needs its label names")
        _check_chains(prefix, task["students"])
        if is_seq2seq(task["type"]):
            _check_seq2seq(prefix, task)
        else:
            _check_no_seq2seq_keys(prefix, task)


def seq2seq_setting(member: Mapping[str, Any], key: str) -> Any:
    """A seq2seq-only teacher/student setting, or its default."""
    return member.get(key, SEQ2SEQ_DEFAULTS.get(key))


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
                raise ConfigError(f"{key}.student", f"{current!r} is not trained (train: false), so there is nothing to start from")
            if current == init["student"] and source["model"] != student["model"]:
                raise ConfigError(f"{prefix}.students.{name}.model",
                                  f"{student['model']!r} differs from the model of {current!r} ({source['model']!r}), "
                                  "whose weights this student starts from")
            seen.append(current)
            if source["init"]["method"] != "student":
                break
            current = source["init"]["student"]


def _check_no_seq2seq_keys(prefix: str, task: Mapping[str, Any]) -> None:
    found = ["prompt"] if "prompt" in task else []
    found += [f"teachers.{name}.{key}" for name, teacher in task["teachers"].items()
              for key in _SEQ2SEQ_TEACHER_KEYS if key in teacher]
    found += [f"students.{name}.{key}" for name, student in task["students"].items()
              for key in _SEQ2SEQ_STUDENT_KEYS if key in student]
    found += [f"students.{name}.loss.{key}" for name, student in task["students"].items()
              for key in _SEQ2SEQ_LOSS_KEYS if key in student["loss"]]
    if found:
        raise ConfigError(f"{prefix}.{found[0]}", f"only text-to-text tasks use this key, not a {task['type']} task")


def _check_seq2seq(prefix: str, task: Mapping[str, Any]) -> None:
    for role in ("teachers", "students"):
        for name, member in task[role].items():
            if member["model"].startswith("tiny:") and not member["model"].startswith("tiny:t5-"):
                raise ConfigError(f"{prefix}.{role}.{name}.model",
                                  f"{member['model']!r} is an encoder classifier; a {task['type']} task needs a "
                                  "text-to-text (T5-family) model, e.g. tiny:t5-l2-h32 or hub:t5-small")
    if task.get("labels") is not None:
        raise ConfigError(f"{prefix}.labels", f"a {task['type']} task has no label names (its targets are texts)")
    for part, template in (task.get("prompt") or {}).items():
        problem = prompt_problem(task["type"], part, template)
        if problem:
            raise ConfigError(f"{prefix}.prompt.{part}", problem)
    teachers = task["teachers"]
    for name, student in task["students"].items():
        key = f"{prefix}.students.{name}"
        if student.get("teacher_mode") == "online" and student["teachers"]:
            raise ConfigError(f"{key}.teacher_mode", "text-to-text students learn from the top-k cache; "
                              "teacher_mode online is for classification tasks")
        if student["init"]["method"] == "teacher_layers":
            raise ConfigError(f"{key}.init.method", "teacher_layers selects encoder-classifier layers; a text-to-text "
                              "student starts pretrained, from scratch, or from another student")
        mine = [teachers[t] for t in student["teachers"]]
        generated = [t for t in student["teachers"] if seq2seq_setting(teachers[t], "targets") == "generated"]
        if generated and len(student["teachers"]) > 1:
            raise ConfigError(f"{key}.teachers", f"teacher {generated[0]!r} caches its own generations (targets: "
                              "generated); a student learning those sequences has exactly one teacher")
        for teacher_name, teacher in zip(student["teachers"], mine):
            if teacher_name not in generated and (seq2seq_setting(teacher, "max_target_length")
                                                  != seq2seq_setting(student, "max_target_length")):
                raise ConfigError(f"{key}.max_target_length",
                                  f"must equal that of teacher {teacher_name!r} ({seq2seq_setting(teacher, 'max_target_length')}): "
                                  "the teacher's cached distributions are aligned with the student's target tokens")
        _check_hidden(key, student, {t: teachers[t] for t in student["teachers"]})


def _check_hidden(key: str, student: Mapping[str, Any], teachers: Mapping[str, Any]) -> None:
    loss = student["loss"]
    if not student["train"]:
        return
    if loss.get("hidden", 0) > 0 and "lora" in student["training"]:
        raise ConfigError(f"{key}.loss.hidden", "the hidden-state loss trains projections next to the student, "
                          "which LoRA (training.lora) would freeze: use one or the other")
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
                raise ConfigError(f"{key}.loss.hidden_layers.{side}",
                                  f"teacher {teacher_name!r} caches no {side} hidden state of layer(s) {missing}; "
                                  f"add them to its hidden_layers.{side}")


TRAINING_STAGES = ("finetune_teacher", "distill")


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
        raise ConfigError("distributed.deepspeed",
                          f"cannot read the DeepSpeed config {deepspeed!r}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ConfigError("distributed.deepspeed",
                          f"{deepspeed} line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(settings, dict):
        raise ConfigError("distributed.deepspeed", f"{deepspeed} must hold a JSON object")


def _check_model_ref(key: str, ref: str, workdir: Path | None) -> None:
    scheme, _, rest = ref.partition(":")
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
            f"{ref!r} is neither hub:<id>, package:<name>, tiny:<arch> nor an existing model directory",
        )
