"""The config checks of a text-to-text task (`check_config` calls them after the checks every task gets): text-to-text
models, prompts, what a student shares with its teachers (vocabulary, target length, cached hidden layers). Standard
library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.label_budgets import has_budget
from scalingdown.pipeline.config.model_files import is_causal_lm, model_json
from scalingdown.pipeline.config.settings import text2text_setting
from scalingdown.pipeline.config.vocabularies import vocabulary_difference, vocabulary_identity
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.model_refs import BERT2BERT
from scalingdown.pipeline.names.tasks import prompt_problem


def check_text2text_task(prefix: str, task: Mapping[str, Any], workdir: Path | None) -> None:
    """The checks of text-to-text task `prefix` (`tasks.<task>`); `ConfigError` naming the key."""
    for role in ("teachers", "students"):
        for name, member in task[role].items():
            if _is_encoder_only(member["model"], workdir):
                raise ConfigError(
                    f"{prefix}.{role}.{name}.model",
                    f"{member['model']!r} is an encoder; a {task['type']} task needs a text-to-text model: "
                    f"T5 family (e.g. tiny:t5-l2-h32, hub:t5-small) or one warm-started from it, "
                    f"bert2bert:{member['model']}",
                )
            if is_causal_lm(member["model"], workdir):
                raise ConfigError(
                    f"{prefix}.{role}.{name}.model",
                    f"{member['model']!r} is a decoder-only causal LM; a task learnt by causal LMs says family: causal",
                )
    check_text_task(prefix, task)
    for name, student in task["students"].items():
        if student["loss"].get("hidden_map"):
            raise ConfigError(
                f"{prefix}.students.{name}.loss.hidden_map",
                "text-to-text students pair layers with "
                "loss.hidden_layers ({encoder: [[student, teacher], ...], decoder: [...]})",
            )
    teachers = task["teachers"]
    for name, student in task["students"].items():
        key = f"{prefix}.students.{name}"
        if student["init"]["method"] == "teacher_layers" and not _is_bert2bert(student["model"], workdir):
            raise ConfigError(
                f"{key}.init.method",
                "teacher_layers keeps blocks of a bert2bert:<BERT> model; any other text-to-text "
                "student starts pretrained, from scratch, or from another student",
            )
        _check_shared_vocabulary(key, student, {t: teachers[t] for t in student["teachers"]}, workdir)
        _check_hidden(key, student, {t: teachers[t] for t in student["teachers"]})


def check_text_task(prefix: str, task: Mapping[str, Any]) -> None:
    """What every task of a generative family needs (text-to-text and causal): no label names, options scored only
    by multiple choice, valid prompts, students learning from the top-k cache, one teacher per student learning
    a teacher's own generations, and the teachers' target length."""
    if task.get("labels") is not None:
        raise ConfigError(f"{prefix}.labels", f"a {task['type']} task has no label names (its targets are texts)")
    if "option_score" in task and task["type"] != "multiple_choice":
        raise ConfigError(
            f"{prefix}.option_score", f"a {task['type']} task has no options to score (multiple_choice tasks only)"
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
                f"{task['type']} students learn from the top-k cache; teacher_mode online is for classification tasks",
            )
        generated = [t for t in student["teachers"] if text2text_setting(teachers[t], "targets") == "generated"]
        if (generated or has_budget(task["data"])) and len(student["teachers"]) > 1:
            why = (
                f"teacher {generated[0]!r} caches its own generations (targets: generated)"
                if generated
                else "with data.label_budget a transfer row's target is its teacher's own generation"
            )
            raise ConfigError(f"{key}.teachers", f"{why}; a student learning those sequences has exactly one teacher")
        for teacher_name in student["teachers"]:
            teacher = teachers[teacher_name]
            if teacher_name not in generated and (
                text2text_setting(teacher, "max_target_length") != text2text_setting(student, "max_target_length")
            ):
                raise ConfigError(
                    f"{key}.max_target_length",
                    f"must equal that of teacher {teacher_name!r} ({text2text_setting(teacher, 'max_target_length')}): "
                    "the teacher's cached distributions are aligned with the student's target tokens",
                )


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
