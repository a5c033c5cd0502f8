"""Fitting a sentence classifier with the KD trainer: the one training path of classification teachers and students."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

from scalingdown.data.budget import labelled_rows
from scalingdown.data.labels import label_ids, training_label_ids
from scalingdown.data.store import read_split
from scalingdown.kd.divergences import Divergence
from scalingdown.kd.losses import HiddenProjections, classification_kd_loss, hidden_mse, masked_mean
from scalingdown.models.layers import check_hidden_layers
from scalingdown.pipeline.specs.definitions import LossSpec, TrainingSpec
from scalingdown.training.trainer import TrainedRun, tokenize_frame, train_model

log = logging.getLogger(__name__)


@dataclass
class HiddenTargets:
    """Targets of the hidden-layer loss: per (student layer, teacher layer) pair, the teacher's
    pooled train-split states (rows × teacher width), weighted by `weight` in the loss; the
    student's states are projected linearly where widths differ, or always with `always_linear`."""

    student_layers: list[int]
    states: list[np.ndarray]
    weight: float
    always_linear: bool = False

    @property
    def widths(self) -> list[int]:
        """Each pair's teacher width (the columns of its states)."""
        return [int(matrix.shape[1]) for matrix in self.states]


def fit_classifier(
    model: PreTrainedModel,
    tokenizer: Any,
    data_dir: str | Path,
    labels: list[str],
    max_length: int,
    training: TrainingSpec,
    loss: LossSpec,
    checkpoints: str | Path,
    resume_key: dict[str, Any],
    teacher_probs: np.ndarray | None = None,
    online_teacher: Callable[[torch.Tensor], torch.Tensor] | None = None,
    hidden: HiddenTargets | None = None,
    lora: dict[str, Any] | None = None,
) -> TrainedRun:
    """Train a classifier on the train split (validation accuracy and macro-F1 scored during training; the
    checkpoint kept as `training` says, see `train_model`).

    With `teacher_probs` (rows × labels, softened at `loss.temperature`) the loss is
    `ce·CE + kd·T²·D(teacher ‖ student)`, D the spec's divergence (forward KL unless `loss.divergence` says
    otherwise); without, it is CE on the gold labels. `online_teacher` instead computes a
    training batch's `teacher_probs` from its row indices (teacher_mode online); the loss is the
    same. With `hidden`, `weight · hidden MSE` between the student's pooled mapped layers
    (projected where widths differ) and the teachers' is added; the projections train with the
    model and are dropped before it is returned. `lora` trains LoRA adapters (merged after).
    A training split with transfer rows (`data.budget`): a model learning from teachers trains on every row, the
    CE term over the labelled rows only; one without teachers trains on the labelled rows alone.
    Returns the training history and the kept checkpoint's record.
    """
    train = read_split(data_dir, "train")
    if teacher_probs is None and online_teacher is None and hidden is None:
        train = labelled_rows(train)
    validation = read_split(data_dir, "validation")
    extra: dict[str, list[Any]] = {"labels": training_label_ids(train, labels), "row_index": list(range(len(train)))}
    log.info("training on %d rows, %d of them labelled", len(train), sum(i >= 0 for i in extra["labels"]))
    if teacher_probs is not None:
        extra["teacher_probs"] = teacher_probs.astype(np.float32).tolist()
    projections = None
    if hidden is not None:
        check_hidden_layers(model.config, hidden.student_layers, "student")
        extra["teacher_hidden"] = np.concatenate(hidden.states, axis=1).astype(np.float32).tolist()
        projections = HiddenProjections(model.config.hidden_size, hidden.widths, hidden.always_linear)
        model.add_module("kd_projections", projections)  # so the optimizer and checkpoints include them
    train_data, truncated = tokenize_frame(train, tokenizer, max_length, extra)
    if truncated:
        log.warning(
            "%d of %d training texts are longer than max_length=%d and were truncated",
            truncated,
            len(train),
            max_length,
        )
    eval_data, _ = tokenize_frame(validation, tokenizer, max_length, {"labels": label_ids(validation, labels)})
    divergence = Divergence.of(loss)

    def loss_fn(
        outputs: Any, targets: dict[str, torch.Tensor], inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        if online_teacher is not None and "row_index" in targets:
            targets = {**targets, "teacher_probs": online_teacher(targets["row_index"])}
        terms = classification_kd_loss(
            outputs.logits,
            targets["labels"],
            targets.get("teacher_probs"),
            ce_weight=float(loss.ce),
            kd_weight=float(loss.kd),
            temperature=float(loss.temperature),
            divergence=divergence,
        )
        if hidden is not None and "teacher_hidden" in targets:
            student = [
                masked_mean(outputs.hidden_states[layer], inputs["attention_mask"]) for layer in hidden.student_layers
            ]
            teacher = torch.split(targets["teacher_hidden"], hidden.widths, dim=1)
            assert projections is not None  # made with the hidden targets
            terms["hidden"] = hidden_mse(student, teacher, list(projections))
            terms["loss"] = terms["loss"] + hidden.weight * terms["hidden"]
        return terms

    try:
        return train_model(
            model,
            tokenizer,
            train_data,
            eval_data,
            training,
            loss_fn,
            checkpoints,
            resume_key,
            output_hidden_states=hidden is not None,
            lora=lora,
        )
    finally:
        if projections is not None:
            del model.kd_projections
