"""The `init_student` stage: build a student's starting weights (the untrained baseline), as the task's model family
builds them."""

from __future__ import annotations

from scalingdown.families.registry import family_for
from scalingdown.models.loading import load_tokenizer
from scalingdown.pipeline.outputs.atomic import atomic_path
from scalingdown.pipeline.outputs.provenance import provenance_record, write_provenance
from scalingdown.pipeline.specs.definitions import InitSpec


def init_student(spec: InitSpec, out: str, experiment: str | None = None) -> None:
    """Write the initial student (model + tokenizer + provenance) to `out`."""
    model = family_for(spec.type, spec.family).build_student(spec)
    tokenizer = load_tokenizer(spec.model)
    with atomic_path(out, stage="init_student") as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_provenance(staging, provenance_record("init_student", experiment))
