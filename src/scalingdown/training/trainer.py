"""Training with the Hugging Face Trainer; the only change is the loss (see `KDTrainer`)."""

from __future__ import annotations

import errno
import json
import logging
import math
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PreTrainedModel,
    Trainer,
    TrainingArguments,
)
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from scalingdown.pipeline.canonical import canonical_json
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import (
    ForeignOutput,
    atomic_path,
    check_replaceable,
    read_json_or_none,
    write_json,
    write_text,
)
from scalingdown.pipeline.outputs.provenance import write_provenance
from scalingdown.pipeline.plan.launch import launcher_prefix
from scalingdown.pipeline.specs.definitions import TrainingSpec
from scalingdown.training.checkpoints import disk_full, first_usable
from scalingdown.training.tracking import tracking_arguments

log = logging.getLogger(__name__)

# loss_fn(model outputs, targets, model inputs) -> named loss terms, including the total `loss`.
LossFn = Callable[[Any, dict[str, torch.Tensor], dict[str, torch.Tensor]], dict[str, torch.Tensor]]
# Batch entries that are targets of the loss, not inputs of the model (and any key starting with
# `teacher_`: cached teacher outputs, e.g. `teacher_hidden` or a text-to-text teacher's top-k rows). `row_index` is
# each example's position in the training split (used by online teachers, and recorded to show
# which rows each process trained on); `ce_rows` says which rows of a text-to-text batch have gold targets;
# `prompt_length` where each row's response starts in a causal LM's sequence.
TARGET_KEYS = ("labels", "sample_weight", "row_index", "source_mask", "ce_rows", "prompt_length")
# The target entry that carries, with `token_sums`, the target tokens of the whole optimizer step.
NUM_TOKENS = "num_items_in_batch"
# batch_hook(model, the micro-batches of one optimizer step, the step) -> batches replacing them, or None to keep them.
BatchHook = Callable[[Any, list[dict[str, Any]], int], list[dict[str, Any]] | None]


def is_target_key(key: str) -> bool:
    """Whether a batch entry feeds the loss rather than the model."""
    return key in TARGET_KEYS or key.startswith("teacher_")


SPEC_FILE = "training-spec.json"
# Written last into a checkpoint by the Trainer: a checkpoint without it was cut short by a kill.
CHECKPOINT_COMPLETE = "trainer_state.json"


class NonFiniteLoss(UserError, FloatingPointError):
    """The loss became NaN or infinite; the message names the step and every loss term."""


# validation_scores(model) -> task scores of the validation split (e.g. a text-to-text model's exact match), added to
# each evaluation's metrics as `eval_<name>`.
ValidationScores = Callable[[torch.nn.Module], dict[str, float]]
# Written into a trained model's directory: which checkpoint the selection protocol kept, and why.
BEST_CHECKPOINT_FILE = "best-checkpoint.json"


class KDTrainer(Trainer):
    """A Trainer whose `compute_loss` asks `loss_fn` for named terms and logs each one.

    With `output_hidden_states`, training steps also return every layer's hidden states; with
    `validation_scores`, every evaluation also logs the task scores it returns (before callbacks such as early
    stopping see the metrics).

    By default `loss_fn` returns per-batch means, which the Trainer divides by the accumulation steps. With
    `token_sums` it gets the target tokens of the whole optimizer step (`NUM_TOKENS` among the targets: the
    Trainer's `num_items_in_batch`, counted over every micro-batch's `labels` before the first one runs) and
    returns sums divided by them, so that accumulating 4 × 2 rows gives the gradient of 8 rows at once; the
    Trainer counts them only for a model that "accepts loss kwargs", which is why that flag is set here, although
    the model never receives them. `batch_hook` may replace a step's micro-batches before they are counted (on-policy
    samples).
    """

    loss_is_scaled_for_ga = False  # loss_fn returns per-batch means (unless token_sums)

    def __init__(
        self,
        *args: Any,
        loss_fn: LossFn,
        output_hidden_states: bool = False,
        validation_scores: ValidationScores | None = None,
        token_sums: bool = False,
        batch_hook: BatchHook | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self.output_hidden_states = output_hidden_states
        self.validation_scores = validation_scores
        self.token_sums = token_sums
        self.batch_hook = batch_hook
        self.model_accepts_loss_kwargs = token_sums
        self.loss_is_scaled_for_ga = token_sums
        self._term_sums: dict[str, float] = defaultdict(float)
        self._term_batches = 0.0
        self.rows_trained: set[int] = set()

    def get_batch_samples(self, epoch_iterator: Any, num_batches: int, device: Any) -> tuple[list[Any], Any]:
        """The micro-batches of one optimizer step (replaced by `batch_hook` where it says so) and their target
        tokens."""
        batches, count = super().get_batch_samples(epoch_iterator, num_batches, device)
        if self.batch_hook is not None and batches:
            replaced = self.batch_hook(self.model, batches, self.state.global_step)
            if replaced is not None:
                batches = replaced
                count = sum((batch["labels"][..., 1:] != -100).sum() for batch in batches).to(device)
        return batches, count

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """The loss of a batch from `loss_fn`'s named terms (summed for the log); a non-finite loss stops training."""
        targets = {key: inputs.pop(key) for key in list(inputs) if is_target_key(key)}
        if self.token_sums and num_items_in_batch is not None:
            targets[NUM_TOKENS] = cast(torch.Tensor, num_items_in_batch)
        if self.output_hidden_states and model.training:
            outputs = model(**inputs, output_hidden_states=True)
        else:
            outputs = model(**inputs)
        terms = self.loss_fn(outputs, targets, inputs)
        loss = terms["loss"]
        if self.token_sums and self.args.average_tokens_across_devices and self.args.world_size > 1:
            loss = loss * self.args.world_size  # the step's tokens were counted over every process, which DDP averages
        if not torch.isfinite(loss):
            values = ", ".join(f"{name}={value.item():.6g}" for name, value in terms.items())
            raise NonFiniteLoss(f"non-finite loss at step {self.state.global_step}: {values}")
        if model.training:
            for name, value in terms.items():
                self._term_sums[name] += float(value.detach())
            # with token_sums each micro-batch's terms are its share of the step's mean
            self._term_batches += 1 / self.current_gradient_accumulation_steps if self.token_sums else 1
            if "row_index" in targets:
                self.rows_trained.update(int(row) for row in targets["row_index"].tolist())
        return (loss, outputs) if return_outputs else loss

    def evaluation_loop(self, *args: Any, **kwargs: Any) -> Any:
        """The Trainer's evaluation, plus the task's own validation scores (what selects the checkpoint)."""
        output = super().evaluation_loop(*args, **kwargs)
        if self.validation_scores is not None:
            prefix = kwargs.get("metric_key_prefix", "eval")
            metrics: dict[str, float] = output.metrics or {}
            for name, value in self.validation_scores(cast(torch.nn.Module, self.model)).items():
                metrics[f"{prefix}_{name}"] = float(value)
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """The Trainer's log, with each loss term's mean since the last log (`loss_<term>`)."""
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
    columns: dict[str, list[Any]] = dict(encoded.items())
    columns.update(extra or {})
    return Dataset.from_dict(columns), truncated


def classification_metrics(eval_prediction: Any) -> dict[str, float]:
    """Validation accuracy and macro-F1 during training."""
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    predicted = np.argmax(logits, axis=-1)
    return {"accuracy": accuracy_score(labels, predicted), "f1_macro": f1_score(labels, predicted, average="macro")}


def mixed_precision(precision: str) -> dict[str, Any]:
    """TrainingArguments' `bf16` / `fp16` flags for `precision` on this machine.

    `auto` is bf16 on a CUDA GPU that supports it, fp16 on other CUDA GPUs, fp32 on CPU. An
    explicit choice the device cannot run is a `UserError`.
    """
    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if precision == "fp16" and not cuda:
        raise UserError("training precision fp16 needs a CUDA GPU and this job has none (use auto, bf16 or fp32)")
    if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise UserError("training precision bf16 is not supported by this GPU (use auto, fp16 or fp32)")
    log.info("training precision: %s on %s", precision, "cuda" if cuda else "cpu")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def _saving(training: TrainingSpec, evaluate: bool) -> dict[str, Any]:
    """When checkpoints are saved, and how the kept weights are chosen.

    `checkpoint: best` (with validation data): a checkpoint at every evaluation, and the one with the best
    `selection_metric` (ties: the earlier) loaded at the end. Otherwise a resumable checkpoint every
    `checkpoint_steps` steps, else once per epoch, and the last step's weights kept.
    """
    if evaluate and training.checkpoint == "best":
        return {
            "save_strategy": "steps",
            "save_steps": training.eval_steps,
            "load_best_model_at_end": True,
            "metric_for_best_model": training.selection_metric,
            "greater_is_better": True,
        }
    if training.checkpoint_steps:
        return {"save_strategy": "steps", "save_steps": int(training.checkpoint_steps)}
    return {"save_strategy": "epoch"}


def training_arguments(training: TrainingSpec, checkpoints: Path, evaluate: bool) -> TrainingArguments:
    """Trainer arguments from a training spec (see the `training` schema in the config).

    Checkpoints are saved and chosen as `_saving` says; `deepspeed` is a DeepSpeed config file; `precision` is
    resolved by `mixed_precision`.
    """
    if training.seed is None:
        raise ValueError("the training spec has no seed (the plan sets one)")
    seed = training.seed
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=float(training.epochs),
        learning_rate=float(training.learning_rate),
        per_device_train_batch_size=training.batch_size,
        per_device_eval_batch_size=max(64, training.batch_size),
        gradient_accumulation_steps=training.gradient_accumulation_steps,
        weight_decay=float(training.weight_decay),
        warmup_steps=float(training.warmup_ratio),
        eval_strategy="steps" if evaluate else "no",
        eval_steps=training.eval_steps,
        logging_strategy="steps",
        logging_steps=training.logging_steps,
        **_saving(training, evaluate),
        save_total_limit=1,
        deepspeed=training.deepspeed,
        use_cpu=not torch.cuda.is_available(),
        **mixed_precision(training.precision),
        seed=seed,
        data_seed=seed,
        **tracking_arguments(checkpoints),
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if training.group_by_length else "random",
        dataloader_pin_memory=False,
        disable_tqdm=False,
    )


def _checkpoint_step(path: Path) -> int:
    return int(path.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-"))


def _is_complete(checkpoint: Path) -> bool:
    """Whether the Trainer finished writing `checkpoint`: its last file is there and whole."""
    try:
        json.loads((checkpoint / CHECKPOINT_COMPLETE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _complete_checkpoints(checkpoints: Path) -> list[Path]:
    return [
        path
        for path in checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
        if path.is_dir() and path.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-").isdigit() and _is_complete(path)
    ]


def last_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The newest checkpoint the Trainer finished writing (a kill can cut the newest one short)."""
    return max(_complete_checkpoints(checkpoints), key=_checkpoint_step, default=None)


def _check_checkpoint_dir(checkpoints: Path) -> None:
    """Refuse to clear a `--checkpoints` directory that ScalingDown did not make (it holds no spec file)."""
    if checkpoints.is_dir() and any(checkpoints.iterdir()) and not (checkpoints / SPEC_FILE).is_file():
        raise ForeignOutput(
            f"{checkpoints}: already exists and holds no {SPEC_FILE}, so it is not a checkpoint directory of a "
            "training stage; it is left as it is (move it away or choose another --checkpoints path)"
        )
    if checkpoints.exists() and not checkpoints.is_dir():
        raise ForeignOutput(f"{checkpoints}: already exists and is not a directory (choose another --checkpoints)")


def _resumable_checkpoint(checkpoints: Path, spec: dict[str, Any], main_process: bool) -> str | None:
    """The last complete checkpoint when it was made by this same spec; otherwise start clean.

    Only the main process changes the directory (it runs first); the others only read it.
    """
    _check_checkpoint_dir(checkpoints)
    spec_file = checkpoints / SPEC_FILE
    if spec_file.is_file() and spec_file.read_text(encoding="utf-8") == canonical_json(spec):
        complete = _complete_checkpoints(checkpoints)
        if main_process:
            for partial in checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
                if partial.is_dir() and partial not in complete:
                    log.warning("removing %s: it was cut short before it was complete", partial)
                    shutil.rmtree(partial)
        last = first_usable(checkpoints, complete, main_process)
        if last:
            log.info("resuming from step %d (%s)", _checkpoint_step(last), last)
            return str(last)
        return None
    if main_process:
        if checkpoints.exists():
            shutil.rmtree(checkpoints)
        checkpoints.mkdir(parents=True)
        write_text(spec_file, canonical_json(spec))
    return None


@dataclass(frozen=True)
class TrainedRun:
    """What training returns besides the trained weights: the Trainer's log history (losses, validation scores)
    and the record of the kept checkpoint (`selected_checkpoint`; None without validation data)."""

    history: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None


def selected_checkpoint(trainer: Trainer, training: TrainingSpec, validation_rows: int) -> dict[str, Any] | None:
    """Which weights training kept, by the selection protocol: the step, its validation score, how many
    evaluations there were, whether early stopping ended training, and the validation rows that scored them."""
    state, metric = trainer.state, f"eval_{training.selection_metric}"
    scores = [(int(entry["step"]), float(entry[metric])) for entry in state.log_history if metric in entry]
    if not scores:
        return None
    if training.checkpoint == "best" and state.best_global_step:
        step, score = int(state.best_global_step), float(state.best_metric or 0.0)
    else:
        step, score = scores[-1]
    return {
        "metric": metric,
        "greater_is_better": True,
        "checkpoint": training.checkpoint,
        "step": step,
        "score": score,
        "last_step": int(state.global_step),
        "evaluations": len(scores),
        "early_stopped": bool(training.early_stopping) and state.global_step < state.max_steps,
        "patience": training.early_stopping,
        "validation_rows": validation_rows,
    }


def train_model(
    model: PreTrainedModel,
    tokenizer: Any,
    train_data: Dataset,
    eval_data: Dataset | None,
    training: TrainingSpec,
    loss_fn: LossFn,
    checkpoints: str | Path,
    resume_key: dict[str, Any],
    data_collator: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]] | None = None,
    compute_metrics: Callable[[Any], dict[str, float]] | None = classification_metrics,
    output_hidden_states: bool = False,
    lora: dict[str, Any] | None = None,
    validation_scores: ValidationScores | None = None,
    token_sums: bool = False,
    batch_hook: BatchHook | None = None,
) -> TrainedRun:
    """Train `model` in place with the Trainer; returns the log history and the kept checkpoint's record.

    Validation is scored every `eval_steps` and at the last step; with `checkpoint: best` the weights of the best
    evaluation (the spec's `selection_metric`; ties: the earlier) are loaded at the end, and `early_stopping`
    ends training after that many evaluations without improvement. Checkpoints go to `checkpoints` (outside the
    stage's declared outputs); a rerun with the same `resume_key` resumes from the last one instead of starting
    over. The collator defaults to padding classifier inputs; `compute_metrics` scores validation from the
    model's outputs (None: its loss only) and `validation_scores` from the model itself (e.g. by generating);
    `output_hidden_states` hands `loss_fn` every layer's hidden states in training steps. With `lora` (peft
    `LoraConfig` arguments), LoRA adapters are trained and then merged into `model`'s weights. `token_sums` and
    `batch_hook`: see `KDTrainer`.
    """
    checkpoints = Path(checkpoints)
    args = training_arguments(training, checkpoints, evaluate=eval_data is not None)
    processes = training.processes
    if args.world_size != processes:
        raise UserError(
            f"the training spec asks for {processes} process(es) but this run has {args.world_size}; "
            f"start the stage with `{launcher_prefix(processes, bool(training.deepspeed))}`"
        )
    with args.main_process_first(local=False, desc="checkpoints"):
        resume_from = _resumable_checkpoint(checkpoints, resume_key, args.process_index == 0)
    if training.freeze_embeddings:
        freeze_word_embeddings(model)
    stopping = [EarlyStoppingCallback(training.early_stopping)] if training.early_stopping and eval_data else []
    trainer = KDTrainer(
        model=with_lora(model, lora) if lora else model,
        args=args,
        train_dataset=train_data,
        eval_dataset=eval_data,
        data_collator=data_collator or DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics if eval_data is not None else None,
        callbacks=stopping,
        loss_fn=loss_fn,
        output_hidden_states=output_hidden_states,
        validation_scores=validation_scores if eval_data is not None else None,
        token_sums=token_sums,
        batch_hook=batch_hook,
    )
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise disk_full(checkpoints, _complete_checkpoints(checkpoints), args.process_index == 0) from error
    if trainer.is_deepspeed_enabled:
        engine: Any = trainer.model_wrapped
        log.info(
            "DeepSpeed ZeRO stage %d on %d process(es), optimizer %s",
            engine.zero_optimization_stage(),
            args.world_size,
            type(engine.optimizer).__name__,
        )
    if lora:
        cast(Any, trainer.model).merge_and_unload()
    history = [_plain(entry) for entry in trainer.state.log_history]
    steps = trainer.state.global_step
    log.info("trained %d steps (%s epochs)", steps, training.epochs)
    checkpoint = selected_checkpoint(trainer, training, len(eval_data)) if eval_data is not None else None
    if checkpoint is not None:
        log.info(
            "kept the weights of step %d of %d (%s checkpoint): validation %s %.4f, %d evaluations on %d rows%s",
            checkpoint["step"],
            checkpoint["last_step"],
            checkpoint["checkpoint"],
            checkpoint["metric"],
            checkpoint["score"],
            checkpoint["evaluations"],
            checkpoint["validation_rows"],
            ", stopped early" if checkpoint["early_stopped"] else "",
        )
    rows = sorted(trainer.rows_trained)
    if rows:  # batches with a row index (classification)
        log.info("process %d of %d trained on %d distinct rows", args.process_index, args.world_size, len(rows))
        log.debug("process %d of %d trained on rows %s", args.process_index, args.world_size, json.dumps(rows))
    return TrainedRun(history, checkpoint)


def freeze_word_embeddings(model: PreTrainedModel) -> None:
    """Keep the word embeddings fixed: the model's, its decoder's (an encoder-decoder), and output layers tied to them.

    Their gradients are most of a training step's cost on CPU when the vocabulary is large.
    """
    stacks = [model, model.get_decoder()] if model.config.is_encoder_decoder else [model]
    for stack in stacks:
        stack.get_input_embeddings().weight.requires_grad_(False)
    trainable = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    log.info("word embeddings frozen: %d parameters left to train", trainable)


class LoraSettingsError(UserError, ValueError):
    """The LoRA settings are not valid `peft.LoraConfig` arguments."""


def with_lora(model: PreTrainedModel, settings: dict[str, Any]) -> torch.nn.Module:
    """`model` with trainable LoRA adapters from `settings` (peft `LoraConfig` arguments); its own
    weights are frozen (a classifier's head stays trainable) and later merged into."""
    from peft import LoraConfig, TaskType, get_peft_model

    if model.config.is_encoder_decoder:
        task = TaskType.SEQ_2_SEQ_LM
    else:
        task = TaskType.CAUSAL_LM if type(model).__name__.endswith("ForCausalLM") else TaskType.SEQ_CLS
    try:
        wrapped = get_peft_model(model, LoraConfig(task_type=task, **settings))
    except (TypeError, ValueError) as error:
        raise LoraSettingsError(f"LoRA settings {settings} rejected by peft: {error}") from error
    trainable, total = wrapped.get_nb_trainable_parameters()
    log.info("LoRA: %d of %d parameters trainable (%.2f%%)", trainable, total, 100 * trainable / total)
    return wrapped


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (float(value) if isinstance(value, (float, np.floating)) and math.isfinite(value) else value)
        for key, value in entry.items()
    }


def finish_checkpoints(checkpoints: str | Path) -> None:
    """Remove the resumable state once the final model is safely written (only a directory training made)."""
    if (Path(checkpoints) / SPEC_FILE).is_file():
        shutil.rmtree(checkpoints, ignore_errors=True)


def _is_history(path: Path) -> bool:
    """Whether `path` holds a training history as `save_trained` writes it (a JSON list of log entries)."""
    found = read_json_or_none(path)
    return isinstance(found, list) and all(isinstance(entry, dict) for entry in found)


def check_trained_outputs(out_dir: str, history: str, checkpoints: str, stage: str) -> None:
    """Before training: refuse (`ForeignOutput`) output paths that `save_trained` would not be allowed to replace."""
    check_replaceable(out_dir, stage)
    check_replaceable(history, stage, _is_history)
    _check_checkpoint_dir(Path(checkpoints))


def save_trained(
    model: PreTrainedModel,
    tokenizer: Any,
    out_dir: str,
    history: str,
    run: TrainedRun,
    checkpoints: str | Path,
    stage: str,
    provenance: dict[str, Any] | None = None,
    card: str | None = None,
) -> None:
    """Write the trained model (float32 safetensors + tokenizer, the kept checkpoint's record
    `BEST_CHECKPOINT_FILE`, `provenance` and a model card `README.md` when given) and its history atomically as
    `stage`'s outputs, then drop the checkpoints. In a multi-process run only the main process writes; the others
    wait for it.
    """
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process:
        with atomic_path(out_dir, stage) as staging:
            model.float().save_pretrained(staging)  # DeepSpeed bf16/fp16 leaves half-precision weights
            tokenizer.save_pretrained(staging)
            if run.checkpoint is not None:
                write_json(staging / BEST_CHECKPOINT_FILE, run.checkpoint)
            if provenance is not None:
                write_provenance(staging, provenance)
            if card is not None:
                (staging / "README.md").write_text(card, encoding="utf-8")
        write_json(history, run.history, stage, _is_history)
        finish_checkpoints(checkpoints)
    state.wait_for_everyone()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
