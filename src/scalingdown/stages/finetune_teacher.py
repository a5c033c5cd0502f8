"""The `finetune_teacher` stage: fine-tune a teacher on the task's gold labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scalingdown.classification import fit_classifier
from scalingdown.models import load_classifier, load_tokenizer
from scalingdown.provenance import provenance_record
from scalingdown.training import save_trained


def finetune_teacher(spec: dict[str, Any], data_dir: str, out_dir: str, history: str, checkpoints: str,
                     experiment: str | None = None) -> None:
    """Fine-tune `spec["model"]` and save it (safetensors + tokenizer + provenance) to `out_dir`."""
    labels = spec["labels"]
    tokenizer = load_tokenizer(spec["model"])
    model = load_classifier(spec["model"], labels, seed=spec["seed"])
    training = {"seed": spec["seed"], **spec["training"]}
    log_history = fit_classifier(
        model, tokenizer, data_dir, labels, spec["max_length"], training,
        loss={"ce": 1.0, "kd": 0.0, "temperature": 1.0},
        checkpoints=checkpoints, resume_key={"stage": "finetune_teacher", "spec": spec, "data": str(Path(data_dir))},
    )
    save_trained(model, tokenizer, out_dir, history, log_history, checkpoints,
                 provenance=provenance_record("finetune_teacher", experiment))
