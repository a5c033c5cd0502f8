"""Loading causal LMs (any `AutoModelForCausalLM`: a directory, `hub:`, `package:` — a GGUF package is converted once,
see `models.gguf` —, or `tiny:llama-l<layers>-h<width>`) and pruning them by depth.

`teacher_layers` keeps a subset of the decoder blocks (e.g. every 5th of SmolLM2's 30 → 6 blocks, 49.6 M
parameters): each kept block's attention gets its new index (the KV cache of generation is indexed by it) and a
config listing one entry per layer (`layer_types`) keeps the kept layers' entries. Tied input and output embeddings
stay tied.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel

from scalingdown.models.loading import load_config, pretrained_location
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.model_refs import ModelRef


def load_causal(ref: str, seed: int = 0, pretrained: bool = True) -> PreTrainedModel:
    """A causal LM from a reference; `pretrained=False` (and every tiny model) gives weights drawn with `seed`."""
    parsed = ModelRef.parse(ref)
    if parsed.kind == "tiny" or not pretrained:
        torch.manual_seed(seed)
        built: PreTrainedModel = AutoModelForCausalLM.from_config(load_config(ref))
        return built
    location, options = pretrained_location(ref)
    try:
        model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(location, use_safetensors=True, **options)
    except (OSError, ValueError) as error:
        raise UserError(f"could not load {ref} as a causal LM: {error}") from error
    return model


def decoder_blocks(model: PreTrainedModel) -> torch.nn.ModuleList:
    """The decoder blocks of a causal LM (`model.model.layers` in Llama, Qwen, Mistral, …)."""
    inner = getattr(model, "model", None)
    blocks = getattr(inner, "layers", None)
    if not isinstance(blocks, torch.nn.ModuleList):
        raise UserError(
            f"{type(model).__name__} keeps its blocks elsewhere than `model.layers`: teacher_layers cannot prune it"
        )
    return blocks


def keep_blocks(model: PreTrainedModel, layers: list[int]) -> PreTrainedModel:
    """`model` with only the decoder blocks `layers` (in that order), renumbered for the KV cache."""
    blocks = decoder_blocks(model)
    outside = [layer for layer in layers if not 0 <= layer < len(blocks)]
    if outside or not layers:
        raise UserError(f"teacher_layers {layers}: the model has blocks 0 … {len(blocks) - 1}")
    kept = torch.nn.ModuleList(blocks[layer] for layer in layers)
    for index, block in enumerate(kept):
        attention = getattr(block, "self_attn", None)
        if attention is not None and hasattr(attention, "layer_idx"):
            attention.layer_idx = index
    cast(Any, model).model.layers = kept
    config = model.config
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = [config.layer_types[layer] for layer in layers]
    config.num_hidden_layers = len(layers)
    return model
