"""Token-level KD against a cached top-k distribution, on hand-made distributions."""

import math

import pytest
import torch
import torch.nn.functional as F

from scalingdown.kd.buckets import teacher_bucket_logprobs
from scalingdown.kd.divergences import classification_divergence
from scalingdown.kd.losses import IGNORE_INDEX, hidden_mse, seq2seq_kd_terms, soften, token_cross_entropy, topk_kl


def _cache(teacher_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What teacher_logits caches: top-k ids, their log-probabilities (T = 1) and the tail mass."""
    logprobs = F.log_softmax(teacher_logits, dim=-1)
    values, ids = logprobs.topk(k, dim=-1)
    tail = (1 - values.double().exp().sum(dim=-1)).clamp_min(0).float()
    return ids, values, tail


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_with_k_equal_to_the_vocabulary_it_is_the_full_kl(temperature):
    torch.manual_seed(0)
    vocab = 11
    student, teacher = torch.randn(2, 3, vocab), torch.randn(2, 3, vocab) * 3
    labels = torch.tensor([[1, 2, 3], [4, 5, IGNORE_INDEX]])
    ids, values, tail = _cache(teacher, vocab)
    got = topk_kl(student, labels, ids, values, tail, temperature)
    keep = labels != IGNORE_INDEX
    full = classification_divergence(student[keep], soften(teacher[keep], temperature), temperature)
    assert got.item() == pytest.approx(full.item(), rel=1e-5, abs=1e-6)


def test_top_k_kl_matches_a_hand_computed_bucket_kl_with_the_tail_as_its_own_bucket():
    teacher = [0.5, 0.3, 0.1, 0.06, 0.04]  # top-2 = tokens 0 and 1, tail 0.2
    student = [0.2, 0.4, 0.2, 0.1, 0.1]  # outside the teacher's top-2: 0.4
    expected = 0.5 * math.log(0.5 / 0.2) + 0.3 * math.log(0.3 / 0.4) + 0.2 * math.log(0.2 / 0.4)
    student_logits = torch.tensor([[student]]).log()
    ids, values, tail = _cache(torch.tensor([[teacher]]).log(), 2)
    assert tail.item() == pytest.approx(0.2, rel=1e-6)
    got = topk_kl(student_logits, torch.tensor([[0]]), ids, values, tail, 1.0)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_the_tail_is_not_dropped():
    """A student equal to the teacher on the top-k but wrong about the rest is penalised; an equal one is not."""
    teacher = torch.tensor([[[0.6, 0.2, 0.1, 0.1]]]).log()
    ids, values, tail = _cache(teacher, 2)
    labels = torch.tensor([[0]])
    assert topk_kl(teacher, labels, ids, values, tail, 1.0).item() == pytest.approx(0.0, abs=1e-6)
    # same ratio on the top-2 (3:1) but almost nothing left for the tail
    greedy = torch.tensor([[[0.74, 0.2466, 0.0067, 0.0067]]]).log()
    assert topk_kl(greedy, labels, ids, values, tail, 1.0).item() > 0.1
    # a renormalised top-k KL (tail dropped) would call the two equally good
    renormalised = F.kl_div(F.log_softmax(greedy[0, 0, :2], -1), F.softmax(teacher[0, 0, :2], -1), reduction="sum")
    assert renormalised.item() == pytest.approx(0.0, abs=1e-3)


def test_softened_tail_spreads_evenly_over_the_other_tokens():
    """At T ≠ 1 the rest bucket is (V−k)·(tail/(V−k))^(1/T) before normalisation."""
    logprobs = torch.tensor([[math.log(0.7), math.log(0.2)]])
    tail = torch.tensor([0.1])
    buckets = teacher_bucket_logprobs(logprobs, tail, vocab_size=12, temperature=2.0)
    raw = [0.7**0.5, 0.2**0.5, 10 * (0.1 / 10) ** 0.5]
    total = sum(raw)
    assert buckets.exp()[0].tolist() == pytest.approx([value / total for value in raw], rel=1e-5)
    # float16-rounded log-probabilities still give a proper distribution
    buckets16 = teacher_bucket_logprobs(logprobs.half(), tail, 12, 1.0)
    assert buckets16.exp().sum().item() == pytest.approx(1.0, abs=1e-6)


def test_gradients_are_finite_without_a_tail_and_padding_is_ignored():
    torch.manual_seed(1)
    student = torch.randn(1, 2, 5, requires_grad=True)
    ids, values, tail = _cache(torch.randn(1, 2, 5), 5)
    labels = torch.tensor([[3, IGNORE_INDEX]])
    topk_kl(student, labels, ids, values, tail, 2.0).backward()
    assert torch.isfinite(student.grad).all()
    assert torch.count_nonzero(student.grad[0, 1]) == 0, "the padded position gets no gradient"


def test_token_cross_entropy_ignores_padding():
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 5.0, 0.0]]])
    labels = torch.tensor([[0, IGNORE_INDEX]])
    assert token_cross_entropy(logits, labels).item() == pytest.approx(-F.log_softmax(logits[0, 0], -1)[0].item())


def test_hidden_mse_projects_the_student_width_to_the_teacher_width():
    projection = torch.nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        projection.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    student, teacher = torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 2.0, 0.0]])
    assert hidden_mse([student], [teacher], [projection]).item() == pytest.approx(9.0 / 3)


def test_ce_and_kl_terms_share_one_pass_and_match_the_separate_losses():
    torch.manual_seed(2)
    student, teacher = torch.randn(2, 3, 9), torch.randn(2, 3, 9)
    labels = torch.tensor([[1, 2, IGNORE_INDEX], [4, 5, 6]])
    first, second = _cache(teacher, 4), _cache(teacher * 2, 3)
    for temperature in (1.0, 3.0):
        terms = seq2seq_kd_terms(student, labels, [first, second], temperature)
        assert terms["ce"].item() == pytest.approx(token_cross_entropy(student, labels).item(), rel=1e-6)
        separate = [topk_kl(student, labels, *cache, temperature) for cache in (first, second)]
        assert terms["kl"].item() == pytest.approx(sum(separate).item() / 2, rel=1e-6)
