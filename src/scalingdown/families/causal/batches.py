"""Batches of a causal LM: right-padded for teacher forcing and training, left-padded for generation.

Labels follow the Hugging Face convention: aligned with `input_ids`, -100 on the prompt and on padding, so that the
logits at position t predict `labels[t + 1]` (the one-token shift). They are built from the prompt's and the
response's lengths, never by comparing ids with the padding id: many chat models pad with their end-of-sequence
token (SmolLM2 does), which must still be learnt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from scalingdown.families.text2text.inference import length_batches
from scalingdown.kd.losses import IGNORE_INDEX


def right_padded(prompts: list[list[int]], responses: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """`input_ids`, `attention_mask` and `labels` of prompt + response sequences, padded on the right."""
    width = max(len(p) + len(r) for p, r in zip(prompts, responses, strict=True))
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        end = len(prompt) + len(response)
        input_ids[row, :end] = torch.tensor(prompt + response, dtype=torch.long)
        mask[row, :end] = 1
        labels[row, len(prompt) : end] = torch.tensor(response, dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def left_padded(prompts: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """`input_ids` and `attention_mask` of prompts padded on the left, as generation needs them (every row's next
    token is then at the same, last position)."""
    width = max(len(prompt) for prompt in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for row, prompt in enumerate(prompts):
        if prompt:
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def shifted(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits of every response token (N × V, in row-major order) and the tokens they predict (N): position t's
    logits against `labels[t + 1]`."""
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    return logits[:, :-1][keep], targets[keep]


def pad_id(tokenizer: Any) -> int:
    """The id padding fills with (the EOS where a tokenizer has no padding token: padding is never attended to)."""
    return int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)


def forced_batches(
    model: Any,
    prompts: list[list[int]],
    responses: list[list[int]],
    batch_size: int,
    description: str | None,
    padding: int,
) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """Teacher-forced passes over prompt + response pairs, longest first: yields (row indices, the logits of every
    response token N × V, the tokens they predict N), the tensors on the model's device; the rows' tokens follow
    each other in the order of the indices."""
    model.eval()
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses, strict=True)]
    for batch in length_batches(lengths, batch_size, description):
        inputs = right_padded([prompts[i] for i in batch], [responses[i] for i in batch], padding)
        inputs = {key: value.to(model.device) for key, value in inputs.items()}
        with torch.no_grad():  # not around the yield: a generator left suspended would keep it on for its caller
            logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        yield (batch, *shifted(logits, inputs["labels"]))


def until_eos(ids: list[int], eos: set[int]) -> list[int]:
    """A generated continuation up to and including its first end-of-sequence token (all of it if it has none)."""
    for position, token in enumerate(ids):
        if token in eos:
            return ids[: position + 1]
    return ids


@torch.inference_mode()
def generate_responses(
    model: Any,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int,
    padding: int,
    eos: set[int],
    description: str | None = "generate",
    sample: bool = False,
) -> list[list[int]]:
    """Each prompt's continuation (greedy, or sampled at temperature 1 with `sample`), cut after its first EOS, in
    input order."""
    model.eval()
    results: list[list[int]] = [[] for _ in prompts]
    for batch in length_batches([len(p) for p in prompts], batch_size, description):
        inputs = {
            key: value.to(model.device) for key, value in left_padded([prompts[i] for i in batch], padding).items()
        }
        sampling = {"do_sample": True, "top_k": 0, "top_p": 1.0, "temperature": 1.0} if sample else {"do_sample": False}
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            num_beams=1,
            pad_token_id=padding,
            eos_token_id=sorted(eos),
            **sampling,
        )
        width = inputs["input_ids"].shape[1]
        for index, row in zip(batch, output[:, width:].cpu().tolist()):
            results[index] = until_eos(row, eos)
    return results
