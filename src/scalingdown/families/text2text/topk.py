"""The columns of a text-to-text teacher cache: per target token, the teacher's top-k log-probabilities, their ids
and the tail.

Rows of the Parquet store (see `kd.logit_store`), one per example:
- `target_ids` (int32, T): the target the teacher was forced on (gold, or the teacher's own
  greedy generation for sequence-level KD), ending with EOS unless truncated;
- `topk_ids` (int32, T·k, row-major T × k) and `topk_logprobs` (float16, T·k): the k most likely
  next tokens at each target position and their log-probabilities at temperature 1;
- `tail_mass` (float32, T): the probability of every other token, summed over those tokens (a logsumexp with
  the top-k masked), not 1 − Σ top-k: that difference cancels to float32 rounding noise (~1e-7) when the
  teacher is confident, and reverse-direction divergences weigh the student's tail by log(its mass / this);
- `hidden_<encoder|decoder>_<layer>` (float32, d), when configured: the teacher's hidden state after
  that layer (0 = embeddings), mean-pooled over the source tokens (encoder) or target tokens (decoder).

float16 halves the log-probabilities' size; `bench/seq2seq_cache.py` measures what it costs. The cache's
fingerprint also records the teacher's validation perplexity (`validation_perplexity`), whose inverse is the
score of `weighting.method: validation` for text-to-text students.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from scalingdown.families.text2text.inference import forced_batches
from scalingdown.kd.losses import IGNORE_INDEX, masked_mean
from scalingdown.models.loading import tokenizer_fingerprint
from scalingdown.pipeline.errors import UserError

LOGPROB_DTYPE = np.float16
SIDES = ("encoder", "decoder")


class VocabularyMismatch(UserError, ValueError):
    """A teacher and a student do not share one vocabulary, so token ids cannot be compared."""


def hidden_column(side: str, layer: int) -> str:
    """The store column of a pooled hidden state, e.g. `hidden_encoder_6`."""
    return f"hidden_{side}_{layer}"


def topk_columns(
    model: Any,
    source_ids: list[list[int]],
    target_ids: list[list[int]],
    k: int,
    batch_size: int,
    hidden_layers: dict[str, list[int]] | None = None,
    description: str | None = "top-k",
    logprob_dtype: type = LOGPROB_DTYPE,
) -> dict[str, list[np.ndarray]]:
    """The store columns of every (source, target) pair, in input order (teacher forcing on `target_ids`)."""
    hidden_layers = {side: list(layers) for side, layers in (hidden_layers or {}).items() if layers}
    vocab = int(model.config.vocab_size)
    if not 1 <= k <= vocab:
        raise UserError(f"top_k={k} must lie between 1 and the teacher's vocabulary size {vocab}")
    rows = len(source_ids)
    columns: dict[str, list[Any]] = {
        name: [None] * rows for name in ("target_ids", "topk_ids", "topk_logprobs", "tail_mass")
    }
    for side, layers in hidden_layers.items():
        for layer in layers:
            columns[hidden_column(side, layer)] = [None] * rows
    for batch, outputs, labels, source_mask in forced_batches(
        model, source_ids, target_ids, batch_size, description, output_hidden_states=bool(hidden_layers)
    ):
        logprobs = torch.log_softmax(outputs.logits.float(), dim=-1)
        top_values, top_ids = logprobs.topk(k, dim=-1)
        tail = logprobs.scatter_(-1, top_ids, -torch.inf).logsumexp(dim=-1).exp().cpu()  # logprobs not needed after
        top_values, top_ids = top_values.cpu(), top_ids.cpu()
        pooled = {
            name: vectors.cpu()
            for name, vectors in _pooled_hidden(outputs, hidden_layers, source_mask, labels != IGNORE_INDEX).items()
        }
        for position, index in enumerate(batch):
            length = len(target_ids[index])
            columns["target_ids"][index] = np.asarray(target_ids[index], dtype=np.int32)
            columns["topk_ids"][index] = top_ids[position, :length].numpy().astype(np.int32).reshape(-1)
            columns["topk_logprobs"][index] = top_values[position, :length].numpy().astype(logprob_dtype).reshape(-1)
            columns["tail_mass"][index] = tail[position, :length].numpy()
            for name, vectors in pooled.items():
                columns[name][index] = vectors[position].numpy()
    return columns


def _pooled_hidden(
    outputs: Any, hidden_layers: dict[str, list[int]], source_mask: torch.Tensor, target_mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    pooled = {}
    for side, layers in hidden_layers.items():
        states = outputs.encoder_hidden_states if side == "encoder" else outputs.decoder_hidden_states
        mask = source_mask.bool() if side == "encoder" else target_mask
        for layer in layers:
            if layer >= len(states):
                raise UserError(
                    f"hidden layer {layer} of the {side} does not exist (0 = embeddings … {len(states) - 1})"
                )
            pooled[hidden_column(side, layer)] = masked_mean(states[layer].float(), mask)
    return pooled


def reshape_topk(flat: np.ndarray, k: int) -> np.ndarray:
    """A stored T·k list back as a T × k matrix."""
    return np.asarray(flat).reshape(-1, k)


def vocabulary(model: Any, tokenizer: Any) -> dict[str, Any]:
    """What must be equal for token ids to mean the same: the output size and the tokenizer's vocabulary."""
    return config_vocabulary(model.config, tokenizer)


def config_vocabulary(config: Any, tokenizer: Any) -> dict[str, Any]:
    """`vocabulary` from a model's config (no weights loaded)."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    return {
        "config_vocab_size": int(config.vocab_size),
        "vocab_size": fingerprint["vocab_size"],
        "vocab_sha256": fingerprint["vocab_sha256"],
    }


def check_vocabulary(teacher: str, teacher_vocab: dict[str, Any], student: str, student_vocab: dict[str, Any]) -> None:
    """Raise `VocabularyMismatch` naming both models unless they share config.vocab_size and the tokenizer
    vocabulary."""
    differences = []
    if teacher_vocab["config_vocab_size"] != student_vocab["config_vocab_size"]:
        differences.append(
            f"config.vocab_size {teacher_vocab['config_vocab_size']} vs {student_vocab['config_vocab_size']}"
        )
    if (teacher_vocab["vocab_size"], teacher_vocab["vocab_sha256"]) != (
        student_vocab["vocab_size"],
        student_vocab["vocab_sha256"],
    ):
        differences.append(
            f"tokenizer vocabularies differ ({teacher_vocab['vocab_size']} tokens, "
            f"sha256 {teacher_vocab['vocab_sha256'][:12]}… "
            f"vs {student_vocab['vocab_size']} tokens, sha256 {student_vocab['vocab_sha256'][:12]}…)"
        )
    if differences:
        raise VocabularyMismatch(
            f"teacher {teacher} and student {student} do not share a vocabulary: {'; '.join(differences)}. "
            "Token-level distillation compares token ids, so both must use the same tokenizer (e.g. both T5)."
        )


def validation_perplexity(
    model: Any, source_ids: list[list[int]], target_ids: list[list[int]], batch_size: int
) -> dict[str, Any]:
    """The teacher's perplexity on the gold targets of the validation split under teacher forcing (exp of the
    mean token cross-entropy), and how many tokens that is: its inverse is the score of `weighting.method:
    validation` for text-to-text students. One forward pass, no generation; unlike token accuracy or exact
    match it is never 0, even for a weak teacher, so the weights always exist."""
    total = 0.0
    tokens = 0
    for _, outputs, labels, _ in forced_batches(model, source_ids, target_ids, batch_size, "validation tokens"):
        mask = labels != IGNORE_INDEX
        logprobs = torch.log_softmax(outputs.logits.float(), dim=-1).gather(-1, labels.clamp_min(0)[..., None])
        total -= float((logprobs[..., 0] * mask).sum())
        tokens += int(mask.sum())
    return {"perplexity": math.exp(total / tokens) if tokens else math.inf, "tokens": tokens}
