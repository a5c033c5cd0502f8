"""Training a text-to-text model on gold targets, optionally distilling cached top-k teachers.

The one training path shared by teacher fine-tuning and students: the Hugging Face Trainer
(`scalingdown.training.KDTrainer`) with a collator that pads the teachers' cached rows along
the target, and a loss of named terms:

`loss = ce·CE(targets) + kd·Σ_teachers w·T²·D_topk(teacher_T ‖ student_T) + hidden·mean MSE(proj(h_s), h_t)`,

D the student's divergence (forward KL unless `loss.divergence` says otherwise) over each teacher's k + 1
buckets, and w the teachers' weights (`weighting`): each teacher's top-k ids differ, so there is no mixed
teacher distribution on one support; the divergence to each teacher is averaged instead (see
`scalingdown.kd.buckets`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from transformers import DataCollatorForSeq2Seq, PreTrainedModel

from scalingdown.families.text2text.rows import encoded_split
from scalingdown.families.text2text.scoring import answerer, task_scores
from scalingdown.families.text2text.topk import hidden_column, reshape_topk
from scalingdown.kd.divergences import Divergence
from scalingdown.kd.ensemble import token_teacher_weights
from scalingdown.kd.logit_store import CacheMismatch
from scalingdown.kd.losses import IGNORE_INDEX, hidden_mse, masked_mean, seq2seq_kd_terms, token_cross_entropy
from scalingdown.pipeline.specs.definitions import LossSpec, TextTask, TrainingSpec, WeightingSpec
from scalingdown.training.trainer import LossFn, TrainedRun, ValidationScores, train_model

log = logging.getLogger(__name__)

PER_TOKEN = ("topk_ids", "topk_logprobs", "tail_mass")
# The batch entry that says which rows the CE term learns (False: a transfer row, whose target is a teacher's).
CE_ROWS = "ce_rows"
PROJECTIONS = "kd_projections"


@dataclass
class TeacherRows:
    """One teacher's cached train rows (in data order), how they were made and, for `validation` weighting,
    its validation score (see `topk`)."""

    name: str
    top_k: int
    generated_targets: bool
    columns: dict[str, list[np.ndarray]] = field(repr=False)
    validation_score: float | None = None


def _prefix(index: int, name: str) -> str:
    return f"teacher_{index}_{name}"


class Seq2SeqKDCollator:
    """`DataCollatorForSeq2Seq` (pads sources, labels with -100, builds decoder inputs) plus teacher rows.

    `ce_rows` (which rows the CE term learns, see `training_targets`) becomes one bool per row. Per-token
    teacher entries (stored flat, T·k per row) are reshaped with each teacher's k and zero-padded to the batch's
    target length (those positions carry label -100 and are ignored by the loss); pooled hidden states are
    stacked. With
    `hidden_states`, the model is asked for its hidden states and the encoder attention mask is
    repeated as a loss target (for pooling).
    """

    def __init__(
        self, tokenizer: Any, model: PreTrainedModel, top_ks: list[int] | None = None, hidden_states: bool = False
    ) -> None:
        self.base = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=IGNORE_INDEX)
        self.top_ks = top_ks or []
        self.hidden_states = hidden_states

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        """A training batch of `features`: padded sources and labels, `ce_rows`, the teachers' rows padded alike."""
        features = [dict(feature) for feature in features]
        teacher = {
            key: [feature.pop(key) for feature in features] for key in list(features[0]) if key.startswith("teacher_")
        }
        ce_rows = [bool(feature.pop(CE_ROWS)) for feature in features] if CE_ROWS in features[0] else None
        batch = self.base(features)
        if ce_rows is not None:
            batch[CE_ROWS] = torch.tensor(ce_rows)
        width = batch["labels"].shape[1]
        for key, values in teacher.items():
            if key.endswith(PER_TOKEN):
                k = self.top_ks[int(key.split("_")[1])] if not key.endswith("tail_mass") else None
                batch[key] = _pad_rows(
                    [np.asarray(value) if k is None else reshape_topk(value, k) for value in values], width
                )
            else:
                batch[key] = torch.tensor(np.asarray(values, dtype=np.float32))
        if self.hidden_states:
            batch["source_mask"] = batch["attention_mask"].clone()
            batch["output_hidden_states"] = True
        return batch


def _pad_rows(rows: list[np.ndarray], width: int) -> torch.Tensor:
    dtype = np.int64 if rows[0].dtype.kind in "iu" else np.float32
    padded = np.zeros((len(rows), width, *rows[0].shape[1:]), dtype=dtype)
    for index, row in enumerate(rows):
        padded[index, : len(row)] = row
    return torch.from_numpy(padded)


def _check_targets(teacher: TeacherRows, gold: list[list[int] | None]) -> None:
    cached = teacher.columns["target_ids"]
    for index, (ids, expected) in enumerate(zip(cached, gold, strict=True)):
        if expected is not None and list(ids) != list(expected):
            raise CacheMismatch(
                f"teacher {teacher.name}: its cached targets differ from the student's tokenized gold targets "
                f"(first at train row {index}); teacher and student need the same tokenizer, prompt "
                "and max_target_length"
            )


def training_targets(teachers: list[TeacherRows], gold: list[list[int] | None]) -> tuple[list[list[int]], list[bool]]:
    """Each train row's target and whether the CE term learns it: the gold target (CE and KD); on a transfer row
    (no gold target, a label budget) the teacher's cached generation (KD only); every row's cached generation
    for a `targets: generated` teacher (sequence-level KD: CE and KD on all). Transfer rows need exactly one
    teacher, and generated targets too."""
    generated = [t for t in teachers if t.generated_targets]
    transfer = sum(ids is None for ids in gold)
    if (generated or transfer) and len(teachers) != 1:
        raise ValueError(
            f"a student learning a teacher's generated targets has exactly one teacher, not {len(teachers)} "
            f"({transfer} transfer rows, generated targets: {bool(generated)})"
        )
    if generated:
        return [list(map(int, ids)) for ids in generated[0].columns["target_ids"]], [True] * len(gold)
    for teacher in teachers:
        _check_targets(teacher, gold)
    cached = teachers[0].columns["target_ids"]
    targets = [list(map(int, cached[index])) if ids is None else ids for index, ids in enumerate(gold)]
    return targets, [ids is not None for ids in gold]


def teacher_columns(teachers: list[TeacherRows], hidden_layers: dict[str, list[list[int]]]) -> dict[str, list[Any]]:
    """The training-set columns of the teachers' cached rows (`teacher_<i>_<name>`), flat per row."""
    columns: dict[str, list[Any]] = {}
    for index, teacher in enumerate(teachers):
        columns[_prefix(index, "topk_ids")] = teacher.columns["topk_ids"]
        columns[_prefix(index, "topk_logprobs")] = [
            values.astype(np.float32) for values in teacher.columns["topk_logprobs"]
        ]
        columns[_prefix(index, "tail_mass")] = teacher.columns["tail_mass"]
        for side, pairs in hidden_layers.items():
            for _, teacher_layer in pairs:
                name = hidden_column(side, teacher_layer)
                if name not in teacher.columns:
                    raise CacheMismatch(
                        f"teacher {teacher.name}: its cache holds no {side} hidden state of layer "
                        f"{teacher_layer}; add it to the teacher's hidden_layers"
                    )
                columns[_prefix(index, name)] = teacher.columns[name]
    return columns


def _projections(
    model: PreTrainedModel, teachers: list[TeacherRows], hidden_layers: dict[str, list[list[int]]]
) -> torch.nn.ModuleDict:
    """One trainable projection per (teacher, side, layer pair): student width → teacher width (identity when equal)."""
    projections = torch.nn.ModuleDict()
    for index, teacher in enumerate(teachers):
        for side, pairs in hidden_layers.items():
            width = hidden_width(model.config, side)
            for student_layer, teacher_layer in pairs:
                teacher_width = len(teacher.columns[hidden_column(side, teacher_layer)][0])
                key = f"t{index}_{side}_{student_layer}_{teacher_layer}"
                projections[key] = (
                    torch.nn.Linear(width, teacher_width, bias=False) if teacher_width != width else torch.nn.Identity()
                )
    return projections


def hidden_width(config: Any, side: str) -> int:
    """The width of one side's hidden states: `d_model` (T5), or that side's own config (`EncoderDecoderModel`)."""
    side_config = getattr(config, side, None)
    return int(side_config.hidden_size if side_config is not None else config.d_model)


def seq2seq_loss_fn(
    loss: LossSpec,
    teachers: list[TeacherRows],
    projections: torch.nn.ModuleDict | None,
    hidden_layers: dict[str, list[list[int]]],
    weighting: WeightingSpec | None = None,
) -> LossFn:
    """The loss function the trainer calls: named terms `ce`, the divergence's (`kl` for forward KL), `hidden`
    and their weighted sum `loss`. Several teachers are weighed by `weighting` (uniform when None)."""
    temperature = float(loss.temperature)
    divergence = Divergence.of(loss)
    names = [teacher.name for teacher in teachers]
    weighed = weighting if weighting is not None and weighting.method != "uniform" and len(teachers) > 1 else None
    scores = [float(teacher.validation_score) for teacher in teachers if teacher.validation_score is not None]

    def loss_fn(
        outputs: Any, targets: dict[str, torch.Tensor], _inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        labels = targets["labels"]
        if not teachers or _prefix(0, "topk_ids") not in targets:  # no teachers, or a validation batch
            terms = {"ce": token_cross_entropy(outputs.logits, labels, targets.get(CE_ROWS))}
            terms["loss"] = terms["ce"]
            return terms
        cached = [
            (targets[_prefix(i, "topk_ids")], targets[_prefix(i, "topk_logprobs")], targets[_prefix(i, "tail_mass")])
            for i in range(len(teachers))
        ]
        weights = None
        if weighed is not None:
            top_logprobs = [logprobs for _, logprobs, _ in cached]
            weights = token_teacher_weights(weighed.method, names, top_logprobs, weighed.weights, scores)
        terms = seq2seq_kd_terms(
            outputs.logits, labels, cached, temperature, divergence, weights, ce_rows=targets.get(CE_ROWS)
        )
        total = float(loss.ce) * terms["ce"] + float(loss.kd) * terms[divergence.term]
        if projections is not None:
            terms["hidden"] = _hidden_term(outputs, targets, projections, hidden_layers, len(teachers))
            total = total + float(loss.hidden) * terms["hidden"]
        terms["loss"] = total
        return terms

    return loss_fn


def _hidden_term(
    outputs: Any,
    targets: dict[str, torch.Tensor],
    projections: torch.nn.ModuleDict,
    hidden_layers: dict[str, list[list[int]]],
    teacher_count: int,
) -> torch.Tensor:
    masks = {"encoder": targets["source_mask"].bool(), "decoder": targets["labels"] != IGNORE_INDEX}
    states = {"encoder": outputs.encoder_hidden_states, "decoder": outputs.decoder_hidden_states}
    student, teacher, maps = [], [], []
    for index in range(teacher_count):
        for side, pairs in hidden_layers.items():
            for student_layer, teacher_layer in pairs:
                student.append(masked_mean(states[side][student_layer], masks[side]))
                teacher.append(targets[_prefix(index, hidden_column(side, teacher_layer))])
                maps.append(projections[f"t{index}_{side}_{student_layer}_{teacher_layer}"])
    return hidden_mse(student, teacher, maps)


def validation_scorer(
    tokenizer: Any, task_type: str, text: TextTask, max_length: int, validation: pd.DataFrame, training: TrainingSpec
) -> ValidationScores:
    """The task's metrics of a model on the validation split (as `evaluate` scores the test split), for every
    evaluation during training: what the checkpoint is selected by."""

    def score(model: torch.nn.Module) -> dict[str, float]:
        answer = answerer(model, tokenizer, task_type, text, max_length, validation, max(64, training.batch_size))
        return task_scores(task_type, validation, answer(list(range(len(validation))), None), tokenizer)

    return score


def fit_seq2seq(
    model: PreTrainedModel,
    tokenizer: Any,
    data_dir: str | Path,
    text: TextTask,
    task_type: str,
    max_length: int,
    training: TrainingSpec,
    loss: LossSpec,
    checkpoints: str | Path,
    resume_key: dict[str, Any],
    teachers: list[TeacherRows] | None = None,
    lora: dict[str, Any] | None = None,
    weighting: WeightingSpec | None = None,
) -> TrainedRun:
    """Train `model` in place on the train split; returns the history and the kept checkpoint's record.

    Every evaluation scores the validation split by its loss and by the task's own metrics (generation, or
    option scoring: `validation_scorer`), and the checkpoint is kept as `training` says (see `train_model`).
    `text` holds the prompt and target length. Without teachers the loss is CE on the gold targets; several
    teachers are weighed by `weighting` (uniform when None); `lora` trains LoRA adapters (merged after).
    """
    teachers = teachers or []
    hidden_layers = {side: pairs for side, pairs in (loss.hidden_layers or {}).items() if pairs}
    use_hidden = bool(teachers) and loss.hidden > 0 and bool(hidden_layers)
    _, train_sources, gold = encoded_split(  # without teachers nothing answers the transfer rows: leave them out
        data_dir,
        "train",
        task_type,
        text.prompt,
        tokenizer,
        max_length,
        text.max_target_length,
        labelled_only=not teachers,
    )
    labels, learns_gold = training_targets(teachers, gold) if teachers else (gold, [True] * len(gold))
    log.info("training on %d rows, %d of them with gold targets", len(labels), sum(learns_gold))
    columns: dict[str, list[Any]] = {
        "input_ids": train_sources,
        "attention_mask": [[1] * len(s) for s in train_sources],
        "labels": labels,
        CE_ROWS: learns_gold,
    }
    columns.update(teacher_columns(teachers, hidden_layers if use_hidden else {}))
    validation, valid_sources, valid_gold = encoded_split(
        data_dir, "validation", task_type, text.prompt, tokenizer, max_length, text.max_target_length
    )
    eval_data = Dataset.from_dict(
        {"input_ids": valid_sources, "attention_mask": [[1] * len(s) for s in valid_sources], "labels": valid_gold}
    )
    projections = None
    if use_hidden:
        projections = _projections(model, teachers, hidden_layers)
        model.add_module(PROJECTIONS, projections)  # trained with the model, removed before saving
    try:
        return train_model(
            model,
            tokenizer,
            Dataset.from_dict(columns),
            eval_data,
            training,
            seq2seq_loss_fn(loss, teachers, projections, hidden_layers, weighting),
            checkpoints,
            resume_key,
            data_collator=Seq2SeqKDCollator(tokenizer, model, [t.top_k for t in teachers], hidden_states=use_hidden),
            compute_metrics=None,
            lora=lora,
            validation_scores=validation_scorer(tokenizer, task_type, text, max_length, validation, training),
        )
    finally:
        if use_hidden:
            delattr(model, PROJECTIONS)
