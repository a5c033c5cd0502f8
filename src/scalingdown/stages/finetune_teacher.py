"""The `finetune_teacher` stage: fine-tune a teacher on the task's gold labels or targets (full or LoRA), as the
task's model family fits its models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scalingdown.families.interface import TrainingJob
from scalingdown.families.registry import family_for
from scalingdown.pipeline.outputs.provenance import provenance_record
from scalingdown.pipeline.specs.definitions import FinetuneSpec
from scalingdown.training.trainer import check_trained_outputs, save_trained


def finetune_teacher(
    spec: FinetuneSpec, data: str, out: str, history: str, checkpoints: str, experiment: str | None = None
) -> None:
    """Fine-tune `spec.model` on the prepared `data` and save it (safetensors + tokenizer + provenance) to `out`.

    With `method: lora` the adapters are merged into the weights before saving, so later stages
    load a plain model.
    """
    check_trained_outputs(out, history, checkpoints, "finetune_teacher")
    training = spec.training if spec.training.seed is not None else replace(spec.training, seed=spec.seed)
    job = TrainingJob(
        training=training,
        checkpoints=checkpoints,
        resume_key={"stage": "finetune_teacher", "spec": spec.to_dict(), "data": str(Path(data))},
        lora=spec.lora if spec.method == "lora" else None,
    )
    trained = family_for(spec.type, spec.family).fit_teacher(spec, data, job)
    save_trained(
        trained.model,
        trained.tokenizer,
        out,
        history,
        trained.run,
        checkpoints,
        "finetune_teacher",
        provenance=provenance_record("finetune_teacher", experiment),
    )
