"""The `init_student` stage: build a student's starting weights (the untrained baseline)."""

from __future__ import annotations

import torch
from transformers import AutoModelForSequenceClassification

from scalingdown.models.encoder_decoder import select_layers
from scalingdown.models.layers import keep_layers
from scalingdown.models.loading import label_config, load_classifier, load_config, load_seq2seq, load_tokenizer
from scalingdown.pipeline.names.families import family_of
from scalingdown.pipeline.outputs.atomic import atomic_path
from scalingdown.pipeline.outputs.provenance import provenance_record, write_provenance
from scalingdown.pipeline.specs.codec import SpecError
from scalingdown.pipeline.specs.definitions import InitSettings, InitSpec


def build_student(spec: InitSpec) -> torch.nn.Module:
    """The initial student: pretrained weights, a subset of a model's layers, or a seeded random init."""
    ref, init, labels, seed = spec.model, spec.init, spec.labels or [], spec.seed
    if family_of(spec.type).generative:
        model = load_seq2seq(ref, seed=seed, pretrained=init.method != "scratch")
        if init.method == "teacher_layers":  # a bert2bert model: the same blocks of encoder and decoder
            model = select_layers(model, kept_layers(init, int(model.config.encoder.num_hidden_layers)))
        return model
    torch.manual_seed(seed)
    if init.method == "scratch":
        config = load_config(ref)
        for key, value in label_config(labels).items():
            setattr(config, key, value)
        return AutoModelForSequenceClassification.from_config(config)
    model = load_classifier(ref, labels, seed=seed)
    if init.method == "teacher_layers":
        keep_layers(model, kept_layers(init, int(model.config.num_hidden_layers)))
    return model


def kept_layers(init: InitSettings, depth: int) -> list[int]:
    """The layers a `teacher_layers` init keeps: `layers`, or every k-th layer from 0 (`every: k`)."""
    if init.every is not None:
        return list(range(0, depth, init.every))
    if init.layers is None:
        raise SpecError("init_student: method teacher_layers needs `layers` or `every`")
    return list(init.layers)


def init_student(spec: InitSpec, out: str, experiment: str | None = None) -> None:
    """Write the initial student (model + tokenizer + provenance) to `out`."""
    model = build_student(spec)
    tokenizer = load_tokenizer(spec.model)
    with atomic_path(out, stage="init_student") as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_provenance(staging, provenance_record("init_student", experiment))
