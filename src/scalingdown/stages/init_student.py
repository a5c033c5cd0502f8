"""The `init_student` stage: build a student's starting weights (the untrained baseline)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoModelForSequenceClassification

from scalingdown.atomic import atomic_path
from scalingdown.encoder_decoder import select_layers
from scalingdown.models import (
    keep_layers,
    label_config,
    load_classifier,
    load_config,
    load_seq2seq,
    load_tokenizer,
)
from scalingdown.provenance import provenance_record, write_provenance
from scalingdown.seq2seq.formats import is_seq2seq


def build_student(spec: dict[str, Any]) -> torch.nn.Module:
    """The initial student: pretrained weights, a subset of a model's layers, or a seeded random init."""
    ref, init, labels, seed = spec["model"], spec["init"], spec["labels"], spec["seed"]
    if is_seq2seq(spec.get("type", "classification")):
        model = load_seq2seq(ref, seed=seed, pretrained=init["method"] != "scratch")
        if init["method"] == "teacher_layers":  # a bert2bert model: the same blocks of encoder and decoder
            model = select_layers(model, kept_layers(init, int(model.config.encoder.num_hidden_layers)))
        return model
    torch.manual_seed(seed)
    if init["method"] == "scratch":
        config = load_config(ref)
        for key, value in label_config(labels).items():
            setattr(config, key, value)
        return AutoModelForSequenceClassification.from_config(config)
    model = load_classifier(ref, labels, seed=seed)
    if init["method"] == "teacher_layers":
        keep_layers(model, kept_layers(init, int(model.config.num_hidden_layers)))
    return model


def kept_layers(init: dict[str, Any], depth: int) -> list[int]:
    """The layers a `teacher_layers` init keeps: `layers`, or every k-th layer from 0 (`every: k`)."""
    if "every" in init:
        return list(range(0, depth, int(init["every"])))
    return list(init["layers"])


def init_student(spec: dict[str, Any], out_dir: str, experiment: str | None = None) -> None:
    """Write the initial student (model + tokenizer + provenance) to `out_dir`."""
    model = build_student(spec)
    tokenizer = load_tokenizer(spec["model"])
    with atomic_path(out_dir) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_provenance(staging, provenance_record("init_student", experiment))
