"""Selecting and checking a model's layers: DistilBERT-style students keep a subset of an encoder's blocks."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PretrainedConfig, PreTrainedModel

from scalingdown.pipeline.names.model_refs import ModelLoadError
from scalingdown.pipeline.specs.codec import SpecError
from scalingdown.pipeline.specs.definitions import InitSettings


def check_hidden_layers(config: PretrainedConfig, layers: list[int], who: str) -> None:
    """Refuse hidden-state indices outside 0 (embeddings) .. num_hidden_layers, naming `who`."""
    depth = int(config.num_hidden_layers)
    outside = [layer for layer in layers if not 0 <= layer <= depth]
    if outside:
        raise ModelLoadError(
            f"{who}: hidden layers {outside} do not exist; it has hidden states 0 (embeddings) .. {depth}"
        )


def encoder_layers(model: PreTrainedModel) -> torch.nn.ModuleList:
    """The list of transformer blocks of an encoder (BERT, RoBERTa, DistilBERT families)."""
    base = model.base_model
    for path in ("encoder.layer", "transformer.layer"):
        module: Any = base
        for attribute in path.split("."):
            module = getattr(module, attribute, None)
            if module is None:
                break
        if isinstance(module, torch.nn.ModuleList):
            return module
    raise ModelLoadError(f"{type(model).__name__}: cannot find its transformer layers to select from")


def keep_layers(model: PreTrainedModel, layers: list[int]) -> PreTrainedModel:
    """Keep only `layers` (in the given order) of the model's encoder, DistilBERT style."""
    blocks = encoder_layers(model)
    depth = len(blocks)
    outside = [index for index in layers if index >= depth]
    if outside:
        raise ModelLoadError(f"layers {outside} are outside the model's depth ({depth} layers: 0..{depth - 1})")
    kept = torch.nn.ModuleList([blocks[index] for index in layers])
    blocks._modules.clear()
    for position, block in enumerate(kept):
        blocks.add_module(str(position), block)
    model.config.num_hidden_layers = len(layers)
    return model


def kept_layers(init: InitSettings, depth: int) -> list[int]:
    """The layers a `teacher_layers` init keeps: `layers`, or every k-th layer from 0 (`every: k`)."""
    if init.every is not None:
        return list(range(0, depth, init.every))
    if init.layers is None:
        raise SpecError("init_student: method teacher_layers needs `layers` or `every`")
    return list(init.layers)
