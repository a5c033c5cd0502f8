"""The causal teacher cache: per response token, the teacher's top-k log-probabilities, their ids and the tail mass.

The columns are those of the text-to-text cache (`families.text2text.topk`): `target_ids` (int32, R: the response
the teacher was forced on), `topk_ids` (int32, R·k), `topk_logprobs` (float16, R·k) and `tail_mass` (float32, R: the
probability of every other token, a logsumexp with the top-k masked). Two differences:

- the distribution of response token t is the teacher's output at the position before it (the one-token shift);
- within each token the k ids are stored in ascending order (their log-probabilities permuted alike): the loss
  matches buckets by id, so the order carries nothing, and sorted ids compress to about 100 bytes per token at
  k = 32 with zstd instead of about 120 in rank order. The teacher's top-1 is the id of the largest log-probability.

Every distribution is taken over the vocabulary the teacher and its students share (`vocabulary.shared_size`):
output rows past the tokenizer's vocabulary (padding rows) are dropped before the softmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from scalingdown.families.causal.batches import forced_batches
from scalingdown.pipeline.errors import UserError

LOGPROB_DTYPE = np.float16
CACHE_COLUMNS = ("target_ids", "topk_ids", "topk_logprobs", "tail_mass")


def topk_of(logprobs: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids sorted ascending, their log-probabilities, tail mass) of the k most likely tokens of each row of
    `logprobs` (N × V)."""
    values, ids = logprobs.topk(k, dim=-1)
    tail = logprobs.scatter(-1, ids, -torch.inf).logsumexp(dim=-1).exp()
    ids, order = ids.sort(dim=-1)
    return ids, values.gather(-1, order), tail


def topk_columns(
    model: Any,
    prompts: list[list[int]],
    responses: list[list[int]],
    k: int,
    shared: int,
    batch_size: int,
    padding: int,
    description: str | None = "top-k",
) -> dict[str, list[np.ndarray]]:
    """The cache columns of every (prompt, response) pair, in input order (teacher forcing on `responses`)."""
    if not 1 <= k <= shared:
        raise UserError(f"top_k={k} must lie between 1 and the shared vocabulary size {shared}")
    columns: dict[str, list[Any]] = {name: [None] * len(prompts) for name in CACHE_COLUMNS}
    for batch, logits, _ in forced_batches(model, prompts, responses, batch_size, description, padding):
        logprobs = torch.log_softmax(logits[:, :shared].float(), dim=-1)
        ids, values, tail = (tensor.cpu().numpy() for tensor in topk_of(logprobs, k))
        offset = 0
        for index in batch:
            length = len(responses[index])
            tokens = slice(offset, offset + length)
            columns["target_ids"][index] = np.asarray(responses[index], dtype=np.int32)
            columns["topk_ids"][index] = ids[tokens].astype(np.int32).reshape(-1)
            columns["topk_logprobs"][index] = values[tokens].astype(LOGPROB_DTYPE).reshape(-1)
            columns["tail_mass"][index] = tail[tokens].astype(np.float32)
            offset += length
    return columns


def captured_mass(tail_mass: list[np.ndarray]) -> dict[str, float]:
    """The probability the top-k hold (1 − tail) over every cached token: mean and 5th percentile."""
    mass = 1.0 - np.concatenate([np.asarray(tail, dtype=np.float64) for tail in tail_mass] or [np.zeros(0)])
    if not mass.size:
        return {"mean": float("nan"), "p5": float("nan")}
    return {"mean": float(mass.mean()), "p5": float(np.percentile(mass, 5))}
