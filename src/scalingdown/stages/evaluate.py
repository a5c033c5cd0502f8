"""The `evaluate` stage: a model's task metrics on the test split, its parameter count and size on disk.

The model is a teacher or a student as trained, or (spec `variant`) one of a student's exports, scored by the task's
model family (`families.interface.ModelFamily.score`): classifiers through `evaluation.runtime` (ONNX Runtime or
PyTorch int8), text-to-text students' PyTorch int8 export through the same generation and option scoring. Speed is
not measured here: the `benchmark` stage times every model of a task together.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scalingdown.families.registry import family_for
from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.pipeline.outputs.atomic import check_replaceable, read_json_or_none, record_of, write_record
from scalingdown.pipeline.specs.definitions import EvaluateSpec
from scalingdown.training.trainer import BEST_CHECKPOINT_FILE

log = logging.getLogger(__name__)


def _identity(spec: EvaluateSpec, model: str) -> dict[str, Any]:
    """Which model of which task a record is about, and (a trained model) which of its training's checkpoints it
    is: the record its training wrote (`training.trainer.BEST_CHECKPOINT_FILE`)."""
    identity: dict[str, Any] = {
        "task": spec.task,
        "kind": spec.kind,
        "name": spec.name,
        "model": spec.model,
        "role": spec.role,
        "variant": spec.variant or ORIGINAL,
    }
    checkpoint = read_json_or_none(Path(model) / BEST_CHECKPOINT_FILE) if spec.variant is None else None
    if isinstance(checkpoint, dict):
        identity["checkpoint"] = checkpoint
    return identity


def evaluate(spec: EvaluateSpec, data: str, model: str, out: str) -> dict[str, Any]:
    """Score `model` (a directory or reference) on the test split of `data`; writes the record to `out` and
    returns it."""
    check_replaceable(out, "evaluate", record_of("evaluate"))
    scores = family_for(spec.type, spec.family).score(spec, data, model)
    record = write_record(out, {**_identity(spec, model), **scores.fields}, "evaluate")
    log.info("%s %s (%s): %s", spec.kind, spec.name, record["variant"], scores.summary)
    return record
