"""The `distill` stage: train a student from its teachers' cached outputs, as the task's model family distils
(`families.interface.ModelFamily.fit_student`): a classifier from the teachers' softened logits (and pooled hidden
states), a text-to-text student from their top-k distributions per target token; a student without teachers from
its gold labels or targets alone.

The cache is the contract: `distill` reads each teacher's cache, refused unless its fingerprint and row ids match
the student's data, and never loads a teacher, with one exception: a classification student with `teacher_mode:
online` loads its teachers and runs them on every training batch instead (their logits go through the same
alignment, softening, mixing and loss); that mode exists to measure what the cache saves (bench/cache_vs_online.py).
"""

from __future__ import annotations

from scalingdown.families.interface import TrainingJob
from scalingdown.families.registry import family_for
from scalingdown.pipeline.specs.definitions import DistillSpec
from scalingdown.training.trainer import check_trained_outputs, save_trained


def distill(
    spec: DistillSpec, data: str, init: str, logits: list[str], out: str, history: str, checkpoints: str
) -> None:
    """Train the student initialised from `init` on the prepared `data` and the teacher caches `logits`;
    save it to `out` and its training history to `history`."""
    check_trained_outputs(out, history, checkpoints, "distill")
    resume_key = {"stage": "distill", "spec": spec.to_dict(), "data": data, "init": init, "logits": logits}
    job = TrainingJob(training=spec.training, checkpoints=checkpoints, resume_key=resume_key)
    trained = family_for(spec.type, spec.family).fit_student(spec, data, init, logits, job)
    save_trained(trained.model, trained.tokenizer, out, history, trained.run, checkpoints, "distill", card=trained.card)
