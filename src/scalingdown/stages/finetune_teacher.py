"""The `finetune_teacher` stage: fine-tune a teacher on the task's gold labels or targets (full or LoRA)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from transformers import PreTrainedModel

from scalingdown.data.labels import LabelMismatch, align_columns
from scalingdown.models.loading import load_classifier, load_config, load_seq2seq, load_tokenizer, model_label_names
from scalingdown.pipeline.names.model_refs import ModelRef
from scalingdown.pipeline.outputs.provenance import provenance_record
from scalingdown.pipeline.specs.definitions import FinetuneSpec, LossSpec
from scalingdown.seq2seq.fit import fit_seq2seq
from scalingdown.training.classification import fit_classifier
from scalingdown.training.trainer import check_trained_outputs, save_trained

log = logging.getLogger(__name__)


# What a teacher learns from: the gold labels or targets alone.
GOLD_ONLY = LossSpec(ce=1.0, kd=0.0, temperature=1.0, hidden=0.0, hidden_projection="auto", hidden_map={})


def starting_model(spec: FinetuneSpec) -> PreTrainedModel:
    """The model to fine-tune: its own classification head when that head already predicts the
    task's labels (by name, or through the teacher's label map), otherwise a new head for them."""
    labels = spec.labels or []
    if ModelRef.parse(spec.model).kind != "tiny":
        names = model_label_names(load_config(spec.model), spec.label_map)
        try:
            align_columns(np.zeros((0, len(names))), names, labels, "")
        except LabelMismatch:
            pass
        else:
            log.info("keeping the model's own head: its labels %s are the task's", names)
            return load_classifier(spec.model)
    return load_classifier(spec.model, labels, seed=spec.seed)


def finetune_teacher(
    spec: FinetuneSpec, data: str, out: str, history: str, checkpoints: str, experiment: str | None = None
) -> None:
    """Fine-tune `spec.model` on the prepared `data` and save it (safetensors + tokenizer + provenance) to `out`.

    With `method: lora` the adapters are merged into the weights before saving, so later stages
    load a plain model.
    """
    check_trained_outputs(out, history, checkpoints, "finetune_teacher")
    tokenizer = load_tokenizer(spec.model)
    training = spec.training if spec.training.seed is not None else replace(spec.training, seed=spec.seed)
    lora = spec.lora if spec.method == "lora" else None
    resume_key = {"stage": "finetune_teacher", "spec": spec.to_dict(), "data": str(Path(data))}
    if spec.text is not None:
        model = load_seq2seq(spec.model, seed=spec.seed)
        run = fit_seq2seq(
            model,
            tokenizer,
            data,
            spec.text,
            spec.type,
            spec.max_length,
            training,
            GOLD_ONLY,
            checkpoints=checkpoints,
            resume_key=resume_key,
            lora=lora,
        )
    else:
        model = starting_model(spec)
        run = fit_classifier(
            model,
            tokenizer,
            data,
            spec.labels or [],
            spec.max_length,
            training,
            GOLD_ONLY,
            checkpoints=checkpoints,
            resume_key=resume_key,
            lora=lora,
        )
    save_trained(
        model,
        tokenizer,
        out,
        history,
        run,
        checkpoints,
        "finetune_teacher",
        provenance=provenance_record("finetune_teacher", experiment),
    )
