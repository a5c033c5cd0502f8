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
        _check_stages_support(prefix, task["type"])
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


def _check_stages_support(prefix: str, task_type: str) -> None:
    """Teachers and students handle classification only, so far: delete this check when seq2seq lands."""
    if task_type != "classification":
        raise ConfigError(f"{prefix}.type", f"{task_type!r} data can be prepared and inspected "
                                            "(`scalingdown data inspect`), but teachers and students support "
                                            "only classification so far")


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
