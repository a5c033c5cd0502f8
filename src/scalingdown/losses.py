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
    student_states: Sequence[torch.Tensor], teacher_states: Sequence[torch.Tensor], projections: HiddenProjections
) -> torch.Tensor:
    """Mean over pairs of MSE(proj_k(h_student_k), h_teacher_k) (each MSE averaged over rows and width)."""
    if not (len(student_states) == len(teacher_states) == len(projections)) or not projections:
        raise ValueError("hidden_mse needs one student state, one teacher state and one projection per pair")
    losses = [F.mse_loss(project(student), teacher)
              for student, teacher, project in zip(student_states, teacher_states, projections)]
    return torch.stack(losses).mean()
