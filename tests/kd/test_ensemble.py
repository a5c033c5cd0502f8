"""Combining teachers: each weighting scheme, the mixed target and agreement, on hand-made logits."""

import math

import numpy as np
import pytest

from scalingdown.kd.ensemble import agreement, mix, probabilities, teacher_weights

NAMES = ["a", "b"]
# Row 0: teacher a is sure of class 0, teacher b hesitates; row 1: the reverse, for class 2.
LOGITS = [
    np.array([[4.0, 0.0, 0.0], [0.0, 0.5, 0.0]]),
    np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 4.0]]),
]


def _softmax(row: list[float], temperature: float = 1.0) -> list[float]:
    exps = [math.exp(v / temperature) for v in row]
    return [e / sum(exps) for e in exps]


def test_uniform_weights_are_equal_on_every_row():
    assert np.allclose(teacher_weights("uniform", NAMES, LOGITS), [[0.5, 0.5], [0.5, 0.5]])


def test_fixed_weights_are_normalised_and_must_name_every_teacher():
    weights = teacher_weights("fixed", NAMES, LOGITS, fixed={"a": 3.0, "b": 1.0})
    assert np.allclose(weights, [[0.75, 0.25], [0.75, 0.25]])
    with pytest.raises(ValueError, match="must name exactly the teachers"):
        teacher_weights("fixed", NAMES, LOGITS, fixed={"a": 1.0})
    with pytest.raises(ValueError, match="do not sum to a positive number"):
        teacher_weights("fixed", NAMES, LOGITS, fixed={"a": 0.0, "b": 0.0})


def test_validation_weights_are_proportional_to_the_scores():
    weights = teacher_weights("validation", NAMES, LOGITS, validation_scores=[0.9, 0.6])
    assert np.allclose(weights, [[0.6, 0.4], [0.6, 0.4]])


def test_confidence_weights_follow_each_teachers_top_probability_per_row():
    weights = teacher_weights("confidence", NAMES, LOGITS)
    top = [[max(_softmax(list(LOGITS[t][row]))) for t in range(2)] for row in range(2)]
    expected = [[c / sum(row) for c in row] for row in top]
    assert np.allclose(weights, expected)
    assert weights[0, 0] > 0.5 > weights[1, 0], "the confident teacher leads on its row"


def test_mix_is_the_weighted_sum_of_softened_distributions():
    weights = np.array([[0.25, 0.75], [1.0, 0.0]])
    target = mix(LOGITS, weights, temperature=2.0)
    for row in range(2):
        expected = [0.0, 0.0, 0.0]
        for teacher in range(2):
            soft = _softmax(list(LOGITS[teacher][row]), 2.0)
            expected = [e + weights[row, teacher] * p for e, p in zip(expected, soft)]
        assert target[row] == pytest.approx(expected, rel=1e-9)
    assert np.allclose(target.sum(axis=1), 1.0)


def test_probabilities_soften_with_temperature():
    assert probabilities(np.array([[1.0, 3.0]]), 2.0)[0] == pytest.approx(_softmax([1.0, 3.0], 2.0))


def test_agreement_counts_unanimous_rows_and_pairs():
    a = np.eye(3)[[0, 1, 2, 0]]
    b = np.eye(3)[[0, 1, 1, 0]]
    c = np.eye(3)[[0, 2, 2, 1]]
    result = agreement(["a", "b", "c"], [a, b, c])
    assert result["all"] == pytest.approx(0.25)
    assert result["pairwise"] == {"a / b": 0.75, "a / c": 0.5, "b / c": 0.25}


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown weighting method 'best'"):
        teacher_weights("best", NAMES, LOGITS)
