"""Reading teachers' logit caches for a consumer: checked against the data, aligned to the task's labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalingdown.data.labels import align_columns
from scalingdown.data.store import read_manifest, read_split
from scalingdown.kd.logit_store import (
    check_cache,
    check_classification_layout,
    check_hidden_layers,
    hidden_column,
    read_logits,
    split_matrix,
)
from scalingdown.models.loading import load_tokenizer, tokenizer_fingerprint
from scalingdown.pipeline.names.model_refs import ModelRef
from scalingdown.pipeline.specs.definitions import DistillTeacher, TeacherName


@dataclass
class TeacherOutputs:
    """One teacher's cached outputs: logits per split (task label order), pooled train states per layer."""

    name: str
    logits: dict[str, np.ndarray]
    hidden: dict[int, np.ndarray] = field(default_factory=dict)


def expected_fingerprint(teacher: DistillTeacher | TeacherName) -> dict[str, Any]:
    """The fingerprint fields a teacher's cache must carry: its key and, for a `distill` teacher, its max
    length and, for a model available locally (fine-tuned, packaged, tiny or a directory), its tokenizer's
    fingerprint."""
    expected: dict[str, Any] = {"teacher_key": teacher.key}
    if isinstance(teacher, DistillTeacher):
        expected["max_length"] = teacher.max_length
        if ModelRef.parse(teacher.model).kind != "hub":
            expected["tokenizer"] = tokenizer_fingerprint(load_tokenizer(teacher.model))
    return expected


def load_teacher_outputs(
    teachers: Sequence[DistillTeacher | TeacherName],
    paths: list[str],
    data_dir: str,
    labels: list[str],
    splits: tuple[str, ...],
    hidden_layers: dict[str, list[int]] | None = None,
) -> list[TeacherOutputs]:
    """Each teacher's logits on `splits` (and train-split pooled states of its `hidden_layers`).

    `teachers` are the spec's teachers, in the order of `paths`. Every cache is checked first: teacher key,
    max length and tokenizer, data hashes and row ids of each split read, hidden layers present.
    """
    if len(paths) != len(teachers):
        raise ValueError(f"got {len(paths)} logit caches for {len(teachers)} teachers")
    manifest = read_manifest(data_dir)
    data = {split: read_split(data_dir, split) for split in splits}
    hashes = {split: manifest["splits"][split]["sha256"] for split in splits}
    outputs = []
    for teacher, path in zip(teachers, paths):
        frame, fingerprint = read_logits(path)
        check_classification_layout(path, fingerprint, frame)
        check_cache(path, fingerprint, frame, expected=expected_fingerprint(teacher), data=data, data_hashes=hashes)
        layers = (hidden_layers or {}).get(teacher.name, [])
        check_hidden_layers(path, fingerprint, layers)
        who = f"teacher {teacher.name}"
        logits = {
            split: align_columns(split_matrix(frame, split), fingerprint["label_names"], labels, who)
            for split in splits
        }
        hidden = {layer: split_matrix(frame, "train", hidden_column(layer)) for layer in layers}
        outputs.append(TeacherOutputs(teacher.name, logits, hidden))
    return outputs
