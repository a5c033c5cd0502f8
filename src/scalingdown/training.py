"""Training with the Hugging Face Trainer; the only change is the loss (see `KDTrainer`)."""

from __future__ import annotations

import logging
import math
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import DataCollatorWithPadding, PreTrainedModel, Trainer, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from scalingdown.config import canonical_json
from scalingdown.errors import UserError

log = logging.getLogger(__name__)

# loss_fn(model outputs, targets, model inputs) -> named loss terms, including the total `loss`.
LossFn = Callable[[Any, dict[str, torch.Tensor], dict[str, torch.Tensor]], dict[str, torch.Tensor]]
# Batch entries that are targets of the loss, not inputs of the model.
TARGET_KEYS = ("labels", "teacher_probs", "teacher_hidden", "sample_weight")
SPEC_FILE = "training-spec.json"


class NonFiniteLoss(UserError, FloatingPointError):
    """The loss became NaN or infinite; the message names the step and every loss term."""


class KDTrainer(Trainer):
    """A Trainer whose `compute_loss` asks `loss_fn` for named terms and logs each one.

    With `output_hidden_states`, training steps also return every layer's hidden states.
    """

    loss_is_scaled_for_ga = False  # loss_fn returns per-batch means

    def __init__(self, *args: Any, loss_fn: LossFn, output_hidden_states: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self.output_hidden_states = output_hidden_states
        self.model_accepts_loss_kwargs = False
        self._term_sums: dict[str, float] = defaultdict(float)
        self._term_batches = 0

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        targets = {key: inputs.pop(key) for key in TARGET_KEYS if key in inputs}
        if self.output_hidden_states and model.training:
            outputs = model(**inputs, output_hidden_states=True)
        else:
            outputs = model(**inputs)
        terms = self.loss_fn(outputs, targets, inputs)
        loss = terms["loss"]
        if not torch.isfinite(loss):
            values = ", ".join(f"{name}={value.item():.6g}" for name, value in terms.items())
            raise NonFiniteLoss(f"non-finite loss at step {self.state.global_step}: {values}")
        if model.training:
            for name, value in terms.items():
                self._term_sums[name] += float(value.detach())
            self._term_batches += 1
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._term_batches:
            for name, total in self._term_sums.items():
                if name != "loss":
                    logs[f"loss_{name}"] = total / self._term_batches
            self._term_sums.clear()
            self._term_batches = 0
        super().log(logs, start_time)


def tokenize_frame(
    frame: Any, tokenizer: Any, max_length: int, extra: dict[str, list[Any]] | None = None
) -> tuple[Dataset, int]:
    """Tokenize the `text` column into a `datasets.Dataset`; returns it and how many texts were truncated."""
    texts = frame["text"].tolist()
    full_lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    truncated = sum(length > max_length for length in full_lengths)
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    columns: dict[str, list[Any]] = {key: value for key, value in encoded.items()}
    columns.update(extra or {})
    return Dataset.from_dict(columns), truncated


def classification_metrics(eval_prediction: Any) -> dict[str, float]:
    """Validation accuracy and macro-F1 during training."""
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    predicted = np.argmax(logits, axis=-1)
    return {"accuracy": accuracy_score(labels, predicted), "f1_macro": f1_score(labels, predicted, average="macro")}


def training_arguments(training: dict[str, Any], checkpoints: Path, evaluate: bool) -> TrainingArguments:
    """Trainer arguments from a training spec (see the `training` schema in the config)."""
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=float(training["epochs"]),
        learning_rate=float(training["learning_rate"]),
        per_device_train_batch_size=int(training["batch_size"]),
        per_device_eval_batch_size=max(64, int(training["batch_size"])),
        gradient_accumulation_steps=int(training["gradient_accumulation_steps"]),
        weight_decay=float(training["weight_decay"]),
        warmup_steps=float(training["warmup_ratio"]),
        eval_strategy="steps" if evaluate else "no",
        eval_steps=int(training["eval_steps"]),
        logging_strategy="steps",
        logging_steps=int(training["logging_steps"]),
        save_strategy="epoch",
        save_total_limit=1,
        seed=int(training["seed"]),
        data_seed=int(training["seed"]),
        report_to="none",
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",
        dataloader_pin_memory=False,
        disable_tqdm=False,
    )


def _resumable_checkpoint(checkpoints: Path, spec: dict[str, Any]) -> str | None:
    """The last checkpoint when it was made by this same spec; otherwise start clean."""
    spec_file = checkpoints / SPEC_FILE
    if checkpoints.is_dir() and spec_file.is_file() and spec_file.read_text() == canonical_json(spec):
        last = get_last_checkpoint(str(checkpoints))
        if last:
            log.info("resuming from %s", last)
            return last
    if checkpoints.exists():
        shutil.rmtree(checkpoints)
    checkpoints.mkdir(parents=True)
    spec_file.write_text(canonical_json(spec))
    return None


def train_model(
    model: PreTrainedModel,
    tokenizer: Any,
    train_data: Dataset,
    eval_data: Dataset | None,
    training: dict[str, Any],
    loss_fn: LossFn,
    checkpoints: str | Path,
    resume_key: dict[str, Any],
    output_hidden_states: bool = False,
) -> list[dict[str, Any]]:
    """Train `model` in place with the Trainer; returns the log history (losses, validation scores).

    Checkpoints go to `checkpoints` (outside the stage's declared outputs); a rerun with the same
    `resume_key` resumes from the last one instead of starting over. `output_hidden_states` hands
    `loss_fn` every layer's hidden states in training steps.
    """
    checkpoints = Path(checkpoints)
    resume_from = _resumable_checkpoint(checkpoints, resume_key)
    trainer = KDTrainer(
        model=model,
        args=training_arguments(training, checkpoints, evaluate=eval_data is not None),
        train_dataset=train_data,
        eval_dataset=eval_data,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=classification_metrics if eval_data is not None else None,
        loss_fn=loss_fn,
        output_hidden_states=output_hidden_states,
    )
    trainer.train(resume_from_checkpoint=resume_from)
    if eval_data is not None:
        trainer.evaluate()
    history = [_plain(entry) for entry in trainer.state.log_history]
    steps = trainer.state.global_step
    log.info("trained %d steps (%s epochs)", steps, training["epochs"])
    return history


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: (float(value) if isinstance(value, (float, np.floating)) and math.isfinite(value) else value)
            for key, value in entry.items()}


def finish_checkpoints(checkpoints: str | Path) -> None:
    """Remove the resumable state once the final model is safely written."""
    shutil.rmtree(checkpoints, ignore_errors=True)
