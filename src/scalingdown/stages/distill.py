"""The `distill` stage: train a student from cached teacher outputs (never loading a teacher)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from scalingdown.atomic import atomic_path, write_json
from scalingdown.classification import HiddenTargets, fit_classifier, label_ids
from scalingdown.config import hidden_pairs
from scalingdown.data.store import read_split
from scalingdown.ensemble import accuracy, mix, teacher_weights
from scalingdown.teacher_cache import TeacherOutputs, load_teacher_outputs
from scalingdown.training import finish_checkpoints

log = logging.getLogger(__name__)


def distillation_target(spec: dict[str, Any], outputs: list[TeacherOutputs], data_dir: str) -> np.ndarray:
    """The train-split target distribution: the teachers' softened distributions mixed by the student's weighting."""
    names = [out.name for out in outputs]
    train_logits = [out.logits["train"] for out in outputs]
    weighting = spec.get("weighting") or {"method": "uniform"}
    validation_scores = None
    if weighting["method"] == "validation":
        gold = np.array(label_ids(read_split(data_dir, "validation"), spec["labels"]))
        validation_scores = [accuracy(out.logits["validation"], gold) for out in outputs]
        log.info("validation accuracy of the teachers: %s", dict(zip(names, validation_scores)))
    weights = teacher_weights(weighting["method"], names, train_logits, weighting.get("weights"), validation_scores)
    log.info("teacher weights (%s, mean over rows): %s", weighting["method"],
             dict(zip(names, weights.mean(axis=0).round(4).tolist())))
    return mix(train_logits, weights, float(spec["loss"]["temperature"]))


def hidden_targets(spec: dict[str, Any], outputs: list[TeacherOutputs]) -> HiddenTargets | None:
    """The teachers' cached pooled states for every pair of the student's hidden map (None without one)."""
    pairs = hidden_pairs(spec["loss"])
    if not pairs or not spec["loss"].get("hidden"):
        return None
    by_name = {out.name: out for out in outputs}
    return HiddenTargets(
        student_layers=[student_layer for student_layer, _, _ in pairs],
        states=[by_name[teacher].hidden[teacher_layer] for _, teacher, teacher_layer in pairs],
        weight=float(spec["loss"]["hidden"]),
        always_linear=spec["loss"].get("hidden_projection") == "linear",
    )


def distill(
    spec: dict[str, Any], data_dir: str, init_dir: str, logits_paths: list[str],
    out_dir: str, history: str, checkpoints: str,
) -> None:
    """Train the student initialised from `init_dir`; save it to `out_dir` and its history."""
    teacher_probs, hidden = None, None
    if spec["teachers"]:
        method = (spec.get("weighting") or {}).get("method", "uniform")
        splits = ("train", "validation") if method == "validation" else ("train",)
        layers: dict[str, list[int]] = {}
        for _, teacher, teacher_layer in hidden_pairs(spec["loss"]):
            layers.setdefault(teacher, []).append(teacher_layer)
        outputs = load_teacher_outputs(spec["teachers"], logits_paths, data_dir, spec["labels"], splits, layers)
        teacher_probs = distillation_target(spec, outputs, data_dir)
        hidden = hidden_targets(spec, outputs)
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForSequenceClassification.from_pretrained(init_dir, use_safetensors=True)
    log_history = fit_classifier(
        model, tokenizer, data_dir, spec["labels"], spec["max_length"], spec["training"], spec["loss"],
        checkpoints=checkpoints,
        resume_key={"stage": "distill", "spec": spec, "data": data_dir, "init": init_dir, "logits": logits_paths},
        teacher_probs=teacher_probs,
        hidden=hidden,
    )
    with atomic_path(out_dir) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    write_json(history, log_history)
    finish_checkpoints(checkpoints)
