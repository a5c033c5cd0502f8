"""`teacher_mode: online` computes the same loss as the cached mode, and plans its inputs accordingly."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch

from scalingdown.data.store import read_split
from scalingdown.families.classification.targets import distillation_target, online_target, teacher_mix
from scalingdown.families.classification.teacher_cache import load_teacher_outputs
from scalingdown.kd.logit_store import read_logits, split_matrix
from scalingdown.kd.losses import classification_kd_loss
from scalingdown.models.loading import load_classifier, load_tokenizer
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.pipeline.specs.definitions import LogitsSpec, PrepareSpec
from scalingdown.stages.distill import distill
from scalingdown.stages.prepare import prepare
from scalingdown.stages.teacher_logits import teacher_logits
from tests.pipeline.conftest import resolved_tiny_config
from tests.training.conftest import distill_spec

LABELS = ["negative", "neutral", "positive"]
LOSS = {"ce": 0.3, "kd": 0.7, "temperature": 2.0}


@pytest.fixture(scope="module")
def teachers_and_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """Prepared data and two tiny teachers, one of whose label order differs from the task's."""
    root = tmp_path_factory.mktemp("online")
    data_spec = {
        "task": "t",
        "type": "classification",
        "labels": LABELS,
        "seed": 5,
        "format": 1,
        "data": {
            "loader": "synthetic_finance",
            "options": {"rows": 40},
            "split": {"validation": 0.2, "test": 0.2},
            "data_portion": 1.0,
        },
    }
    prepare(PrepareSpec.from_dict(data_spec), root / "data")
    teachers = {}
    for name, order, seed in (("big", ["positive", "negative", "neutral"], 11), ("other", LABELS, 12)):
        teacher = load_classifier("tiny:bert-l2-h32", order, seed=seed)
        with torch.no_grad():
            teacher.classifier.weight.mul_(40)  # confident, distinct outputs: a random tiny head is near-uniform
        teacher.save_pretrained(root / name)
        load_tokenizer("tiny:bert-l2-h32").save_pretrained(root / name)
        teachers[name] = root / name
    return root / "data", teachers


def _loss(student_logits: torch.Tensor, labels: torch.Tensor, teacher_probs: torch.Tensor) -> dict[str, float]:
    terms = classification_kd_loss(
        student_logits,
        labels,
        teacher_probs,
        ce_weight=LOSS["ce"],
        kd_weight=LOSS["kd"],
        temperature=LOSS["temperature"],
    )
    return {name: value.item() for name, value in terms.items()}


@pytest.mark.parametrize(
    "weighting",
    [
        {"method": "uniform"},
        {"method": "confidence"},
        {"method": "validation"},
        {"method": "fixed", "weights": {"big": 3, "other": 1}},
    ],
    ids=lambda w: w["method"],
)
def test_online_and_cached_modes_give_the_same_loss_on_the_same_batch(teachers_and_data, tmp_path: Path, weighting):
    data_dir, teacher_dirs = teachers_and_data
    caches, teachers = [], []
    for name, directory in teacher_dirs.items():
        cache = tmp_path / f"{name}.parquet"
        teacher_logits(
            LogitsSpec.from_dict(
                {
                    "type": "classification",
                    "teacher": name,
                    "teacher_key": f"t.{name}-1",
                    "model": str(directory),
                    "max_length": 32,
                    "hidden_layers": [],
                    "label_map": {},
                    "labels": LABELS,
                }
            ),
            str(data_dir),
            str(cache),
        )
        caches.append(str(cache))
        teachers.append({"name": name, "key": f"t.{name}-1", "model": str(directory), "max_length": 32})
    spec = distill_spec(teachers, loss=LOSS, weighting=weighting, teacher_mode="online")
    # what the cached mode feeds the Trainer: the mixture over the whole train split, row by row
    outputs = load_teacher_outputs(spec.teachers, caches, str(data_dir), LABELS, ("train", "validation"))
    cached_probs = distillation_target(spec, outputs, str(data_dir)).astype("float32")  # as fit_classifier stores it
    target = online_target(spec, str(data_dir), [])

    rows = torch.tensor([7, 0, 12, 3, 21, 5])  # unordered, different lengths: padding differs from the cache's
    texts = read_split(data_dir, "train")["text"].tolist()
    student = load_classifier("tiny:bert-l1-h32", LABELS, seed=3).eval()
    encoded = load_tokenizer("tiny:bert-l1-h32")([texts[i] for i in rows], padding=True, return_tensors="pt")
    with torch.no_grad():
        student_logits = student(**encoded).logits
    labels = torch.tensor([0, 2, 1, 1, 0, 2])

    online_probs = target(rows)
    assert torch.allclose(online_probs, torch.from_numpy(cached_probs[rows.numpy()]), atol=1e-6)
    from_cache = _loss(student_logits, labels, torch.from_numpy(cached_probs[rows.numpy()]))
    from_teacher = _loss(student_logits, labels, online_probs)
    assert set(from_cache) == set(from_teacher) == {"ce", "kl", "loss"}
    for term in from_cache:
        assert from_teacher[term] == pytest.approx(from_cache[term], rel=1e-6, abs=1e-6), term
    assert from_cache["kl"] > 0.01
    # The comparison is sensitive: the cached logits without label alignment give another loss.
    raw = [split_matrix(read_logits(cache)[0], "train") for cache in caches]
    scores = [0.5, 0.5] if weighting["method"] == "validation" else None
    unaligned = teacher_mix(spec, ["big", "other"], raw, scores)
    assert _loss(student_logits, labels, torch.from_numpy(unaligned[rows.numpy()]))["kl"] != pytest.approx(
        from_cache["kl"], rel=1e-3
    )


def test_online_mode_refuses_logit_caches(teachers_and_data):
    data_dir, teacher_dirs = teachers_and_data
    spec = distill_spec(
        [{"name": "big", "key": "t.big-1", "model": str(teacher_dirs["big"]), "max_length": 32}],
        loss=LOSS,
        teacher_mode="online",
    )
    with pytest.raises(UserError, match="reads no logit caches"):
        online_target(spec, str(data_dir), ["some.parquet"])


def test_an_online_student_needs_the_teacher_model_and_no_logit_cache():
    config = resolved_tiny_config()
    students = config["tasks"]["sentiment"]["students"]
    students["online"] = {**copy.deepcopy(students["distilled"]), "teacher_mode": "online"}
    plan = Plan(config)
    teacher = plan.tasks["sentiment"].teachers["big"]
    assert plan.distill_logits("sentiment", "online") == []
    assert plan.distill_teacher_models("sentiment", "online") == [teacher.model_dir]
    assert plan.distill_logits("sentiment", "distilled") == [teacher.logits]
    assert plan.distill_teacher_models("sentiment", "distilled") == []
    assert plan.student("sentiment", "online").role == "student (distilled from big, online)"
    specs = StageSpecs(plan)
    assert '"teacher_mode":"online"' in specs.distill("sentiment", "online").to_json()
    assert '"teacher_mode":"cached"' in specs.distill("sentiment", "distilled").to_json()


def test_every_divergence_distils_a_classifier_from_the_cache_and_online(teachers_and_data, tmp_path: Path):
    """A tiny `distill` per divergence (cached and online in turn, two teachers): the history logs its term, finite,
    and the student is saved."""
    data_dir, teacher_dirs = teachers_and_data
    caches, teachers = [], []
    for name, directory in teacher_dirs.items():
        spec = LogitsSpec(
            type="classification",
            teacher=name,
            teacher_key=f"t.{name}-1",
            model=str(directory),
            max_length=32,
            hidden_layers=[],
            label_map={},
            labels=LABELS,
        )
        teacher_logits(spec, str(data_dir), str(tmp_path / f"{name}.parquet"))
        caches.append(str(tmp_path / f"{name}.parquet"))
        teachers.append({"name": name, "key": f"t.{name}-1", "model": str(directory), "max_length": 32})
    init = tmp_path / "init"
    load_classifier("tiny:bert-l1-h32", LABELS, seed=3).save_pretrained(init)
    load_tokenizer("tiny:bert-l1-h32").save_pretrained(init)
    runs = [
        ("reverse_kl", {}, "cached"),
        ("jsd", {"beta": 0.3}, "online"),
        ("skew_kl", {"alpha": 0.1}, "cached"),
        ("skew_reverse_kl", {"alpha": 0.2}, "online"),
    ]
    for name, parameter, mode in runs:
        spec = distill_spec(teachers, loss={**LOSS, "divergence": name, **parameter}, teacher_mode=mode, batch_size=8)
        out = tmp_path / name
        distill(
            spec,
            str(data_dir),
            str(init),
            caches if mode == "cached" else [],
            str(out / "model"),
            str(out / "history.json"),
            str(out / "ck"),
        )
        logged = [entry[f"loss_{name}"] for entry in json.loads((out / "history.json").read_text()) if "loss" in entry]
        assert logged and all(math.isfinite(value) and value >= 0 for value in logged), (name, logged)
        assert (out / "model" / "model.safetensors").is_file()
