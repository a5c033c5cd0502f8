"""Knowledge-distillation losses (written here: no library provides them in this form).

`loss = a·CE(gold) + b·T²·D(teacher_T ‖ student_T) + c·MSE(proj(h_student), h_teacher)`, with D the divergence
(forward KL by default, see `scalingdown.kd.divergences`) averaged over the batch and the MSE over the mapped
(student layer, teacher layer) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from scalingdown.kd.buckets import mean_bucket_divergence
from scalingdown.kd.divergences import FORWARD_KL, Divergence, classification_divergence
from scalingdown.kd.student_buckets import student_buckets


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Teacher probabilities at temperature T: softmax(logits / T) over the last axis."""
    return torch.softmax(logits / temperature, dim=-1)


# The label of a row without one (a transfer row): cross-entropy leaves it out.
UNLABELLED = -100


def masked_cross_entropy(student_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy averaged over the rows that have a label (label ≠ -100); 0 for a batch without any."""
    labelled = labels != UNLABELLED
    if not bool(labelled.any()):
        return student_logits.sum() * 0.0
    return F.cross_entropy(student_logits[labelled], labels[labelled])


def classification_kd_loss(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_probs: torch.Tensor | None,
    ce_weight: float,
    kd_weight: float,
    temperature: float,
    divergence: Divergence = FORWARD_KL,
) -> dict[str, torch.Tensor]:
    """The loss terms of one batch: `ce` (over the rows with a label: transfer rows are labelled -100), the
    divergence term (when teachers are given: T² · `divergence` over every row, forward KL by default, see
    `scalingdown.kd.divergences`; named `divergence.term`, `kl` for forward KL) and their weighted sum `loss`."""
    terms = {"ce": masked_cross_entropy(student_logits, labels)}
    loss = ce_weight * terms["ce"] if teacher_probs is not None else terms["ce"]
    if teacher_probs is not None:
        terms[divergence.term] = classification_divergence(student_logits, teacher_probs, temperature, divergence)
        loss = loss + kd_weight * terms[divergence.term]
    terms["loss"] = loss
    return terms


# -- sequence-to-sequence: token-level KD against a cached top-k teacher distribution ---------
IGNORE_INDEX = -100


def seq2seq_kd_terms(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teachers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    temperature: float,
    divergence: Divergence = FORWARD_KL,
    teacher_weights: Sequence[float | torch.Tensor] | None = None,
    ce_rows: torch.Tensor | None = None,
    tokens: torch.Tensor | int | None = None,
) -> dict[str, torch.Tensor]:
    """`ce` on the target tokens (of the rows where `ce_rows` (B, bool) is true: the others' targets are a
    teacher's generations, learnt through the divergence alone; 0 when no row is) and, with teachers, the
    divergence term (named `divergence.term`, `kl` for forward KL): T² · the top-k divergence (forward KL
    unless `divergence` says otherwise) averaged over the target tokens and over the teachers by
    `teacher_weights` (equal by default; see `scalingdown.kd.buckets.mean_bucket_divergence`).

    With `tokens` both terms are instead summed over the tokens and divided by `tokens` (e.g. the target tokens of
    every micro-batch of an optimizer step, so that gradient accumulation gives the whole batch's gradient).

    `teachers` holds each teacher's (top-k ids, top-k log-probabilities, tail mass), shaped
    B × T × k, B × T × k and B × T; positions labelled -100 (padding) are ignored. At T = 1 one pass
    over the vocabulary serves both terms (see `scalingdown.kd.student_buckets`).
    """
    logits = student_logits.flatten(0, 1)
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # half precision up, float64 kept
    flat_labels = labels.flatten()
    weights = (flat_labels != IGNORE_INDEX).to(logits.dtype)
    weights = weights / (weights.sum().clamp_min(1.0) if tokens is None else tokens)
    top_ids = [ids.flatten(0, 1) for ids, _, _ in teachers]
    if teachers and temperature == 1:  # one pass over the vocabulary serves both terms
        student, label_picks = student_buckets(logits, top_ids, flat_labels.clamp_min(0))
        assert label_picks is not None  # asked for with the labels
        label_logprobs = label_picks
    else:
        label_logprobs = F.log_softmax(logits, dim=-1).gather(-1, flat_labels.clamp_min(0)[:, None])[:, 0]
        student, _ = student_buckets(logits / temperature, top_ids) if teachers else ([], None)
    ce_weights = weights
    if ce_rows is not None:
        gold = (flat_labels != IGNORE_INDEX) & ce_rows.to(flat_labels.device).repeat_interleave(labels.shape[1])
        ce_weights = gold.to(logits.dtype) / (gold.sum().clamp_min(1) if tokens is None else tokens)
    terms = {"ce": -(label_logprobs * ce_weights).sum()}
    if teachers:
        vocab = logits.shape[-1]
        kd = mean_bucket_divergence(student, teachers, weights, vocab, temperature, divergence, teacher_weights)
        terms[divergence.term] = temperature**2 * kd
    return terms


def topk_kl(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logprobs: torch.Tensor,
    tail_mass: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """T² · KL(teacher_T ‖ student_T) per target token over k + 1 buckets (see `scalingdown.kd.buckets`), averaged over
    the target tokens (label ≠ -100). Shapes: logits B × T × V, labels and tail B × T, top-k B × T × k."""
    return seq2seq_kd_terms(student_logits, labels, [(topk_ids, topk_logprobs, tail_mass)], temperature)["kl"]


def token_cross_entropy(
    student_logits: torch.Tensor, labels: torch.Tensor, ce_rows: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy on the gold target tokens (positions labelled -100 ignored, and rows where `ce_rows` is
    false), averaged over tokens."""
    return seq2seq_kd_terms(student_logits, labels, [], 1.0, ce_rows=ce_rows)["ce"]


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
