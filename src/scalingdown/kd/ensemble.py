"""Combining several teachers: weighting schemes, the mixed distillation target, agreement.

A weighting returns a (rows × teachers) matrix whose rows sum to 1, so global and per-example
schemes combine the same way: `target_i = Σ_t w_it · softmax(z_ti / T)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import torch

from scalingdown.kd.losses import soften

METHODS = ("uniform", "fixed", "validation", "confidence")


def probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) row by row, as float64 numpy."""
    return soften(torch.from_numpy(np.asarray(logits, np.float64)), temperature).numpy()


def accuracy(logits_or_probs: np.ndarray, gold: np.ndarray) -> float:
    """Share of rows whose highest column is the gold label index."""
    return float(np.mean(np.argmax(logits_or_probs, axis=1) == gold))


def teacher_weights(
    method: str,
    names: list[str],
    logits: list[np.ndarray],
    fixed: dict[str, float] | None = None,
    validation_scores: list[float] | None = None,
) -> np.ndarray:
    """The (rows × teachers) weights of a scheme, each row summing to 1.

    - `uniform`, `fixed`, `validation`: the same shares on every row (see `global_shares`);
    - `confidence`: per example, each teacher's top probability (at T = 1), normalised over teachers.
    """
    if method == "confidence":
        confidence = np.stack([probabilities(matrix).max(axis=1) for matrix in logits], axis=1)
        shares: np.ndarray = confidence / confidence.sum(axis=1, keepdims=True)
        return shares
    return np.tile(global_shares(method, names, fixed, validation_scores), (len(logits[0]), 1))


def global_shares(
    method: str, names: list[str], fixed: dict[str, float] | None = None, validation_scores: list[float] | None = None
) -> np.ndarray:
    """Each teacher's share under a scheme that weighs whole teachers (summing to 1).

    - `uniform`: 1/n each;
    - `fixed`: `fixed[name]`, normalised;
    - `validation`: each teacher's validation score (e.g. accuracy), normalised.
    """
    count = len(names)
    if method == "uniform":
        return np.full(count, 1.0 / count)
    if method == "fixed":
        if fixed is None or set(fixed) != set(names):
            raise ValueError(f"fixed weights must name exactly the teachers {names}, got {sorted(fixed or {})}")
        return _normalise(np.array([float(fixed[name]) for name in names]), "fixed weights")
    if method == "validation":
        if validation_scores is None or len(validation_scores) != count:
            raise ValueError("validation weighting needs one validation score per teacher")
        return _normalise(np.array(validation_scores, dtype=np.float64), "validation scores")
    raise ValueError(f"unknown weighting method {method!r}; known: {', '.join(METHODS)}")


def token_teacher_weights(
    method: str,
    names: list[str],
    top_logprobs: Sequence[torch.Tensor],
    fixed: dict[str, float] | None = None,
    validation_scores: list[float] | None = None,
) -> list[float] | list[torch.Tensor]:
    """The weights of text-to-text teachers for `scalingdown.kd.buckets.teacher_shares`: a share per teacher
    (`uniform`, `fixed`, `validation`, as `global_shares`), or for `confidence` per target token each
    teacher's top probability at T = 1, exp of its highest cached log-probability (`top_logprobs` holds
    each teacher's B × T × k, highest first); `teacher_shares` normalises them over the teachers per token."""
    if method == "confidence":
        return [logprobs[..., 0].exp() for logprobs in top_logprobs]
    return [float(share) for share in global_shares(method, names, fixed, validation_scores)]


def _normalise(values: np.ndarray, what: str) -> np.ndarray:
    total = values.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"{what} {values.tolist()} do not sum to a positive number")
    normalised: np.ndarray = values / total
    return normalised


def mix(logits: list[np.ndarray], weights: np.ndarray, temperature: float) -> np.ndarray:
    """The weighted mixture of the teachers' softened distributions (rows × labels)."""
    softened = np.stack([probabilities(matrix, temperature) for matrix in logits], axis=1)  # rows × teachers × labels
    mixed: np.ndarray = np.einsum("rt,rtl->rl", weights, softened)
    return mixed


def agreement(names: list[str], logits: list[np.ndarray]) -> dict[str, object]:
    """How often the teachers' top labels agree: all of them, and each pair."""
    predictions = np.stack([np.argmax(matrix, axis=1) for matrix in logits], axis=1)
    unanimous = float(np.mean((predictions == predictions[:, :1]).all(axis=1)))
    pairwise = {
        f"{names[a]} / {names[b]}": float(np.mean(predictions[:, a] == predictions[:, b]))
        for a, b in combinations(range(len(names)), 2)
    }
    return {"all": unanimous, "pairwise": pairwise}
