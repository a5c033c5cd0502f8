"""Tiny causal LMs and small prepared datasets (those of the text-to-text tests, invented content) for the causal
family's tests."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tests.families.text2text.conftest import TRAINING as TEXT2TEXT_TRAINING


def tiny_llama(vocab: int, layers: int = 2, seed: int = 0, width: int = 16) -> LlamaForCausalLM:
    """A tiny Llama over token ids 0 … vocab − 1 (0 pads, 1 ends a sequence), weights drawn with `seed`."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    return LlamaForCausalLM(config)


# The training settings of the stage tests: the text-to-text tests', in batches of four rows, evaluated every two steps.
TRAINING = {**TEXT2TEXT_TRAINING, "batch_size": 4, "eval_steps": 2}


def text_fields(task_type: str = "generative_qa") -> dict:
    """The fields of a causal spec of `task_type` (prompt, lengths, family)."""
    from scalingdown.pipeline.names.tasks import prompt_for

    return {
        "type": task_type,
        "prompt": prompt_for(task_type, None),
        "max_length": 48,
        "max_target_length": 8,
        "family": None if task_type == "instruction" else "causal",
    }
