"""The student's top-k buckets from its logits in one pass: against plain autograd, gradcheck, and the precision of
the rest bucket for a student that puts almost nothing outside the teacher's top-k (issue 15, item 8), and the
teacher's tail in the cache."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from scalingdown.families.text2text.topk import topk_columns
from scalingdown.kd.losses import seq2seq_kd_terms
from scalingdown.kd.student_buckets import student_buckets


def _reference(logits: torch.Tensor, topk_ids: list[torch.Tensor], labels: torch.Tensor | None):
    """The same quantities with autograd's own operations: a log-softmax, gathers and a masked logsumexp."""
    log_q = F.log_softmax(logits, dim=-1)
    buckets = [
        torch.cat([log_q.gather(-1, ids), log_q.scatter(-1, ids, -torch.inf).logsumexp(-1, keepdim=True)], dim=-1)
        for ids in topk_ids
    ]
    return buckets, None if labels is None else log_q.gather(-1, labels[:, None])[:, 0]


def _weighted_sum(outputs, weights: list[torch.Tensor]) -> torch.Tensor:
    buckets, label_logprobs = outputs
    total = sum(torch.where(torch.isinf(b), 0.0, b * w).sum() for b, w in zip(buckets, weights[1:]))
    return total + (0.0 if label_logprobs is None else (label_logprobs * weights[0]).sum())


def _ids(rows: int, vocab: int, k: int) -> torch.Tensor:
    return torch.stack([torch.randperm(vocab)[:k] for _ in range(rows)])


CASES = {
    "two teachers and labels": (2, [4, 3], True),
    "one teacher": (1, [4], False),
    "k equal to the vocabulary": (2, [12, 3], True),
    "labels only": (0, [], True),
}


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_equal_plain_autograd_and_pass_gradcheck(case):
    _, sizes, with_labels = CASES[case]
    torch.manual_seed(0)
    rows, vocab = 5, 12
    logits = torch.randn(rows, vocab, dtype=torch.float64, requires_grad=True)
    topk_ids = [_ids(rows, vocab, k) for k in sizes]
    if len(topk_ids) > 1:
        topk_ids[1][0] = 0  # duplicate ids, as on padded positions
    labels = torch.randint(0, vocab, (rows,)) if with_labels else None
    if labels is not None and topk_ids:
        labels[1] = topk_ids[0][1, 0]  # a label among the top-k
    weights = [torch.randn(rows, dtype=torch.float64)] + [torch.randn(rows, k + 1, dtype=torch.float64) for k in sizes]

    got = _weighted_sum(student_buckets(logits, topk_ids, labels), weights)
    expected = _weighted_sum(_reference(logits, topk_ids, labels), weights)
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)
    (grad,) = torch.autograd.grad(got, logits)
    (expected_grad,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda z: _weighted_sum(student_buckets(z, topk_ids, labels), weights), (logits,))


def test_a_rest_below_the_smallest_normal_float_is_still_exact():
    torch.manual_seed(1)
    logits = torch.randn(3, 10, dtype=torch.float64)
    logits[:, :4] += 800.0  # the rest is about e^-800, under float64's smallest normal number
    logits.requires_grad_(True)
    ids = torch.arange(4).expand(3, 4)
    (buckets,), _ = student_buckets(logits, [ids])
    expected = (logits[:, 4:].logsumexp(-1) - logits.logsumexp(-1)).detach()
    torch.testing.assert_close(buckets[:, -1].detach(), expected, rtol=1e-12, atol=0.0)
    weights = torch.arange(5.0, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: (student_buckets(z, [ids])[0][0] * weights).sum(), (logits,))


def test_a_student_with_almost_nothing_outside_the_top_k_gets_the_exact_loss_and_gradient():
    """Float32, student mass outside the teacher's top-k < 1e-8: loss and gradient within 1e-4 of float64 exact
    (1 − Σ top-k would give rounding noise there: a loss off by up to 1.6× and a gradient by far more)."""
    torch.manual_seed(2)
    batch, length, vocab, k = 2, 3, 40, 4
    teacher_logits = torch.randn(batch, length, vocab) + torch.nn.functional.one_hot(torch.arange(k), vocab).sum(0) * 3
    teacher_logprobs = F.log_softmax(teacher_logits.double(), dim=-1)
    values, ids = teacher_logprobs.topk(k, dim=-1)
    tail = 1 - values.exp().sum(-1)  # the teacher keeps 1-10 % outside its top-k
    teacher = (ids, values.float(), tail.float())
    labels = torch.randint(0, vocab, (batch, length))

    logits = torch.randn(batch, length, vocab)
    logits.scatter_add_(-1, ids, torch.full((batch, length, k), 24.0))  # the student is sure of the top-k

    def exact(student: torch.Tensor) -> torch.Tensor:
        q = F.softmax(student, dim=-1)
        inside = torch.zeros_like(q, dtype=torch.bool).scatter_(-1, ids, True)
        q_buckets = torch.cat([q.gather(-1, ids), (q * ~inside).sum(-1, keepdim=True)], dim=-1)
        p_buckets = torch.cat([values.exp(), tail[..., None]], dim=-1)
        return (p_buckets * (p_buckets / q_buckets).log()).sum(-1).mean()

    student64 = logits.double().requires_grad_(True)
    expected = exact(student64)
    (expected_grad,) = torch.autograd.grad(expected, student64)
    rest = F.softmax(logits.double(), dim=-1).scatter(-1, ids, 0.0).sum(-1)
    assert rest.max() < 1e-8

    student32 = logits.clone().requires_grad_(True)
    got = seq2seq_kd_terms(student32, labels, [teacher], 1.0)["kl"]
    (grad,) = torch.autograd.grad(got, student32)
    assert got.item() == pytest.approx(expected.item(), rel=1e-4)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=1e-4, atol=1e-4 * expected_grad.abs().max().item())


class _ConfidentTeacher(torch.nn.Module):
    """A stand-in seq2seq teacher whose next-token logits are fixed: almost all mass on one token per position."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits
        self.config = SimpleNamespace(pad_token_id=0, vocab_size=logits.shape[-1])
        self.device = torch.device("cpu")

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return labels.clamp_min(0)

    def forward(self, input_ids, attention_mask, decoder_input_ids, output_hidden_states=False):
        rows, length = decoder_input_ids.shape
        return SimpleNamespace(logits=self.logits[:length].expand(rows, -1, -1))


def test_the_teacher_cache_keeps_the_tail_of_a_confident_teacher():
    """The cached tail is the teacher's mass outside its top-k summed directly: for a teacher with ~1e-15 there,
    1 − Σ top-k is float32 rounding noise (0 here); the cache matches the float64 value to 1e-4."""
    torch.manual_seed(1)
    logits = torch.randn(3, 50, dtype=torch.float64) * 3
    logits[:, 7] += 40.0  # 1e-16 to 1e-14 outside the top 2
    teacher = _ConfidentTeacher(logits.float())
    columns = topk_columns(teacher, [[5, 6]], [[7, 8, 9]], k=2, batch_size=1)
    log_q = torch.log_softmax(logits, dim=-1)
    top = log_q.topk(2, dim=-1)
    exact = log_q.scatter(-1, top.indices, -torch.inf).logsumexp(dim=-1).exp()
    assert exact.max() < 1e-13
    assert columns["tail_mass"][0].tolist() == pytest.approx(exact.tolist(), rel=1e-4, abs=0)
