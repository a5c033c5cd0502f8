"""What a classification student learns from its teachers: their softened distributions mixed by the student's
weighting (from the caches, or computed per batch by teachers run online) and their pooled hidden states."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from scalingdown.data.labels import label_ids
from scalingdown.data.store import read_split
from scalingdown.families.classification.fit import HiddenTargets
from scalingdown.families.classification.online_teachers import load_online_teachers
from scalingdown.families.classification.teacher_cache import TeacherOutputs
from scalingdown.kd.ensemble import accuracy, mix, teacher_weights
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.specs.definitions import DistillSpec

log = logging.getLogger(__name__)


def teacher_mix(
    spec: DistillSpec, names: list[str], logits: list[np.ndarray], validation_scores: list[float] | None
) -> np.ndarray:
    """The teachers' softened distributions on some rows, mixed by the student's weighting."""
    weighting = spec.weighting
    weights = teacher_weights(weighting.method, names, logits, weighting.weights, validation_scores)
    return mix(logits, weights, float(spec.loss.temperature))


def _validation_scores(
    spec: DistillSpec, data_dir: str, names: list[str], validation_logits: Callable[[], list[np.ndarray]]
) -> list[float] | None:
    """Each teacher's validation accuracy when the weighting needs it (logits computed only then)."""
    if spec.weighting.method != "validation":
        return None
    gold = np.array(label_ids(read_split(data_dir, "validation"), spec.labels or []))
    scores = [accuracy(matrix, gold) for matrix in validation_logits()]
    log.info("validation accuracy of the teachers: %s", dict(zip(names, scores)))
    return scores


def distillation_target(spec: DistillSpec, outputs: list[TeacherOutputs], data_dir: str) -> np.ndarray:
    """The train-split target distribution: the cached teachers' softened distributions, mixed."""
    names = [out.name for out in outputs]
    scores = _validation_scores(spec, data_dir, names, lambda: [out.logits["validation"] for out in outputs])
    target = teacher_mix(spec, names, [out.logits["train"] for out in outputs], scores)
    log.info("distillation target over %d train rows from %s (%s weighting)", len(target), names, spec.weighting.method)
    return target


def hidden_targets(spec: DistillSpec, outputs: list[TeacherOutputs]) -> HiddenTargets | None:
    """The teachers' cached pooled states for every pair of the student's hidden map (None without one)."""
    pairs = spec.loss.hidden_pairs()
    if not pairs or not spec.loss.hidden:
        return None
    by_name = {out.name: out for out in outputs}
    return HiddenTargets(
        student_layers=[pair.student_layer for pair in pairs],
        states=[by_name[pair.teacher].hidden[pair.teacher_layer] for pair in pairs],
        weight=float(spec.loss.hidden),
        always_linear=spec.loss.hidden_projection == "linear",
    )


def online_target(spec: DistillSpec, data_dir: str, logits_paths: list[str]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The distillation target of a training batch, computed by running the teachers on its rows."""
    if logits_paths:
        raise UserError("teacher_mode online runs the teachers and reads no logit caches; drop --logits")
    teachers = load_online_teachers(spec.teachers, spec.labels or [], read_split(data_dir, "train")["text"].tolist())
    names = [teacher.name for teacher in spec.teachers]
    scores = _validation_scores(
        spec, data_dir, names, lambda: teachers.logits_of_texts(read_split(data_dir, "validation")["text"].tolist())
    )

    def target(row_index: torch.Tensor) -> torch.Tensor:
        mixed = teacher_mix(spec, names, teachers.logits(row_index), scores)
        return torch.from_numpy(mixed.astype(np.float32)).to(row_index.device)  # as the cached rows are stored

    return target
