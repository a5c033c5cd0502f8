"""The `finetune_teacher` stage: fine-tune a teacher on the task's gold labels or targets (full or LoRA)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedModel

from scalingdown.classification import LabelMismatch, align_columns, fit_classifier
from scalingdown.models import ModelRef, load_classifier, load_config, load_seq2seq, load_tokenizer, model_label_names
from scalingdown.provenance import provenance_record
from scalingdown.seq2seq.fit import fit_seq2seq
from scalingdown.seq2seq.formats import is_seq2seq
from scalingdown.training import save_trained

log = logging.getLogger(__name__)


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


def finetune_teacher(
    spec: dict[str, Any], data_dir: str, out_dir: str, history: str, checkpoints: str, experiment: str | None = None
) -> None:
    """Fine-tune `spec["model"]` and save it (safetensors + tokenizer + provenance) to `out_dir`.

    With `method: lora` the adapters are merged into the weights before saving, so later stages
    load a plain model.
    """
    tokenizer = load_tokenizer(spec["model"])
    training = {"seed": spec["seed"], **spec["training"]}
    if spec.get("method", "full") == "lora":
        training["lora"] = spec["lora"]
    resume_key = {"stage": "finetune_teacher", "spec": spec, "data": str(Path(data_dir))}
    if is_seq2seq(spec.get("type", "classification")):
        model = load_seq2seq(spec["model"], seed=spec["seed"])
        log_history = fit_seq2seq(
            model,
            tokenizer,
            data_dir,
            spec,
            spec["max_length"],
            spec["max_target_length"],
            training,
            loss={"ce": 1.0},
            checkpoints=checkpoints,
            resume_key=resume_key,
        )
    else:
        model = starting_model(spec)
        log_history = fit_classifier(
            model,
            tokenizer,
            data_dir,
            spec["labels"],
            spec["max_length"],
            training,
            loss={"ce": 1.0, "kd": 0.0, "temperature": 1.0},
            checkpoints=checkpoints,
            resume_key=resume_key,
        )
    save_trained(
        model,
        tokenizer,
        out_dir,
        history,
        log_history,
        checkpoints,
        provenance=provenance_record("finetune_teacher", experiment),
    )
