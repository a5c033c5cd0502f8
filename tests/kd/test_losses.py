"""The KD loss against hand computations."""

import math

import pytest
import torch
import torch.nn.functional as F

from scalingdown.kd.divergences import classification_divergence
from scalingdown.kd.losses import classification_kd_loss, soften


def _softmax(values: list[float], temperature: float) -> list[float]:
    exps = [math.exp(v / temperature) for v in values]
    return [e / sum(exps) for e in exps]


def test_kd_kl_matches_hand_computation_with_temperature_squared_and_batch_mean():
    student = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    teacher = [[2.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    temperature = 2.0
    expected_rows = []
    for s_row, t_row in zip(student, teacher):
        p = _softmax(t_row, temperature)
        q = _softmax(s_row, temperature)
        expected_rows.append(sum(pi * math.log(pi / qi) for pi, qi in zip(p, q)))
    expected = temperature**2 * sum(expected_rows) / len(expected_rows)

    teacher_probs = soften(torch.tensor(teacher), temperature)
    value = classification_divergence(torch.tensor(student), teacher_probs, temperature)
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_kd_kl_is_zero_for_identical_distributions_and_handles_zero_probabilities():
    logits = torch.tensor([[3.0, 1.0, -2.0]])
    assert classification_divergence(logits, soften(logits, 4.0), 4.0).item() == pytest.approx(0.0, abs=1e-6)
    one_hot = torch.tensor([[0.0, 1.0, 0.0]])
    expected = -F.log_softmax(logits / 1.0, dim=-1)[0, 1].item()
    assert classification_divergence(logits, one_hot, 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_temperature_scaling_changes_the_loss_as_computed_by_hand():
    student, teacher = [[0.2, 0.8]], [[1.5, -0.5]]
    for temperature in (1.0, 3.0):
        p, q = _softmax(teacher[0], temperature), _softmax(student[0], temperature)
        expected = temperature**2 * sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
        got = classification_divergence(torch.tensor(student), soften(torch.tensor(teacher), temperature), temperature)
        assert got.item() == pytest.approx(expected, rel=1e-6)


def test_weighted_sum_and_equals_cross_entropy_when_kd_weight_is_zero():
    torch.manual_seed(0)
    student = torch.randn(4, 3)
    labels = torch.tensor([0, 2, 1, 1])
    teacher_probs = soften(torch.randn(4, 3), 2.0)
    ce = F.cross_entropy(student, labels)

    only_ce = classification_kd_loss(student, labels, teacher_probs, ce_weight=1.0, kd_weight=0.0, temperature=2.0)
    assert only_ce["loss"].item() == pytest.approx(ce.item(), rel=1e-6)

    mixed = classification_kd_loss(student, labels, teacher_probs, ce_weight=0.3, kd_weight=0.7, temperature=2.0)
    expected = 0.3 * ce + 0.7 * classification_divergence(student, teacher_probs, 2.0)
    assert mixed["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert set(mixed) == {"ce", "kl", "loss"}


def test_without_teachers_the_loss_is_plain_cross_entropy():
    student = torch.tensor([[2.0, 0.0, -1.0]])
    labels = torch.tensor([0])
    terms = classification_kd_loss(student, labels, None, ce_weight=0.5, kd_weight=0.5, temperature=2.0)
    assert terms["loss"].item() == pytest.approx(F.cross_entropy(student, labels).item(), rel=1e-6)
    assert "kl" not in terms
