"""Knowledge-distillation losses (written here: no library provides them in this form).

`loss = a·CE(gold) + b·T²·KL(teacher_T ‖ student_T) + c·MSE(proj(h_student), h_teacher)`, with the
KL averaged over the batch and the MSE over the mapped (student layer, teacher layer) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Teacher probabilities at temperature T: softmax(logits / T) over the last axis."""
    return torch.softmax(logits / temperature, dim=-1)


def kd_kl(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² · KL(p_teacher ‖ softmax(student / T)), summed over classes and averaged over rows.

    `teacher_probs` are already softened at the same temperature (see `soften`); the T² factor
    keeps the gradient scale comparable across temperatures (Hinton et al., 2015).
    """
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    per_row = (torch.special.xlogy(teacher_probs, teacher_probs) - teacher_probs * log_student).sum(dim=-1)
    return temperature**2 * per_row.mean()


def classification_kd_loss(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_probs: torch.Tensor | None,
    ce_weight: float,
    kd_weight: float,
    temperature: float,
) -> dict[str, torch.Tensor]:
    """The loss terms of one batch: `ce`, `kl` (when teachers are given) and their weighted sum `loss`."""
    terms = {"ce": F.cross_entropy(student_logits, labels)}
    loss = ce_weight * terms["ce"] if teacher_probs is not None else terms["ce"]
    if teacher_probs is not None:
        terms["kl"] = kd_kl(student_logits, teacher_probs, temperature)
        loss = loss + kd_weight * terms["kl"]
    terms["loss"] = loss
    return terms


# -- sequence-to-sequence: token-level KD against a cached top-k teacher distribution ---------
IGNORE_INDEX = -100


def teacher_buckets(
    topk_logprobs: torch.Tensor, tail_mass: torch.Tensor, vocab_size: int, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's distribution over k + 1 buckets (its top-k tokens, then "the rest"), softened at T.

    `topk_logprobs` (N × k) are the teacher's log-probabilities at temperature 1, `tail_mass` (N)
    the probability of every other token. At T ≠ 1 the tail is taken as spread evenly over the
    V − k other tokens (the maximum-entropy assumption), so its softened mass is
    (V − k)·(tail/(V − k))^(1/T): exact at T = 1 and when k = V (no tail). Returns the log
    probabilities of the top-k buckets (N × k) and the probability of the rest bucket (N).
    """
    logprobs = topk_logprobs.float()
    rest = (vocab_size - logprobs.shape[-1]) * torch.ones_like(tail_mass)
    has_rest = (tail_mass > 0) & (rest > 0)
    safe_tail = torch.where(has_rest, tail_mass.float(), torch.ones_like(tail_mass))
    safe_rest = torch.where(has_rest, rest, torch.ones_like(rest))
    log_rest = torch.log(safe_rest) + (torch.log(safe_tail) - torch.log(safe_rest)) / temperature
    log_rest = torch.where(has_rest, log_rest, torch.full_like(log_rest, -torch.inf))
    # Normalising over the buckets also absorbs the rounding of stored (float16) log-probabilities.
    log_total = torch.logsumexp(torch.cat([logprobs / temperature, log_rest[:, None]], dim=-1), dim=-1)
    return logprobs / temperature - log_total[:, None], torch.exp(log_rest - log_total)


def bucket_kl(
    log_student: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logprobs: torch.Tensor,
    tail_mass: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """KL(teacher_T ‖ student_T) of each token over k + 1 buckets (no T² factor).

    `log_student` (N × V) are the student's log-probabilities at temperature T; the buckets are the
    teacher's top-k tokens and "the rest": the teacher's tail mass against the student's
    probability of every token outside the teacher's top-k, so the tail is matched explicitly
    instead of being dropped. With k = V this is the full KL.
    """
    return _bucket_kl(
        log_student.gather(-1, topk_ids.long()), topk_logprobs, tail_mass, log_student.shape[-1], temperature
    )


def _bucket_kl(
    student_top: torch.Tensor, topk_logprobs: torch.Tensor, tail_mass: torch.Tensor, vocab_size: int, temperature: float
) -> torch.Tensor:
    """`bucket_kl` from the student's log-probabilities at the teacher's top-k ids (N × k)."""
    student_rest = (1.0 - torch.exp(student_top.double()).sum(dim=-1)).clamp_min(1e-30).float()
    teacher_top, teacher_rest = teacher_buckets(topk_logprobs, tail_mass, vocab_size, temperature)
    top_terms = (torch.exp(teacher_top) * (teacher_top - student_top)).sum(dim=-1)
    rest_terms = torch.special.xlogy(teacher_rest, teacher_rest) - teacher_rest * torch.log(student_rest)
    return top_terms + rest_terms


def seq2seq_kd_terms(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teachers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    temperature: float,
) -> dict[str, torch.Tensor]:
    """`ce` on the target tokens and, with teachers, `kl`: T² · the top-k KL averaged over tokens and teachers.

    `teachers` holds each teacher's (top-k ids, top-k log-probabilities, tail mass), shaped
    B × T × k, B × T × k and B × T; positions labelled -100 (padding) are ignored. One
    log-softmax and one gather over the vocabulary serve both terms at T = 1 (the KD overhead
    over plain CE is then only k + 1 values per token).
    """
    logits = student_logits.flatten(0, 1).float()
    flat_labels = labels.flatten()
    weights = (flat_labels != IGNORE_INDEX).float()
    weights = weights / weights.sum().clamp_min(1.0)
    vocab = logits.shape[-1]
    log_student = F.log_softmax(logits, dim=-1)
    top_ids = [ids.flatten(0, 1).long() for ids, _, _ in teachers]
    shared = temperature == 1
    picked = log_student.gather(-1, torch.cat([flat_labels.clamp_min(0)[:, None], *(top_ids if shared else [])], -1))
    terms = {"ce": -(picked[:, 0] * weights).sum()}
    if teachers:
        log_soft = log_student if shared else F.log_softmax(logits / temperature, dim=-1)
        student_tops = (
            picked[:, 1:].split([ids.shape[-1] for ids in top_ids], dim=-1)
            if shared
            else [log_soft.gather(-1, ids) for ids in top_ids]
        )
        per_teacher = [
            (_bucket_kl(top, logprobs.flatten(0, 1), tail.flatten(), vocab, temperature) * weights).sum()
            for top, (_, logprobs, tail) in zip(student_tops, teachers)
        ]
        terms["kl"] = temperature**2 * torch.stack(per_teacher).mean()
    return terms


def topk_kl(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logprobs: torch.Tensor,
    tail_mass: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """T² · KL(teacher_T ‖ student_T) per target token over k + 1 buckets (see `bucket_kl`), averaged over
    the target tokens (label ≠ -100). Shapes: logits B × T × V, labels and tail B × T, top-k B × T × k."""
    return seq2seq_kd_terms(student_logits, labels, [(topk_ids, topk_logprobs, tail_mass)], temperature)["kl"]


def token_cross_entropy(student_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the gold target tokens (positions labelled -100 ignored), averaged over tokens."""
    return seq2seq_kd_terms(student_logits, labels, [], 1.0)["ce"]


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `hidden` (B × L × d) over the positions where `mask` (B × L) is true."""
    weights = mask.to(hidden.dtype)[..., None]
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class HiddenProjections(torch.nn.ModuleList):
    """One map per (student layer, teacher layer) pair: a learned linear projection where the
    widths differ (or everywhere, with `always_linear`), else the identity. Trained with the
    student, never saved with it."""

    def __init__(self, student_width: int, teacher_widths: Sequence[int], always_linear: bool = False) -> None:
        super().__init__(
            torch.nn.Linear(student_width, width) if always_linear or width != student_width else torch.nn.Identity()
            for width in teacher_widths
        )


def hidden_mse(
    student_states: Sequence[torch.Tensor],
    teacher_states: Sequence[torch.Tensor],
    projections: Sequence[torch.nn.Module],
) -> torch.Tensor:
    """Mean over pairs of MSE(proj_k(h_student_k), h_teacher_k) (each MSE averaged over rows and width)."""
    if not (len(student_states) == len(teacher_states) == len(projections)) or not projections:
        raise ValueError("hidden_mse needs one student state, one teacher state and one projection per pair")
    losses = [
        F.mse_loss(project(student.float()), teacher.float())
        for student, teacher, project in zip(student_states, teacher_states, projections)
    ]
    return torch.stack(losses).mean()
