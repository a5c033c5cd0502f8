"""Knowledge-distillation losses (written here: no library provides them in this form).

`loss = a·CE(gold) + b·T²·KL(teacher_T ‖ student_T)`, with the KL averaged over the batch.
"""

from __future__ import annotations

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
