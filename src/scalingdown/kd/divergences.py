"""The divergences a student can minimise against its teacher (`loss.divergence`), computed in log space.

With p the teacher's and q the student's distribution over one support (the classes, or the k + 1
buckets of a top-k cache):

- `forward_kl` (default): KL(p ‖ q), Hinton et al. (2015);
- `reverse_kl`: KL(q ‖ p);
- `jsd` (parameter `beta`): the generalised Jensen–Shannon divergence of GKD (Agarwal et al., 2024) in the
  convention of TRL (`GKDTrainer.generalized_jsd_loss` in trl/trainer/gkd_trainer.py, `GKDConfig.beta`, whose
  documentation says β = 0 is the KL divergence and β = 1 the inverse KL): m = β·p + (1 − β)·q and
  JSD_β = β·KL(p ‖ m) + (1 − β)·KL(q ‖ m), with β = 0 taken as forward KL and β = 1 as reverse KL. The
  formula itself vanishes at both ends (it behaves as β·KL(p ‖ q) near 0 and (1 − β)·KL(q ‖ p) near 1), so
  the loss jumps there: a β close to 0 or 1 gives a loss, and a gradient, close to 0;
- `skew_kl` (parameter `alpha`): KL(p ‖ α·p + (1 − α)·q), DistiLLM's α-SKL (Ko et al., 2024);
- `skew_reverse_kl` (parameter `alpha`): KL(q ‖ (1 − α)·p + α·q), DistiLLM's α-SRKL (the same mixtures as
  `skewed_forward_kl` / `skewed_reverse_kl` in DistiLLM's distillm/losses.py, default 0.1).

α = 0 gives the plain divergence. DistiLLM's code minimises the cross-entropy against the mixture, which
differs from the skew KL by the teacher's entropy in `skew_kl` (a constant: same gradient); here every
divergence is a true divergence, 0 when the student equals the teacher. No T² factor inside: callers
multiply (see `classification_divergence`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names import divergence_table as names
from scalingdown.pipeline.specs.definitions import LossSpec


class DivergenceError(UserError):
    """A `loss.divergence`, `loss.beta` or `loss.alpha` that is unknown or out of range."""


def _kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p ‖ q) over the last axis; entries where p is 0 add 0 (and no NaN gradient)."""
    p = log_p.exp()
    return (p * torch.where(p > 0, log_p - log_q, 0.0)).sum(dim=-1)


def _mixture(log_p: torch.Tensor, log_q: torch.Tensor, weight_p: float) -> torch.Tensor:
    """log(w·p + (1 − w)·q), element-wise; exactly log q at w = 0 and log p at w = 1."""
    if weight_p == 0:
        return log_q
    if weight_p == 1:
        return log_p
    empty = torch.isneginf(log_p) & torch.isneginf(log_q)  # 0 in both: keep logaddexp's gradient finite
    mixed = torch.logaddexp(
        torch.where(empty, 0.0, log_p) + math.log(weight_p), torch.where(empty, 0.0, log_q) + math.log1p(-weight_p)
    )
    return torch.where(empty, -torch.inf, mixed)


def _forward_kl(log_p: torch.Tensor, log_q: torch.Tensor, _: float | None) -> torch.Tensor:
    return _kl(log_p, log_q)


def _reverse_kl(log_p: torch.Tensor, log_q: torch.Tensor, _: float | None) -> torch.Tensor:
    return _kl(log_q, log_p)


def _jsd(log_p: torch.Tensor, log_q: torch.Tensor, beta: float) -> torch.Tensor:
    if beta == 0:
        return _kl(log_p, log_q)
    if beta == 1:
        return _kl(log_q, log_p)
    log_m = _mixture(log_p, log_q, beta)
    return beta * _kl(log_p, log_m) + (1 - beta) * _kl(log_q, log_m)


def _skew_kl(log_p: torch.Tensor, log_q: torch.Tensor, alpha: float) -> torch.Tensor:
    return _kl(log_p, _mixture(log_p, log_q, alpha))


def _skew_reverse_kl(log_p: torch.Tensor, log_q: torch.Tensor, alpha: float) -> torch.Tensor:
    return _kl(log_q, _mixture(log_p, log_q, 1 - alpha))


# The computation of each divergence named in `pipeline.names.divergence_table.DIVERGENCES` (which declares its
# parameter, range and default): (log p, log q, the parameter's value or None) -> per-row divergence.
COMPUTE: dict[str, Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]] = {
    "forward_kl": _forward_kl,
    "reverse_kl": _reverse_kl,
    "jsd": _jsd,
    "skew_kl": _skew_kl,
    "skew_reverse_kl": _skew_reverse_kl,
}


@dataclass(frozen=True)
class Divergence:
    """A divergence by name and its parameter (`beta` for `jsd`, `alpha` for the skews; None otherwise)."""

    name: str = names.DEFAULT
    beta: float | None = None
    alpha: float | None = None

    def __post_init__(self) -> None:
        problem = names.divergence_problem(self.name, {"beta": self.beta, "alpha": self.alpha})
        if problem is not None:
            key, message = problem
            raise DivergenceError(f"loss.{key}: {message}")

    @property
    def parameter(self) -> float | None:
        """The value of its parameter (None for the plain KLs)."""
        key = names.DIVERGENCES[self.name].parameter
        return None if key is None else getattr(self, key)

    @property
    def term(self) -> str:
        """The name of its loss term in the training history (`kl` for forward KL)."""
        return names.term(self.name)

    @classmethod
    def of(cls, loss: LossSpec) -> Divergence:
        """The divergence of a student's loss spec (whose parameter the spec builder has filled)."""
        return cls(loss.divergence, beta=loss.beta, alpha=loss.alpha)


FORWARD_KL = Divergence()


def row_divergence(log_teacher: torch.Tensor, log_student: torch.Tensor, divergence: Divergence) -> torch.Tensor:
    """The divergence of each row (summed over the last axis) between teacher and student log-probabilities
    over the same support: classes, or the k + 1 buckets of a top-k cache. Entries of probability 0 (log −inf)
    in one distribution are allowed where the divergence stays finite; no temperature factor is applied."""
    return COMPUTE[divergence.name](log_teacher, log_student, divergence.parameter)


def classification_divergence(
    student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float, divergence: Divergence = FORWARD_KL
) -> torch.Tensor:
    """T² · D(teacher ‖ softmax(student / T)) averaged over rows, `teacher_probs` being the (mixed) teacher
    distribution already softened at T. Forward KL keeps the original formula bit for bit (xlogy: a class of
    teacher probability 0 adds 0); for the others a probability that underflowed to 0 is read as the smallest
    positive float, so that reverse-direction divergences stay finite. T² keeps the gradient scale comparable
    across temperatures (Hinton et al., 2015)."""
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    if divergence.name == "forward_kl":
        per_row = (torch.special.xlogy(teacher_probs, teacher_probs) - teacher_probs * log_student).sum(dim=-1)
    else:
        log_teacher = torch.log(teacher_probs.clamp_min(torch.finfo(teacher_probs.dtype).tiny))
        per_row = row_divergence(log_teacher, log_student, divergence)
    loss: torch.Tensor = temperature**2 * per_row.mean()
    return loss
