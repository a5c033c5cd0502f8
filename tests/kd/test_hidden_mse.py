"""The hidden-layer MSE (with and without projection) and attention-mask mean pooling, by hand."""

import pytest
import torch

from scalingdown.kd.losses import HiddenProjections, hidden_mse, masked_mean


def test_without_projection_it_is_the_plain_mse_averaged_over_pairs():
    projections = HiddenProjections(2, [2, 2])
    assert all(isinstance(p, torch.nn.Identity) for p in projections)
    student = [torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[1.0, 1.0], [1.0, 1.0]])]
    teacher = [torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[1.0, 1.0], [1.0, 1.0]])]
    first = (0 + 4 + 0 + 4) / 4  # squared differences over rows × width
    second = 0.0
    assert hidden_mse(student, teacher, projections).item() == pytest.approx((first + second) / 2)


def test_a_projection_maps_the_student_width_onto_the_teachers():
    projections = HiddenProjections(2, [3])
    layer = projections[0]
    assert isinstance(layer, torch.nn.Linear) and (layer.in_features, layer.out_features) == (2, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        layer.bias.copy_(torch.tensor([0.0, 0.0, 1.0]))
    student = torch.tensor([[1.0, 2.0]])
    teacher = torch.tensor([[1.0, 0.0, 0.0]])
    projected = [1.0, 2.0, 4.0]  # W·s + b by hand
    expected = sum((p - t) ** 2 for p, t in zip(projected, [1.0, 0.0, 0.0])) / 3
    loss = hidden_mse([student], [teacher], projections)
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0, "the projection learns"


def test_always_linear_projects_even_equal_widths():
    assert isinstance(HiddenProjections(4, [4], always_linear=True)[0], torch.nn.Linear)


def test_mismatched_pairs_are_refused():
    with pytest.raises(ValueError, match="one projection per pair"):
        hidden_mse([torch.zeros(1, 2)], [], HiddenProjections(2, [2]))


def test_masked_mean_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert masked_mean(hidden, mask).tolist() == [[2.0, 3.0]]
