"""BERT2BERT: text-to-text models warm-started from a BERT-family checkpoint (Rothe et al., 2020).

A `bert2bert:<ref>` reference builds a Hugging Face `EncoderDecoderModel` whose encoder and decoder
both start from the checkpoint `<ref>` (no weights shared between them). The decoder gets a causal
mask and cross-attention blocks; its output layer is tied to its word embeddings. Unlike Rothe et al.,
who start the cross-attention from random weights, each cross-attention block starts as a copy of its
layer's self-attention (encoder and decoder states live in the same space), and a language-model-head
transform the checkpoint lacks (sentence encoders such as all-MiniLM-L6-v2 have none) starts as the
identity: on CPU budgets of a few hundred steps, random ones leave the decoder ignoring its source
(bench/bert2bert_warm_start.py compares the two starts). Special tokens follow the recipe: the decoder
starts from `[CLS]`, `[SEP]` ends a target (the EOS) and `[PAD]` pads. Saved with `save_pretrained`, the
model loads back through `AutoModelForSeq2SeqLM` like any other text-to-text model.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any, cast

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    EncoderDecoderConfig,
    EncoderDecoderModel,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.utils import logging as hf_logging

from scalingdown.pipeline.names.model_refs import ModelLoadError

log = logging.getLogger(__name__)

# A transformer block's parameters in either stack: `encoder.encoder.layer.3.…`, `decoder.bert.encoder.layer.3.…`.
_BLOCK = re.compile(r"\.layer\.(\d+)\.")
# The dense layer in front of the output layer of a BERT (`cls.predictions.transform`) or RoBERTa (`lm_head`) head.
_HEAD_TRANSFORM = re.compile(r"(predictions\.transform|lm_head)\.dense\.weight$")


def _blocks(model: PreTrainedModel) -> torch.nn.ModuleList:
    """The transformer blocks of a BERT-family stack (its own, or those of the model it heads)."""
    blocks: torch.nn.ModuleList = cast(Any, model.base_model).encoder.layer
    return blocks


def _check_encoder_only(config: PretrainedConfig, ref: str) -> None:
    if getattr(config, "is_encoder_decoder", False) or getattr(config, "is_decoder", False):
        raise ModelLoadError(
            f"bert2bert:{ref}: {ref} is not an encoder-only (BERT-family) checkpoint "
            f"(model type {config.model_type!r}); use it directly, without bert2bert:"
        )


def from_bert_config(config: PretrainedConfig, ref: str) -> EncoderDecoderModel:
    """A BERT2BERT model with random weights shaped by a BERT-family `config` (of reference `ref`)."""
    _check_encoder_only(config, ref)
    pair = EncoderDecoderConfig.from_encoder_decoder_configs(copy.deepcopy(config), copy.deepcopy(config))
    return EncoderDecoderModel(config=pair)


def from_bert_checkpoint(location: str, ref: str, **options: Any) -> EncoderDecoderModel:
    """A BERT2BERT model warm-started on both sides from the checkpoint at `location` (of reference `ref`).

    `options` go to both sides' `from_pretrained` (e.g. `use_safetensors`, `revision`). Decoder blocks the
    checkpoint lacks start from what it has: each cross-attention block as a copy of its layer's
    self-attention, a missing language-model-head transform as the identity (see the module docstring).
    """
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its load report lists the decoder's new blocks as missing weights
    try:
        encoder = AutoModel.from_pretrained(location, **options)
        _check_encoder_only(encoder.config, ref)
        decoder_config = copy.deepcopy(encoder.config)
        decoder_config.is_decoder = decoder_config.add_cross_attention = True
        loaded: Any = AutoModelForCausalLM.from_pretrained(
            location, config=decoder_config, output_loading_info=True, **options
        )
        decoder, loading = loaded
    finally:
        hf_logging.set_verbosity(verbosity)
    started = _start_missing_blocks(decoder, set(loading["missing_keys"]))
    log.info("bert2bert:%s: encoder and decoder warm-started; %s", ref, started)
    return EncoderDecoderModel(encoder=encoder, decoder=decoder)


def _start_missing_blocks(decoder: PreTrainedModel, missing: set[str]) -> str:
    """Fill the decoder blocks a checkpoint lacks (cross-attention, LM-head transform); says what it did."""
    copied = []
    layer: Any
    for index, layer in enumerate(_blocks(decoder)):
        if any(f"layer.{index}.crossattention." in key for key in missing):
            layer.crossattention.load_state_dict(layer.attention.state_dict())
            copied.append(index)
    identities = []
    for key in sorted(missing):
        if _HEAD_TRANSFORM.search(key):
            dense: Any = decoder.get_submodule(key.removesuffix(".weight"))
            with torch.no_grad():
                dense.weight.copy_(torch.eye(*dense.weight.shape))
                dense.bias.zero_()
            identities.append(key.removesuffix(".weight"))
    return (
        f"cross-attention of blocks {copied} copied from their self-attention; identity LM-head transform {identities}"
    )


def with_special_tokens(model: EncoderDecoderModel, tokenizer: Any) -> EncoderDecoderModel:
    """Set the generation tokens from the BERT tokenizer: start = `[CLS]`, end = `[SEP]`, padding = `[PAD]`."""
    tokens = {
        "decoder_start_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    missing = [name for name, value in tokens.items() if value is None]
    if missing:
        raise ModelLoadError(f"bert2bert: the tokenizer has no [CLS], [SEP] or [PAD] token for {missing}")
    for name, value in tokens.items():
        setattr(model.config, name, value)
        setattr(model.generation_config, name, value)
    config: Any = model.config
    config.vocab_size = config.decoder.vocab_size  # the size of the decoder's output
    return model


def select_layers(model: EncoderDecoderModel, layers: list[int]) -> EncoderDecoderModel:
    """A smaller model keeping blocks `layers` (in that order) of both the encoder and the decoder.

    Embeddings, language-model head and each kept block's weights (cross-attention included) are
    copied; a new model is built so that the kept blocks are renumbered 0, 1, … (the generation
    cache addresses decoder blocks by position).
    """
    pair: Any = model.config
    depths = {"encoder": pair.encoder.num_hidden_layers, "decoder": pair.decoder.num_hidden_layers}
    for side, depth in depths.items():
        outside = sorted({index for index in layers if not 0 <= index < depth})
        if outside:
            raise ModelLoadError(f"layers {outside} are outside the {side}'s depth ({depth} layers: 0..{depth - 1})")
    config: Any = copy.deepcopy(model.config)
    config.encoder.num_hidden_layers = config.decoder.num_hidden_layers = len(layers)
    student = EncoderDecoderModel(config=config)
    state = {}
    for name, tensor in model.state_dict().items():
        match = _BLOCK.search(name)
        if match is None:
            state[name] = tensor
            continue
        for position, kept in enumerate(layers):
            if kept == int(match[1]):
                state[f"{name[: match.start(1)]}{position}{name[match.end(1) :]}"] = tensor
    student.load_state_dict(state)
    student.generation_config = copy.deepcopy(model.generation_config)
    return student
