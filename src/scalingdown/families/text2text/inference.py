"""Batched text-to-text inference with length bucketing: generation and teacher-forced passes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from scalingdown.kd.losses import IGNORE_INDEX


def pad(sequences: list[list[int]], value: int) -> torch.Tensor:
    """Right-pad integer sequences into a (rows × longest) tensor."""
    width = max((len(sequence) for sequence in sequences), default=0)
    return torch.tensor(
        [list(sequence) + [value] * (width - len(sequence)) for sequence in sequences], dtype=torch.long
    )


def length_batches(lengths: list[int], batch_size: int, description: str | None) -> Iterator[np.ndarray]:
    """Row indices in batches of similar length (longest first), with a progress bar unless `description` is None."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in tqdm(range(0, len(order), batch_size), desc=description, unit="batch", disable=description is None):
        yield order[start : start + batch_size]


def encoder_inputs(
    source_ids: list[list[int]], pad_id: int, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """`input_ids` and `attention_mask` of a batch of sources, on `device`."""
    input_ids = pad(source_ids, pad_id)
    mask = pad([[1] * len(ids) for ids in source_ids], 0)
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}


@torch.inference_mode()
def generate_ids(
    model: Any, source_ids: list[list[int]], max_new_tokens: int, batch_size: int, description: str | None = "generate"
) -> list[list[int]]:
    """Greedy generations (token ids up to and including EOS, without the decoder start token), in input order."""
    model.eval()
    config = model.generation_config
    results: list[list[int]] = [[] for _ in source_ids]
    for batch in length_batches([len(ids) for ids in source_ids], batch_size, description):
        inputs = encoder_inputs([source_ids[i] for i in batch], config.pad_token_id, model.device)
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
        for index, row in zip(batch, output[:, 1:].cpu().tolist()):
            results[index] = _until_eos(row, config.eos_token_id, config.pad_token_id)
    return results


def _until_eos(ids: list[int], eos_id: int | list[int], pad_id: int) -> list[int]:
    stops = set(eos_id) if isinstance(eos_id, list) else {eos_id}
    for position, token in enumerate(ids):
        if token in stops:
            return ids[: position + 1]
    return [token for token in ids if token != pad_id]


def forced_batches(
    model: Any,
    source_ids: list[list[int]],
    target_ids: list[list[int]],
    batch_size: int,
    description: str | None,
    output_hidden_states: bool = False,
) -> Iterator[tuple[np.ndarray, Any, torch.Tensor, torch.Tensor]]:
    """Teacher-forced passes over (source, target) pairs: yields (row indices, outputs, labels, attention mask),
    the tensors on the model's device."""
    model.eval()
    pad_id = model.config.pad_token_id
    lengths = [len(s) + len(t) for s, t in zip(source_ids, target_ids, strict=True)]
    with torch.inference_mode():
        for batch in length_batches(lengths, batch_size, description):
            inputs = encoder_inputs([source_ids[i] for i in batch], pad_id, model.device)
            labels = pad([target_ids[i] for i in batch], IGNORE_INDEX).to(model.device)
            decoder_input_ids = model.prepare_decoder_input_ids_from_labels(labels=labels)
            outputs = model(**inputs, decoder_input_ids=decoder_input_ids, output_hidden_states=output_hidden_states)
            yield batch, outputs, labels, inputs["attention_mask"]


def sequence_logprobs(
    model: Any,
    source_ids: list[list[int]],
    target_ids: list[list[int]],
    batch_size: int,
    description: str | None = "score",
    mean: bool = False,
) -> np.ndarray:
    """The log-probability log p(target | source) of each pair: the sum of its target tokens' log-probabilities, or
    with `mean` their average (length-normalised: long targets are not penalised for their length)."""
    scores = np.zeros(len(source_ids), dtype=np.float64)
    for batch, outputs, labels, _ in forced_batches(model, source_ids, target_ids, batch_size, description):
        logprobs = torch.log_softmax(outputs.logits.float(), dim=-1)
        mask = labels != IGNORE_INDEX
        picked = logprobs.gather(-1, labels.clamp_min(0)[..., None])[..., 0]
        summed = (picked * mask).sum(dim=-1)
        if mean:
            summed = summed / mask.sum(dim=-1).clamp_min(1)
        scores[batch] = summed.double().cpu().numpy()
    return scores
