"""The KD divergences (`loss.divergence`) against hand computations in float64, their limits and gradients,
for classification students and over the top-k buckets of text-to-text students."""

import math

import pytest
import torch
import torch.nn.functional as F

from scalingdown.kd.buckets import bucket_divergence, teacher_bucket_logprobs, teacher_shares
from scalingdown.kd.divergences import COMPUTE, FORWARD_KL, Divergence, classification_divergence, row_divergence
from scalingdown.kd.losses import IGNORE_INDEX, classification_kd_loss, seq2seq_kd_terms, soften
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.divergence_table import DIVERGENCES, with_defaults

P = [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]  # teacher rows
Q = [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]  # student rows


def _kl(p: list[float], q: list[float]) -> float:
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)


def _mix(weight_p: float, p: list[float], q: list[float]) -> list[float]:
    return [weight_p * pi + (1 - weight_p) * qi for pi, qi in zip(p, q)]


def _by_hand(divergence: Divergence, p: list[float], q: list[float]) -> float:
    """The definitions in the module docstring, written out."""
    if divergence.name == "forward_kl":
        return _kl(p, q)
    if divergence.name == "reverse_kl":
        return _kl(q, p)
    if divergence.name == "jsd":
        beta = divergence.beta
        m = _mix(beta, p, q)
        return beta * _kl(p, m) + (1 - beta) * _kl(q, m)
    if divergence.name == "skew_kl":
        return _kl(p, _mix(divergence.alpha, p, q))
    return _kl(q, _mix(1 - divergence.alpha, p, q))


ALL = [
    FORWARD_KL,
    Divergence("reverse_kl"),
    Divergence("jsd", beta=0.3),
    Divergence("skew_kl", alpha=0.2),
    Divergence("skew_reverse_kl", alpha=0.2),
]


def _rows(divergence: Divergence, p: list[list[float]], q: list[list[float]]) -> torch.Tensor:
    log = torch.tensor(p, dtype=torch.float64).log(), torch.tensor(q, dtype=torch.float64).log()
    return row_divergence(*log, divergence)


@pytest.mark.parametrize("divergence", ALL, ids=lambda d: d.name)
def test_each_divergence_matches_its_formula_computed_by_hand(divergence):
    expected = [_by_hand(divergence, p, q) for p, q in zip(P, Q)]
    assert _rows(divergence, P, Q).tolist() == pytest.approx(expected, rel=1e-12)
    assert _rows(divergence, P, P).tolist() == pytest.approx([0.0, 0.0], abs=1e-15)


def test_the_limits_of_the_parameters():
    forward, reverse = _rows(FORWARD_KL, P, Q), _rows(Divergence("reverse_kl"), P, Q)
    assert torch.equal(_rows(Divergence("skew_kl", alpha=0.0), P, Q), forward)
    assert torch.equal(_rows(Divergence("skew_reverse_kl", alpha=0.0), P, Q), reverse)
    # TRL's convention: the two ends of β are forward and reverse KL ...
    assert torch.equal(_rows(Divergence("jsd", beta=0.0), P, Q), forward)
    assert torch.equal(_rows(Divergence("jsd", beta=1.0), P, Q), reverse)
    # ... which the formula approaches as β·KL(p ‖ q) and (1 − β)·KL(q ‖ p)
    small = 1e-6
    assert (_rows(Divergence("jsd", beta=small), P, Q) / small).tolist() == pytest.approx(forward.tolist(), rel=1e-4)
    assert (_rows(Divergence("jsd", beta=1 - small), P, Q) / small).tolist() == pytest.approx(
        reverse.tolist(), rel=1e-4
    )
    # JSD_β(p ‖ q) = JSD_{1−β}(q ‖ p)
    swapped = _rows(Divergence("jsd", beta=0.7), Q, P)
    assert _rows(Divergence("jsd", beta=0.3), P, Q).tolist() == pytest.approx(swapped.tolist(), rel=1e-12)


@pytest.mark.parametrize("divergence", ALL, ids=lambda d: d.name)
def test_entries_of_probability_zero_add_nothing_and_give_finite_gradients(divergence):
    """A support where both sides have probability 0 (the rest bucket when k = V) changes nothing."""
    padded_p = [[*row, 0.0] for row in P]
    padded_q = [[*row, 0.0] for row in Q]
    assert _rows(divergence, padded_p, padded_q).tolist() == pytest.approx(_rows(divergence, P, Q).tolist(), 1e-12)
    log_q = torch.tensor(padded_q, dtype=torch.float64).log().requires_grad_(True)
    row_divergence(torch.tensor(padded_p, dtype=torch.float64).log(), log_q, divergence).sum().backward()
    assert torch.isfinite(log_q.grad).all()


def test_classification_forward_kl_is_the_original_formula_bit_for_bit():
    torch.manual_seed(0)
    student, teacher_probs = torch.randn(7, 4), soften(torch.randn(7, 4), 2.0)
    log_student = F.log_softmax(student / 2.0, dim=-1)
    original = 2.0**2 * (torch.special.xlogy(teacher_probs, teacher_probs) - teacher_probs * log_student).sum(-1).mean()
    assert torch.equal(classification_divergence(student, teacher_probs, 2.0), original)
    terms = classification_kd_loss(student, torch.zeros(7, dtype=torch.long), teacher_probs, 0.5, 0.5, 2.0)
    assert torch.equal(terms["kl"], original)


@pytest.mark.parametrize("divergence", ALL[1:], ids=lambda d: d.name)
def test_classification_divergence_is_t_squared_times_the_row_mean(divergence):
    temperature = 3.0
    student_logits = torch.tensor(Q, dtype=torch.float64).log() * temperature  # softmax(logits / T) = Q
    got = classification_divergence(student_logits, torch.tensor(P, dtype=torch.float64), temperature, divergence)
    expected = temperature**2 * sum(_by_hand(divergence, p, q) for p, q in zip(P, Q)) / len(P)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    terms = classification_kd_loss(
        student_logits, torch.tensor([0, 2]), torch.tensor(P, dtype=torch.float64), 0.0, 1.0, temperature, divergence
    )
    assert terms["loss"].item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("divergence", ALL, ids=lambda d: d.name)
def test_classification_gradients_and_teachers_with_underflowed_classes(divergence):
    torch.manual_seed(1)
    student = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    teacher_probs = soften(torch.randn(3, 4, dtype=torch.float64), 2.0)
    assert torch.autograd.gradcheck(lambda s: classification_divergence(s, teacher_probs, 2.0, divergence), (student,))
    one_hot = torch.eye(4, dtype=torch.float32)[:3]  # a class of probability 0 (as after float32 underflow)
    loss = classification_divergence(student.detach().float().requires_grad_(True), one_hot, 1.0, divergence)
    assert torch.isfinite(loss)


# -- text-to-text: over the teachers' top-k buckets --------------------------------------------------------


def _cache(teacher_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    logprobs = F.log_softmax(teacher_logits, dim=-1)
    values, ids = logprobs.topk(k, dim=-1)
    return ids, values, (1 - values.exp().sum(dim=-1)).clamp_min(0)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
@pytest.mark.parametrize("divergence", ALL, ids=lambda d: d.name)
def test_with_k_equal_to_the_vocabulary_the_bucketed_divergence_is_the_full_one(divergence, temperature):
    torch.manual_seed(2)
    vocab = 9
    student, teacher = torch.randn(2, 3, vocab, dtype=torch.float64), torch.randn(2, 3, vocab, dtype=torch.float64) * 2
    labels = torch.tensor([[1, 2, 3], [4, 5, IGNORE_INDEX]])
    got = seq2seq_kd_terms(student, labels, [_cache(teacher, vocab)], temperature, divergence)[divergence.term]
    keep = labels != IGNORE_INDEX
    full = classification_divergence(student[keep], soften(teacher[keep], temperature), temperature, divergence)
    assert got.item() == pytest.approx(full.item(), rel=1e-10)


@pytest.mark.parametrize("divergence", ALL, ids=lambda d: d.name)
def test_bucketed_divergence_matches_a_hand_computation_over_k_plus_one_buckets(divergence):
    teacher = [0.5, 0.3, 0.1, 0.06, 0.04]  # top-2: tokens 0 and 1, rest 0.2
    student = [0.2, 0.4, 0.2, 0.1, 0.1]  # outside the teacher's top-2: 0.4
    ids, values, tail = _cache(torch.tensor([teacher], dtype=torch.float64).log(), 2)
    got = bucket_divergence(torch.tensor([student], dtype=torch.float64).log(), ids, values, tail, 1.0, divergence)
    assert got.item() == pytest.approx(_by_hand(divergence, [0.5, 0.3, 0.2], [0.2, 0.4, 0.4]), rel=1e-12)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
@pytest.mark.parametrize("divergence", ALL, ids=lambda d: d.name)
def test_bucketed_gradients_pass_gradcheck(divergence, temperature):
    torch.manual_seed(3)
    student = torch.randn(2, 2, 8, dtype=torch.float64, requires_grad=True)
    teachers = [_cache(torch.randn(2, 2, 8, dtype=torch.float64) * 2, k) for k in (3, 2)]
    labels = torch.tensor([[1, 2], [3, IGNORE_INDEX]])
    assert torch.autograd.gradcheck(
        lambda s: seq2seq_kd_terms(s, labels, teachers, temperature, divergence)[divergence.term], (student,)
    )


def test_several_teachers_are_averaged_per_teacher_with_their_weights():
    """Each teacher's divergence on its own buckets, weighted: globally, or per token (normalised over teachers)."""
    torch.manual_seed(4)
    student = torch.randn(1, 3, 10, dtype=torch.float64)
    labels = torch.tensor([[1, 2, IGNORE_INDEX]])
    teachers = [_cache(torch.randn(1, 3, 10, dtype=torch.float64) * 3, k) for k in (4, 2)]
    divergence = Divergence("jsd", beta=0.4)
    log_student = F.log_softmax(student[0], dim=-1)
    per_token = [
        bucket_divergence(log_student, ids[0], values[0], tail[0], 1.0, divergence) for ids, values, tail in teachers
    ]

    uniform = seq2seq_kd_terms(student, labels, teachers, 1.0, divergence)[divergence.term]
    assert uniform.item() == pytest.approx(((per_token[0][:2] + per_token[1][:2]) / 2).mean().item(), rel=1e-12)

    fixed = seq2seq_kd_terms(student, labels, teachers, 1.0, divergence, teacher_weights=[3.0, 1.0])[divergence.term]
    assert fixed.item() == pytest.approx((0.75 * per_token[0][:2] + 0.25 * per_token[1][:2]).mean().item(), rel=1e-12)

    confidence = [
        torch.tensor([[0.9, 0.2, 0.5]], dtype=torch.float64),
        torch.tensor([[0.1, 0.6, 0.5]], dtype=torch.float64),
    ]
    by_token = seq2seq_kd_terms(student, labels, teachers, 1.0, divergence, teacher_weights=confidence)[divergence.term]
    expected = (0.9 * per_token[0][0] + 0.1 * per_token[1][0] + 0.25 * per_token[0][1] + 0.75 * per_token[1][1]) / 2
    assert by_token.item() == pytest.approx(expected.item(), rel=1e-12)


def test_teacher_shares_need_one_weight_per_teacher():
    with pytest.raises(ValueError, match="got 1 teacher weights for 2 teachers"):
        teacher_shares([1.0], 2, torch.ones(3))


def test_a_zero_cached_tail_keeps_reverse_divergences_finite_and_k_equal_to_v_has_no_rest():
    logprobs = torch.tensor([[math.log(0.6), math.log(0.4)]])
    rest = teacher_bucket_logprobs(logprobs, torch.tensor([0.0]), vocab_size=5, temperature=1.0)[0, -1]
    assert torch.isfinite(rest) and rest.exp().item() < 1e-37
    assert torch.isneginf(teacher_bucket_logprobs(logprobs, torch.tensor([0.0]), vocab_size=2, temperature=1.0)[0, -1])
    student = torch.log(torch.tensor([[0.5, 0.3, 0.1, 0.05, 0.05]]))
    ids = torch.tensor([[0, 1]])
    for divergence in ALL:
        assert torch.isfinite(bucket_divergence(student, ids, logprobs, torch.tensor([0.0]), 1.0, divergence)).all()


# -- the config: names, parameters, ranges ------------------------------------------------------------------


def _divergence(loss: dict) -> Divergence:
    """The divergence of a `loss` config section, as the spec builder and the distill stage make it."""
    filled = with_defaults(loss)
    return Divergence(filled.get("divergence", "forward_kl"), beta=filled.get("beta"), alpha=filled.get("alpha"))


def test_defaults_and_parameters_and_one_declaration_of_the_names():
    assert _divergence({}) == FORWARD_KL
    assert _divergence({"divergence": "jsd"}) == Divergence("jsd", beta=0.5)
    assert _divergence({"divergence": "skew_reverse_kl"}).alpha == 0.1
    assert _divergence({"divergence": "jsd", "beta": 1}).parameter == 1
    assert _divergence({"divergence": "skew_kl", "alpha": 0}).parameter == 0
    assert set(COMPUTE) == set(DIVERGENCES) == {"forward_kl", "reverse_kl", "jsd", "skew_kl", "skew_reverse_kl"}
    assert [Divergence(name, **({"beta": 0.5} if name == "jsd" else {})).term for name in ("forward_kl", "jsd")] == [
        "kl",
        "jsd",
    ], "forward KL keeps its old term name"


@pytest.mark.parametrize(
    ("loss", "message"),
    [
        ({"divergence": "kl"}, r"loss\.divergence: unknown divergence 'kl'; expected one of forward_kl, "),
        ({"divergence": ["jsd"]}, r"loss\.divergence: unknown divergence \['jsd'\]"),
        ({"divergence": "jsd", "beta": 1.5}, r"loss\.beta: expected a number in \[0, 1\] for divergence jsd, got 1\.5"),
        ({"divergence": "jsd", "beta": -0.1}, r"loss\.beta: expected a number in \[0, 1\]"),
        ({"divergence": "jsd", "beta": "half"}, r"loss\.beta: expected a number in \[0, 1\] .* got 'half'"),
        ({"divergence": "jsd", "beta": True}, r"loss\.beta: expected a number"),
        ({"divergence": "jsd", "beta": float("nan")}, r"loss\.beta: expected a number"),
        ({"divergence": "skew_kl", "alpha": 1.0}, r"loss\.alpha: expected a number in \[0, 1\) for divergence skew_kl"),
        (
            {"divergence": "jsd", "alpha": 0.1},
            r"loss\.alpha: alpha applies only to .* skew_kl or skew_reverse_kl, not jsd",
        ),
        ({"beta": 0.5}, r"loss\.beta: beta applies only to loss\.divergence jsd, not forward_kl"),
    ],
)
def test_bad_divergence_settings_name_the_key(loss, message):
    with pytest.raises(UserError, match=message):
        _divergence(loss)
