"""The `finetune_teacher` stage: fine-tune a teacher on the task's gold labels (or gold targets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scalingdown.classification import fit_classifier
from scalingdown.models import load_classifier, load_seq2seq, load_tokenizer
from scalingdown.provenance import provenance_record
from scalingdown.seq2seq.fit import fit_seq2seq
from scalingdown.seq2seq.formats import is_seq2seq
from scalingdown.training import save_trained


def finetune_teacher(spec: dict[str, Any], data_dir: str, out_dir: str, history: str, checkpoints: str,
                     experiment: str | None = None) -> None:
    """Fine-tune `spec["model"]` and save it (safetensors + tokenizer + provenance) to `out_dir`."""
    tokenizer = load_tokenizer(spec["model"])
    training = {"seed": spec["seed"], **spec["training"]}
    resume_key = {"stage": "finetune_teacher", "spec": spec, "data": str(Path(data_dir))}
    if is_seq2seq(spec.get("type", "classification")):
        model = load_seq2seq(spec["model"], seed=spec["seed"])
        log_history = fit_seq2seq(
            model, tokenizer, data_dir, spec, spec["max_length"], spec["max_target_length"], training,
            loss={"ce": 1.0}, checkpoints=checkpoints, resume_key=resume_key,
        )
    else:
        labels = spec["labels"]
        model = load_classifier(spec["model"], labels, seed=spec["seed"])
        log_history = fit_classifier(
            model, tokenizer, data_dir, labels, spec["max_length"], training,
            loss={"ce": 1.0, "kd": 0.0, "temperature": 1.0}, checkpoints=checkpoints, resume_key=resume_key,
        )
    save_trained(model, tokenizer, out_dir, history, log_history, checkpoints,
                 provenance=provenance_record("finetune_teacher", experiment))
