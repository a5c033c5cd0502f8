"""The `teacher_ensemble` stage: teachers' scores, agreement and ensembles, from their cached logits only.

A stage of the classification family alone: the plan runs it for the tasks of a family with `teacher_ensemble`
(`pipeline.names.families`), and it reads the classification teacher caches.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from scalingdown.data.labels import label_ids
from scalingdown.data.store import read_split
from scalingdown.evaluation.metrics import classification_scores
from scalingdown.families.classification.teacher_cache import load_teacher_outputs
from scalingdown.kd.ensemble import accuracy, agreement, mix, teacher_weights
from scalingdown.pipeline.outputs.atomic import write_record
from scalingdown.pipeline.specs.definitions import EnsembleSpec

log = logging.getLogger(__name__)

# Ensembles reported: every scheme that needs no per-student setting.
REPORTED_METHODS = ("uniform", "validation", "confidence")


def teacher_ensemble(spec: EnsembleSpec, data: str, logits: list[str], out: str) -> dict[str, Any]:
    """Write (and return) each teacher's and each ensemble's test scores and the teachers' agreement."""
    data_dir, labels = data, spec.labels or []
    names = [teacher.name for teacher in spec.teachers]
    outputs = load_teacher_outputs(spec.teachers, logits, data_dir, labels, ("validation", "test"))
    gold = {split: np.array(label_ids(read_split(data_dir, split), labels)) for split in ("validation", "test")}

    def scores(matrix: np.ndarray) -> dict[str, Any]:
        result = classification_scores(gold["test"].tolist(), np.argmax(matrix, axis=1), labels)
        return {key: result[key] for key in ("accuracy", "f1_macro")}

    validation_scores = [accuracy(out.logits["validation"], gold["validation"]) for out in outputs]
    teachers: dict[str, dict[str, Any]] = {
        out.name: {**scores(out.logits["test"]), "validation_accuracy": validation_scores[index]}
        for index, out in enumerate(outputs)
    }
    test_logits = [out.logits["test"] for out in outputs]
    ensembles = {}
    for method in REPORTED_METHODS:
        weights = teacher_weights(method, names, test_logits, validation_scores=validation_scores)
        ensembles[method] = {
            **scores(mix(test_logits, weights, 1.0)),
            "mean_weights": dict(zip(names, weights.mean(axis=0).round(4).tolist())),
        }
    correct = np.stack([np.argmax(matrix, axis=1) == gold["test"] for matrix in test_logits], axis=1)
    record: dict[str, Any] = {
        "task": spec.task,
        "test_rows": len(gold["test"]),
        "teachers": teachers,
        "ensembles": ensembles,
        "agreement": agreement(names, test_logits),
        "any_teacher_correct": float(correct.any(axis=1).mean()),
    }
    record = write_record(out, record, "teacher_ensemble")
    agreement_all: float = record["agreement"]["all"]
    log.info(
        "teachers %s; uniform ensemble accuracy %.4f; all agree on %.1f%% of test rows",
        {name: round(t["accuracy"], 4) for name, t in teachers.items()},
        ensembles["uniform"]["accuracy"],
        100 * agreement_all,
    )
    return record
