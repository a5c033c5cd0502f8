"""What a teacher's or student's settings mean for the specs and cache keys, read in one place: the defaults of the
keys only text-to-text members use, the pairs of a hidden-layer map, LoRA settings by content, a text-to-text
teacher's cache settings, and whether teachers run online. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from scalingdown.pipeline.canonical import canonical
from scalingdown.pipeline.errors import ConfigError

# Defaults of the keys that only text-to-text tasks use; the schema gives them none so that a classification task
# setting one is an error rather than silently ignored.
TEXT2TEXT_DEFAULTS: dict[str, Any] = {"max_target_length": 64, "top_k": 32, "targets": "gold"}
# Where the keys only text-to-text tasks use sit: in the task, its teachers, its students, their `loss`.
TEXT2TEXT_TASK_KEYS = ("prompt", "option_score")
TEXT2TEXT_TEACHER_KEYS = ("max_target_length", "top_k", "targets", "hidden_layers")
TEXT2TEXT_STUDENT_KEYS = ("max_target_length",)
TEXT2TEXT_LOSS_KEYS = ("hidden_layers",)

# The peft LoraConfig arguments of `finetune.method: lora` when `finetune.lora_config` names no other file.
DEFAULT_LORA_CONFIG = "config/lora_config.json"


class HiddenPair(NamedTuple):
    """One pair of a student's hidden-layer map: its hidden state `student_layer` matches `teacher`'s `teacher_layer`
    (0 = embeddings)."""

    student_layer: int
    teacher: str
    teacher_layer: int


def text2text_setting(member: Mapping[str, Any], key: str) -> Any:
    """A text-to-text-only teacher/student setting, or its default."""
    return member.get(key, TEXT2TEXT_DEFAULTS.get(key))


def hidden_pairs(hidden_map: Mapping[Any, Mapping[str, Any]] | None) -> list[HiddenPair]:
    """A `loss.hidden_map` (student layer → {teacher: teacher layer}) as sorted pairs; the spec's `LossSpec` and
    the config checks read it through this one function."""
    return sorted(
        HiddenPair(int(student_layer), str(teacher), int(teacher_layer))
        for student_layer, targets in (hidden_map or {}).items()
        for teacher, teacher_layer in targets.items()
    )


def lora_settings(
    finetune: Mapping[str, Any], workdir: Path | None = None, key: str = "finetune.lora_config"
) -> dict[str, Any]:
    """The peft `LoraConfig` arguments a LoRA fine-tune uses (the JSON file it names, or the default)."""
    name = finetune.get("lora_config", DEFAULT_LORA_CONFIG)
    path = Path(name)
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            key, f"LoRA config {name!r} not found (paths are relative to the working directory)"
        ) from None
    except json.JSONDecodeError as error:
        raise ConfigError(key, f"{name} is not valid JSON: {error}") from None
    if not isinstance(settings, dict):
        raise ConfigError(key, f"{name} must hold a JSON object of peft LoraConfig arguments")
    if "task_type" in settings:
        raise ConfigError(key, f"{name}: leave out task_type (ScalingDown sets it from the model)")
    return settings


def cache_settings(teacher: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a text-to-text teacher's cache beyond the teacher itself."""
    return {
        "top_k": text2text_setting(teacher, "top_k"),
        "targets": text2text_setting(teacher, "targets"),
        "hidden_layers": teacher.get("hidden_layers") or {},
    }


def finetune_settings(finetune: Mapping[str, Any] | bool) -> Mapping[str, Any] | bool:
    """A teacher's fine-tune settings with the LoRA file replaced by its content (what determines the model)."""
    if isinstance(finetune, bool) or finetune["method"] != "lora":
        return finetune
    settings = {key: value for key, value in finetune.items() if key != "lora_config"}
    return {**settings, "lora": canonical(lora_settings(finetune))}


def teachers_online(teachers: Any, teacher_mode: str) -> bool:
    """Whether a student's teachers run inside its training loop (`teacher_mode: online`) instead of being read from
    their caches: only when it has teachers."""
    return bool(teachers) and teacher_mode == "online"
