"""`loss.divergence`, `loss.beta`, `loss.alpha` from the config to the spec, and the weighting of text-to-text
teachers: config errors name the key, a config without the keys reruns nothing, mixed weights by hand."""

import copy
from types import SimpleNamespace

import pytest
import torch
import yaml

from scalingdown.families.text2text.fit import TeacherRows, seq2seq_loss_fn
from scalingdown.families.text2text.teacher_cache import validation_score
from scalingdown.kd.divergences import Divergence
from scalingdown.kd.ensemble import token_teacher_weights
from scalingdown.kd.logit_store import CacheMismatch
from scalingdown.kd.losses import seq2seq_kd_terms
from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.config.json_schema import check_schema
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.divergence_table import DIVERGENCES
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.pipeline.specs.definitions import LossSpec, WeightingSpec
from tests.conftest import REPO, TINY_CONFIG
from tests.pipeline.conftest import resolved_tiny_config

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
KEY = "tasks.sentiment.students.distilled.loss"


def _with_loss(**settings: object) -> dict:
    config = resolved_tiny_config()
    config["tasks"]["sentiment"]["students"]["distilled"]["loss"].update(settings)
    return config


def test_the_schema_lists_the_divergences_the_pipeline_declares():
    loss = yaml.safe_load(SCHEMA.read_text())["$defs"]["loss"]["properties"]
    assert loss["divergence"]["enum"] == list(DIVERGENCES)
    assert "default" not in loss["divergence"] and "default" not in loss["beta"] and "default" not in loss["alpha"]


@pytest.mark.parametrize(
    ("settings", "key", "problem"),
    [
        ({"divergence": "kl"}, "divergence", "'kl' is not one of ['forward_kl', 'reverse_kl', 'jsd', "),
        ({"divergence": "skew_kl", "alpha": 1.0}, "alpha", "1.0 is greater than or equal to the maximum of 1"),
        ({"divergence": "jsd", "beta": 1.5}, "beta", "1.5 is greater than the maximum of 1"),
    ],
    ids=["unknown-divergence", "alpha-one", "beta-above-one"],
)
def test_the_schema_refuses_unknown_divergences_and_parameters_out_of_range(settings, key, problem):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    apply_member_defaults(config)
    config["tasks"]["sentiment"]["students"]["distilled"]["loss"].update(settings)
    with pytest.raises(ConfigError) as error:
        check_schema(config, SCHEMA)
    assert error.value.key == f"{KEY}.{key}"
    assert error.value.problem.startswith(problem)


@pytest.mark.parametrize(
    ("settings", "key", "problem"),
    [
        ({"divergence": "reverse_kl", "beta": 0.5}, "beta", "beta applies only to loss.divergence jsd, not reverse_kl"),
        ({"beta": 0.5}, "beta", "beta applies only to loss.divergence jsd, not forward_kl"),
        (
            {"divergence": "jsd", "alpha": 0.1},
            "alpha",
            "alpha applies only to loss.divergence skew_kl or skew_reverse_kl, not jsd",
        ),
    ],
    ids=["beta-for-reverse-kl", "beta-without-jsd", "alpha-for-jsd"],
)
def test_a_parameter_the_divergence_does_not_take_is_refused_before_any_job(settings, key, problem, tmp_path):
    with pytest.raises(ConfigError) as error:
        check_config(_with_loss(**settings), tmp_path)
    assert error.value.key == f"{KEY}.{key}"
    assert error.value.problem == problem


def test_without_the_keys_the_distill_spec_is_unchanged_and_forward_kl_said_out_loud_is_the_same():
    plain = StageSpecs(Plan(resolved_tiny_config())).distill("sentiment", "distilled")
    assert not {"divergence", "beta", "alpha"} & set(plain.to_dict()["loss"])
    said = StageSpecs(Plan(_with_loss(divergence="forward_kl"))).distill("sentiment", "distilled")
    assert said.to_json() == plain.to_json()
    assert Plan(_with_loss(divergence="forward_kl")).student("sentiment", "distilled").role == (
        "student (distilled from big)"
    )


@pytest.mark.parametrize(
    ("settings", "loss", "role"),
    [
        ({"divergence": "jsd"}, {"divergence": "jsd", "beta": 0.5}, "jsd, β = 0.5"),
        ({"divergence": "jsd", "beta": 0}, {"divergence": "jsd", "beta": 0}, "jsd, β = 0"),
        (
            {"divergence": "skew_reverse_kl"},
            {"divergence": "skew_reverse_kl", "alpha": 0.1},
            "skew_reverse_kl, α = 0.1",
        ),
        ({"divergence": "reverse_kl"}, {"divergence": "reverse_kl"}, "reverse_kl"),
    ],
)
def test_the_spec_holds_the_divergence_with_its_parameter_filled_and_the_role_names_it(settings, loss, role, tmp_path):
    config = _with_loss(**settings)
    check_config(config, tmp_path)
    spec = StageSpecs(Plan(config)).distill("sentiment", "distilled")
    assert {key: spec.to_dict()["loss"][key] for key in loss} == loss
    assert not ({"divergence", "beta", "alpha"} - set(loss)) & set(spec.to_dict()["loss"])
    assert Plan(config).student("sentiment", "distilled").role == f"student (distilled from big, {role})"
    other = copy.deepcopy(config)
    other["tasks"]["sentiment"]["students"]["distilled"]["loss"]["temperature"] = 3.0
    assert (
        Plan(other).tasks["sentiment"].teachers["big"].logits == Plan(config).tasks["sentiment"].teachers["big"].logits
    )


# -- text-to-text teachers: weights -------------------------------------------------------------------------------
def _top_logprobs(*rows: list[float]) -> torch.Tensor:
    """A teacher's cached top-k log-probabilities (1 × tokens × k) from probabilities, highest first."""
    return torch.tensor([rows], dtype=torch.float64).log()


def test_text_to_text_teacher_weights_by_hand():
    names = ["a", "b"]
    tops = [_top_logprobs([0.9, 0.05], [0.2, 0.1]), _top_logprobs([0.3, 0.2], [0.6, 0.3])]
    assert token_teacher_weights("uniform", names, tops) == [0.5, 0.5]
    assert token_teacher_weights("fixed", names, tops, fixed={"a": 3, "b": 1}) == [0.75, 0.25]
    assert token_teacher_weights("validation", names, tops, validation_scores=[0.6, 0.2]) == pytest.approx([0.75, 0.25])
    confidence = token_teacher_weights("confidence", names, tops)
    assert torch.allclose(confidence[0], torch.tensor([[0.9, 0.2]], dtype=torch.float64))
    assert torch.allclose(confidence[1], torch.tensor([[0.3, 0.6]], dtype=torch.float64))


def _cache(top: torch.Tensor, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.tensor([ids]), top, (1 - top.exp().sum(dim=-1))


@pytest.mark.parametrize(
    ("weighting", "shares"),
    [
        ({"method": "fixed", "weights": {"a": 3.0, "b": 1.0}}, [[0.75, 0.75], [0.25, 0.25]]),
        ({"method": "validation"}, [[0.25, 0.25], [0.75, 0.75]]),  # perplexities 6 and 2: scores 1/6 and 1/2
        ({"method": "confidence"}, [[0.75, 0.25], [0.25, 0.75]]),  # top probabilities 0.9/0.3 and 0.2/0.6
    ],
    ids=lambda value: value["method"] if isinstance(value, dict) else "",
)
def test_the_text_to_text_loss_mixes_each_teachers_divergence_by_its_weight(weighting, shares):
    """The kd term of two teachers equals Σ_teachers Σ_tokens share × (that teacher's term) / tokens."""
    torch.manual_seed(0)
    student = torch.randn(1, 2, 6, dtype=torch.float64)
    labels = torch.tensor([[1, 2]])
    caches = [
        _cache(_top_logprobs([0.9, 0.05], [0.2, 0.1]), [[1, 3], [2, 0]]),
        _cache(_top_logprobs([0.3, 0.2], [0.6, 0.3]), [[4, 1], [5, 2]]),
    ]
    loss = LossSpec(
        ce=0.0, kd=1.0, temperature=1.0, hidden=0.0, hidden_projection="auto", hidden_map={}, divergence="jsd", beta=0.5
    )
    rows = [TeacherRows(name, 2, False, {}, 1 / perplexity) for name, perplexity in (("a", 6.0), ("b", 2.0))]
    loss_fn = seq2seq_loss_fn(loss, rows, None, {}, WeightingSpec.from_dict(weighting))
    targets = {"labels": labels}
    for index, (ids, logprobs, tail) in enumerate(caches):
        targets.update({f"teacher_{index}_topk_ids": ids, f"teacher_{index}_topk_logprobs": logprobs})
        targets[f"teacher_{index}_tail_mass"] = tail
    got = loss_fn(SimpleNamespace(logits=student), targets, {})["jsd"]
    expected = 0.0
    for cache, teacher_shares in zip(caches, shares):
        for token, share in enumerate(teacher_shares):
            mask = torch.tensor([[index == token for index in range(2)]])
            alone = seq2seq_kd_terms(student, torch.where(mask, labels, -100), [cache], 1.0, Divergence("jsd", 0.5))
            expected += share * alone["jsd"].item() / 2
    assert got.item() == pytest.approx(expected, rel=1e-10)


def test_validation_weighting_refuses_a_cache_without_a_score_or_scored_on_other_data():
    with pytest.raises(CacheMismatch, match=r"c\.parquet: records no validation perplexity .*rerun teacher_logits"):
        validation_score("c.parquet", {}, "abc")
    recorded = {"validation": {"sha256": "0" * 64, "perplexity": 4.0}}
    with pytest.raises(CacheMismatch, match="computed on other validation data"):
        validation_score("c.parquet", recorded, "1" * 64)
    assert validation_score("c.parquet", recorded, "0" * 64) == 0.25
