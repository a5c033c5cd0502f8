"""Training a causal LM on its responses, optionally distilling cached top-k teachers (and, opt-in, on its own
samples scored by the teacher online: `on_policy`).

The one training path of teachers and students: the Hugging Face Trainer (`training.KDTrainer` with
`token_sums`) and a loss of named terms over the response tokens only,

`loss = (ce·Σ_gold CE + kd·Σ_teachers w·T²·Σ D_topk(teacher_T ‖ student_T)) / response tokens of the optimizer step`,

normalised by the response tokens of the whole accumulated batch (the Trainer's `num_items_in_batch`), so that
gradient accumulation 4 × 2 gives the gradient of one batch of 8. CE counts the tokens of rows with a gold response
(a transfer row's response is its teacher's: learnt through the divergence alone) but is divided by every response
token, like the divergence: the loss is the mean over response tokens of each token's loss. Logits are sliced to the
vocabulary teacher and student share (padding rows dropped). The teacher's full distribution is never held: its
cache gives B·T × k, and the student's side of the buckets is computed in one pass (`kd.student_buckets`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedModel

from scalingdown.families.causal.batches import pad_id, right_padded, shifted
from scalingdown.families.causal.rows import encoded_split
from scalingdown.families.text2text.fit import TeacherRows, training_targets
from scalingdown.families.text2text.topk import reshape_topk
from scalingdown.kd.divergences import Divergence
from scalingdown.kd.ensemble import token_teacher_weights
from scalingdown.kd.losses import seq2seq_kd_terms
from scalingdown.pipeline.specs.definitions import LossSpec, TextTask, TrainingSpec, WeightingSpec
from scalingdown.training.trainer import NUM_TOKENS, BatchHook, LossFn, TrainedRun, ValidationScores, train_model

log = logging.getLogger(__name__)

CE_ROWS = "ce_rows"
PROMPT_LENGTH = "prompt_length"
PER_TOKEN = ("topk_ids", "topk_logprobs", "tail_mass")


def teacher_key(index: int, name: str) -> str:
    """The batch entry of teacher `index`'s cached `name` (`teacher_0_topk_ids`, …)."""
    return f"teacher_{index}_{name}"


class CausalCollator:
    """Right-padded `input_ids`, `attention_mask` and `labels` (see `batches.right_padded`), the prompts' lengths,
    which rows the CE term learns (`ce_rows`), and each teacher's cached rows concatenated over the batch's response
    tokens in row order (N × k, N × k, N): the order in which `batches.shifted` takes the student's logits."""

    def __init__(self, padding: int, top_ks: list[int]) -> None:
        self.padding = padding
        self.top_ks = top_ks

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """A training batch of `features` (rows of the training set)."""
        prompts = [list(f["input_ids"][: f[PROMPT_LENGTH]]) for f in features]
        responses = [list(f["input_ids"][f[PROMPT_LENGTH] :]) for f in features]
        batch = right_padded(prompts, responses, self.padding)
        batch[PROMPT_LENGTH] = torch.tensor([len(prompt) for prompt in prompts])
        if CE_ROWS in features[0]:
            batch[CE_ROWS] = torch.tensor([bool(f[CE_ROWS]) for f in features])
        for index, k in enumerate(self.top_ks):
            if teacher_key(index, "topk_ids") not in features[0]:  # a validation batch
                break
            for name in PER_TOKEN:
                key = teacher_key(index, name)
                rows = [np.asarray(f[key]) for f in features]
                stacked = np.concatenate([row if name == "tail_mass" else reshape_topk(row, k) for row in rows])
                batch[key] = torch.from_numpy(stacked.astype(np.int64 if name == "topk_ids" else np.float32))
        return batch


def token_rows(labels: torch.Tensor, ce_rows: torch.Tensor | None) -> torch.Tensor | None:
    """Which response tokens (in `batches.shifted` order) belong to a row whose CE term is learnt."""
    if ce_rows is None:
        return None
    per_row = (labels[:, 1:] != -100).sum(dim=1)
    return ce_rows.to(labels.device).repeat_interleave(per_row)


def causal_loss_fn(
    loss: LossSpec, teachers: list[TeacherRows], shared: int | None, weighting: WeightingSpec | None = None
) -> LossFn:
    """The loss function the trainer calls: named terms `ce`, the divergence's (`kl` for forward KL) and their
    weighted sum `loss`, summed over the response tokens and divided by those of the accumulated batch."""
    temperature = float(loss.temperature)
    divergence = Divergence.of(loss)
    names = [teacher.name for teacher in teachers]
    weighed = weighting if weighting is not None and weighting.method != "uniform" and len(teachers) > 1 else None
    scores = [float(teacher.validation_score) for teacher in teachers if teacher.validation_score is not None]

    def loss_fn(outputs: Any, targets: dict[str, torch.Tensor], _inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
        logits, tokens = shifted(outputs.logits, targets["labels"])
        logits = logits[:, :shared] if shared is not None else logits
        count = targets.get(NUM_TOKENS, len(tokens))
        ce_tokens = token_rows(targets["labels"], targets.get(CE_ROWS))
        cached = [
            (
                targets[teacher_key(i, "topk_ids")][:, None],
                targets[teacher_key(i, "topk_logprobs")][:, None],
                targets[teacher_key(i, "tail_mass")][:, None],
            )
            for i in range(len(teachers))
            if teacher_key(i, "topk_ids") in targets  # none in validation batches
        ]
        weights = None
        if weighed is not None and cached:
            top_logprobs = [logprobs.amax(dim=-1, keepdim=True) for _, logprobs, _ in cached]  # ids sorted, not ranked
            weights = token_teacher_weights(weighed.method, names, top_logprobs, weighed.weights, scores)
        terms = seq2seq_kd_terms(
            logits[:, None], tokens[:, None], cached, temperature, divergence, weights, ce_tokens, tokens=count
        )
        total = float(loss.ce) * terms["ce"] if cached else terms["ce"]
        if cached:
            total = total + float(loss.kd) * terms[divergence.term]
        terms["loss"] = total
        return terms

    return loss_fn


def training_set(
    prompts: list[list[int]],
    responses: list[list[int]],
    learns_gold: list[bool],
    teachers: list[TeacherRows],
) -> Dataset:
    """The training rows: the whole sequence, where its response starts, whether CE learns it, the teachers'
    cached rows (float32 log-probabilities)."""
    columns: dict[str, list[Any]] = {
        "input_ids": [p + r for p, r in zip(prompts, responses, strict=True)],
        PROMPT_LENGTH: [len(p) for p in prompts],
        CE_ROWS: learns_gold,
    }
    for index, teacher in enumerate(teachers):
        columns[teacher_key(index, "topk_ids")] = teacher.columns["topk_ids"]
        columns[teacher_key(index, "topk_logprobs")] = [v.astype(np.float32) for v in teacher.columns["topk_logprobs"]]
        columns[teacher_key(index, "tail_mass")] = teacher.columns["tail_mass"]
    return Dataset.from_dict(columns)


def fit_causal(
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
    validation_scores: ValidationScores,
    teachers: list[TeacherRows] | None = None,
    shared: int | None = None,
    lora: dict[str, Any] | None = None,
    weighting: WeightingSpec | None = None,
    on_policy: BatchHook | None = None,
) -> TrainedRun:
    """Train `model` in place on the train split's responses; returns the history and the kept checkpoint's record.

    Without teachers the loss is CE on the gold responses (transfer rows left out); `shared` is the vocabulary
    teacher and student share (None: the whole output layer); `on_policy` may replace a step's batches by the
    student's own samples scored by the teacher (`on_policy.OnPolicy`).
    """
    teachers = teachers or []
    _, prompts, gold = encoded_split(
        data_dir, "train", task_type, text, tokenizer, max_length, labelled_only=not teachers
    )
    responses, learns_gold = training_targets(teachers, gold) if teachers else (gold, [True] * len(gold))
    log.info("training on %d rows, %d of them with gold responses", len(responses), sum(learns_gold))
    _, valid_prompts, valid_gold = encoded_split(data_dir, "validation", task_type, text, tokenizer, max_length)
    valid = [r if r is not None else [] for r in valid_gold]
    padding = pad_id(tokenizer)
    return train_model(
        model,
        tokenizer,
        training_set(prompts, [list(r or []) for r in responses], learns_gold, teachers),
        training_set(valid_prompts, valid, [True] * len(valid), []),
        training,
        causal_loss_fn(loss, teachers, shared, weighting),
        checkpoints,
        resume_key,
        data_collator=CausalCollator(padding, [t.top_k for t in teachers]),
        compute_metrics=None,
        lora=lora,
        validation_scores=validation_scores,
        token_sums=True,
        batch_hook=on_policy,
    )
