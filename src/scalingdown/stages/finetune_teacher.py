"""The `finetune_teacher` stage: fine-tune a teacher on the task's gold labels (full or LoRA)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedModel

from scalingdown.atomic import atomic_path, write_json
from scalingdown.classification import LabelMismatch, align_columns, fit_classifier
from scalingdown.errors import UserError
from scalingdown.models import ModelRef, load_classifier, load_config, load_tokenizer, model_label_names
from scalingdown.training import finish_checkpoints

log = logging.getLogger(__name__)


class LoraSettingsError(UserError, ValueError):
    """The LoRA settings are not valid `peft.LoraConfig` arguments."""


def starting_model(spec: dict[str, Any]) -> PreTrainedModel:
    """The model to fine-tune: its own classification head when that head already predicts the
    task's labels (by name, or through the teacher's label map), otherwise a new head for them."""
    labels = spec["labels"]
    if ModelRef.parse(spec["model"]).kind != "tiny":
        names = model_label_names(load_config(spec["model"]), spec.get("label_map"))
        try:
            align_columns(np.zeros((0, len(names))), names, labels, "")
        except LabelMismatch:
            pass
        else:
            log.info("keeping the model's own head: its labels %s are the task's", names)
            return load_classifier(spec["model"])
    return load_classifier(spec["model"], labels, seed=spec["seed"])


def with_lora(model: PreTrainedModel, settings: dict[str, Any]) -> PreTrainedModel:
    """`model` with LoRA adapters from `settings` (peft `LoraConfig` arguments); the head stays trainable."""
    from peft import LoraConfig, TaskType, get_peft_model

    try:
        config = LoraConfig(task_type=TaskType.SEQ_CLS, **settings)
        wrapped = get_peft_model(model, config)
    except (TypeError, ValueError) as error:
        raise LoraSettingsError(f"LoRA settings {settings} rejected by peft: {error}") from error
    trainable, total = wrapped.get_nb_trainable_parameters()
    log.info("LoRA: %d of %d parameters trainable (%.2f%%)", trainable, total, 100 * trainable / total)
    return wrapped


def finetune_teacher(spec: dict[str, Any], data_dir: str, out_dir: str, history: str, checkpoints: str) -> None:
    """Fine-tune `spec["model"]` and save it (safetensors + tokenizer) to `out_dir`.

    With `method: lora` the adapters are merged into the weights before saving, so later stages
    load a plain model.
    """
    labels = spec["labels"]
    tokenizer = load_tokenizer(spec["model"])
    model = starting_model(spec)
    method = spec.get("method", "full")
    trained = with_lora(model, spec["lora"]) if method == "lora" else model
    training = {"seed": spec["seed"], **spec["training"]}
    log_history = fit_classifier(
        trained, tokenizer, data_dir, labels, spec["max_length"], training,
        loss={"ce": 1.0, "kd": 0.0, "temperature": 1.0},
        checkpoints=checkpoints, resume_key={"stage": "finetune_teacher", "spec": spec, "data": str(Path(data_dir))},
    )
    if method == "lora":
        model = trained.merge_and_unload()
    with atomic_path(out_dir) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    write_json(history, log_history)
    finish_checkpoints(checkpoints)
