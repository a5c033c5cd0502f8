"""The `check_distill_inputs` stage: verify what `distill` reads, in a cheap job of its own that runs before it.

Snakemake deletes a job's declared outputs before the job starts, so a `distill` that refuses its inputs (a teacher
cache changed after `teacher_logits` wrote it, prepared data edited, an initial student without its tokenizer)
would already have cost the previous student. This stage makes the checks `distill` makes before training — the
prepared splits against their manifest, the initial student's files, every teacher cache against the data
(fingerprint, row ids, content hashes; the model family's own checks, `ModelFamily.check_student_inputs`: for
text-to-text and causal caches the vocabulary too) — and writes a small record that `distill` takes as input. The
rule marks that record `temp()`: it is deleted once `distill` ran, so every run of `distill` (`--forcerun distill`
included) is preceded by a fresh check, and a refused input stops the workflow with the previous student in place.
"""

from __future__ import annotations

from scalingdown.data.store import read_split
from scalingdown.families.registry import family_for
from scalingdown.models.model_dirs import check_model_dir
from scalingdown.pipeline.outputs.atomic import write_record
from scalingdown.pipeline.specs.definitions import DistillSpec

STAGE = "check_distill_inputs"


def check_distill_inputs(spec: DistillSpec, data: str, init: str, logits: list[str], out: str) -> None:
    """Check `distill`'s inputs for `spec` as `distill` does (raising its errors); record what was checked in `out`."""
    check_model_dir(init)
    read_split(data, "train")  # its content hash against the manifest
    family_for(spec.type, spec.family).check_student_inputs(spec, data, init, logits)
    write_record(out, {"student": spec.student, "data": data, "init": init, "logits": logits}, STAGE)
