"""The student's side of the top-k buckets: from its logits, in one pass over the vocabulary, its log-probabilities
of each teacher's top-k tokens, of the rest (every token outside that teacher's top-k) and of the gold labels.

The rest is the log of the sum of the student's probabilities outside the top-k, never log(1 − Σ top-k): that
difference cancels to float32 rounding noise (~1e-6) once the student is confident (with less than 1e-6 outside
the top-k, the loss came out 1.9–3.6× too large on random students, its gradient worse). The direct sum keeps
its relative precision at any size (rows whose sum nears the smallest normal float are redone as a logsumexp
with the top-k masked).

Cost: written with autograd's operations (a masked copy of the N × V log-probabilities and a logsumexp per
teacher), the exact rest made the loss 3.4× slower at T = 1 and kept one more N × V buffer per teacher
(1,024 tokens × 30,522, one teacher, k = 32, CPU). This autograd function does a log-softmax's work plus
one read of the exponentials per teacher (forward) and writes the logits' gradient in one dense pass
(backward), keeping nothing N × V beyond the logits: there it costs no more than the former
log-softmax and gathers (0.9×), and the same at T ≠ 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.autograd.function import once_differentiable


def _log_mass_outside(
    shifted_exp: torch.Tensor, shift: torch.Tensor, logits: torch.Tensor, ids: torch.Tensor
) -> torch.Tensor:
    """The log-mass log Σ_{v ∉ ids} exp(logits_v) per row, from exp(logits − shift) (restored in place after use)."""
    kept = shifted_exp.gather(-1, ids)
    mass = shifted_exp.scatter_(-1, ids, 0.0).sum(dim=-1)
    shifted_exp.scatter_(-1, ids, kept)  # duplicate ids write back the same value
    log_mass = mass.log() + shift
    info = torch.finfo(mass.dtype)
    faint = mass < info.tiny / info.eps  # terms near the subnormal range: redo these rows with their own shift
    if faint.any():
        log_mass[faint] = logits[faint].scatter(-1, ids[faint], -torch.inf).logsumexp(dim=-1)
    return log_mass


def _outside(ids: torch.Tensor, picks: torch.Tensor) -> torch.Tensor:
    """Whether each pick (N × m) is outside the row's `ids` (N × k)."""
    ordered = ids.sort(dim=-1).values
    found = ordered.gather(-1, torch.searchsorted(ordered, picks).clamp_max(ordered.shape[-1] - 1))
    return found != picks


class _PickedAndRest(torch.autograd.Function):
    """(log softmax(z) at `picks`, log of the probability outside each id set) with a one-pass backward.

    With q = softmax(z), L = logsumexp(z) and R_t = log Σ_{v ∉ K_t} exp(z_v), the gradient is
    dz_v = Σ_i g_i [v = pick_i] − q_v·G + Σ_t [v ∉ K_t] g_t·exp(z_v − R_t), where G sums every incoming
    gradient. Off the picks (which include every K_t) it is exp(z_v − S)·c with S = min(L, R_t) (so no
    factor overflows); on the picks it is computed exactly, entry by entry.
    """

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, picks: torch.Tensor, *id_sets: torch.Tensor) -> Any:
        shift = logits.amax(dim=-1)
        shifted_exp = (logits - shift[:, None]).exp_()
        log_total = shift + shifted_exp.sum(dim=-1).log()
        log_rests = [_log_mass_outside(shifted_exp, shift, logits, ids) for ids in id_sets]
        log_rest = torch.stack(log_rests, dim=-1) if log_rests else log_total.new_zeros(len(logits), 0)
        ctx.save_for_backward(logits, picks, log_total, log_rest, *id_sets)
        return logits.gather(-1, picks) - log_total[:, None], log_rest - log_total[:, None]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_picks: torch.Tensor, grad_rest: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        logits, picks, log_total, log_rest, *id_sets = ctx.saved_tensors
        empty = torch.isneginf(log_rest)  # k = V: no rest, nothing flows through it
        grad_rest = torch.where(empty, 0.0, grad_rest)
        log_rest = torch.where(empty, log_total[:, None], log_rest)
        total_grad = grad_picks.sum(dim=-1) + grad_rest.sum(dim=-1)
        low = torch.minimum(log_total, log_rest.amin(dim=-1)) if id_sets else log_total
        scale = (grad_rest * (low[:, None] - log_rest).exp()).sum(dim=-1) - total_grad * (low - log_total).exp()
        grad = (logits - low[:, None]).exp_().mul_(scale[:, None])
        picked = logits.gather(-1, picks)
        exact = -total_grad[:, None] * (picked - log_total[:, None]).exp()
        for index, ids in enumerate(id_sets):
            outside = _outside(ids, picks)
            exact += torch.where(outside, grad_rest[:, index, None] * (picked - log_rest[:, index, None]).exp(), 0.0)
        grad.scatter_(-1, picks, exact).scatter_add_(-1, picks, grad_picks)
        return grad, None, *(None for _ in id_sets)


def student_buckets(
    logits: torch.Tensor, topk_ids: Sequence[torch.Tensor], labels: torch.Tensor | None = None
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """The student's log-probabilities of each teacher's k + 1 buckets (N × (k + 1) per teacher, the rest
    last) and, with `labels` (N, no -100), of the labels (N), from logits at temperature T (N × V; log-
    probabilities serve as well). `topk_ids` holds each teacher's top-k ids (N × k)."""
    ids = [value.long() for value in topk_ids]
    extra = [labels.long()[:, None]] if labels is not None else []
    picks = torch.cat([*extra, *ids], dim=-1)
    picked, rest = _PickedAndRest.apply(logits, picks, *ids)  # type: ignore[no-untyped-call]  # torch leaves apply untyped
    tops = picked[:, len(extra) :].split([value.shape[-1] for value in ids], dim=-1)
    buckets = [torch.cat([top, rest[:, index, None]], dim=-1) for index, top in enumerate(tops)]
    return buckets, picked[:, 0] if extra else None
