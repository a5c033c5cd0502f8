"""Token-level divergences against a cached top-k teacher, over k + 1 buckets: the teacher's top-k tokens, then
"the rest" (every other token), so that the tail is matched explicitly instead of being dropped.

Several teachers: their top-k ids differ, so their buckets differ and no mixture of them exists on one
support; the divergence is computed per teacher, on that teacher's buckets, and averaged with the
teachers' weights (global, or per token). With k = V the buckets are the vocabulary and this is the
full-vocabulary divergence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from scalingdown.kd.divergences import FORWARD_KL, Divergence, row_divergence
from scalingdown.kd.student_buckets import student_buckets

TeacherTopK = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # top-k ids, top-k log-probabilities, tail mass


def teacher_bucket_logprobs(
    topk_logprobs: torch.Tensor, tail_mass: torch.Tensor, vocab_size: int, temperature: float
) -> torch.Tensor:
    """The teacher's log-probabilities of its k + 1 buckets softened at T (N × (k + 1), the rest last).

    `topk_logprobs` (N × k) are the teacher's log-probabilities at temperature 1, `tail_mass` (N) the
    probability of every other token. At T ≠ 1 the tail is taken as spread evenly over the V − k other
    tokens (the maximum-entropy assumption), so its softened mass is (V − k)·(tail/(V − k))^(1/T): exact
    at T = 1. The rest is log 0 only when k = V; a cached tail of 0 with k < V (a tail below the cache's
    float resolution) is read as the smallest positive float, so that reverse-direction divergences stay
    finite. Normalising over the buckets also absorbs the rounding of stored (float16) log-probabilities.
    """
    dtype = torch.promote_types(topk_logprobs.dtype, torch.float32)
    top = topk_logprobs.to(dtype) / temperature
    others = vocab_size - top.shape[-1]
    if others > 0:
        log_tail = torch.log(tail_mass.to(dtype).clamp_min(torch.finfo(dtype).tiny))
        log_rest = math.log(others) + (log_tail - math.log(others)) / temperature
    else:
        log_rest = torch.full_like(top[:, 0], -torch.inf)
    buckets = torch.cat([top, log_rest[:, None]], dim=-1)
    return buckets - buckets.logsumexp(dim=-1, keepdim=True)


def bucket_divergence(
    log_student: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logprobs: torch.Tensor,
    tail_mass: torch.Tensor,
    temperature: float,
    divergence: Divergence = FORWARD_KL,
) -> torch.Tensor:
    """D(teacher_T ‖ student_T) of each token (N) over the teacher's k + 1 buckets (no T² factor).

    `log_student` (N × V) are the student's log-probabilities at temperature T; `topk_ids`,
    `topk_logprobs` (N × k) and `tail_mass` (N) the teacher's cache at temperature 1.
    """
    teacher = teacher_bucket_logprobs(topk_logprobs, tail_mass, log_student.shape[-1], temperature)
    (student,), _ = student_buckets(log_student, [topk_ids])
    return row_divergence(teacher, student, divergence)


def teacher_shares(
    teacher_weights: Sequence[float | torch.Tensor] | None, teacher_count: int, token_weights: torch.Tensor
) -> torch.Tensor:
    """Each teacher's share of each token (teachers × N, like `token_weights`), summing to 1 over the teachers.

    `teacher_weights` holds one weight per teacher: a number, or a tensor with one weight per token
    (B × T, e.g. the teacher's confidence); None weighs the teachers equally. A token whose weights are
    all 0 gets no teacher.
    """
    tokens, device, dtype = len(token_weights), token_weights.device, token_weights.dtype
    if teacher_weights is None:
        return torch.full((teacher_count, tokens), 1.0 / teacher_count, device=device, dtype=dtype)
    if len(teacher_weights) != teacher_count:
        raise ValueError(f"got {len(teacher_weights)} teacher weights for {teacher_count} teachers")
    weights = torch.stack(
        [torch.as_tensor(weight).to(device=device, dtype=dtype).flatten().expand(tokens) for weight in teacher_weights]
    )
    return weights / weights.sum(dim=0).clamp_min(torch.finfo(weights.dtype).tiny)


def mean_bucket_divergence(
    student: Sequence[torch.Tensor],
    teachers: Sequence[TeacherTopK],
    token_weights: torch.Tensor,
    vocab_size: int,
    temperature: float,
    divergence: Divergence = FORWARD_KL,
    teacher_weights: Sequence[float | torch.Tensor] | None = None,
) -> torch.Tensor:
    """Σ over tokens and teachers of token weight × teacher share × D(teacher_T ‖ student_T) over that teacher's
    buckets (no T² factor).

    `student` holds the student's bucket log-probabilities for each teacher (N × (k + 1), see
    `student_buckets`); `teachers` each teacher's cache as (top-k ids, top-k log-probabilities, tail mass)
    shaped B × T × k, B × T × k and B × T (N = B·T); `token_weights` (N) weigh the tokens (0 on padding);
    `teacher_weights` as in `teacher_shares`.
    """
    shares = teacher_shares(teacher_weights, len(teachers), token_weights)
    per_teacher = [
        row_divergence(
            teacher_bucket_logprobs(logprobs.flatten(0, 1), tail.flatten(), vocab_size, temperature),
            buckets,
            divergence,
        )
        for buckets, (_, logprobs, tail) in zip(student, teachers)
    ]
    return (torch.stack(per_teacher) * shares * token_weights).sum()
