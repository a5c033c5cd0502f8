"""Reading teachers' logit caches for a consumer: checked against the data, aligned to the task's labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalingdown.classification import align_columns
from scalingdown.data.store import read_manifest, read_split
from scalingdown.logit_store import check_cache, check_hidden_layers, hidden_column, read_logits, split_matrix
from scalingdown.models import load_tokenizer, tokenizer_fingerprint
from scalingdown.refs import ModelRef


@dataclass
class TeacherOutputs:
    """One teacher's cached outputs: logits per split (task label order), pooled train states per layer."""

    name: str
    logits: dict[str, np.ndarray]
    hidden: dict[int, np.ndarray] = field(default_factory=dict)


def expected_fingerprint(teacher: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint fields a teacher's cache must carry: its key, its max length and, for a model
    available locally (fine-tuned, packaged, tiny or a directory), its tokenizer's fingerprint."""
    expected: dict[str, Any] = {"teacher_key": teacher["key"]}
    if "max_length" in teacher:
        expected["max_length"] = teacher["max_length"]
    if "model" in teacher and ModelRef.parse(teacher["model"]).kind != "hub":
        expected["tokenizer"] = tokenizer_fingerprint(load_tokenizer(teacher["model"]))
    return expected


def load_teacher_outputs(
    teachers: list[dict[str, Any]],
    paths: list[str],
    data_dir: str,
    labels: list[str],
    splits: tuple[str, ...],
    hidden_layers: dict[str, list[int]] | None = None,
) -> list[TeacherOutputs]:
    """Each teacher's logits on `splits` (and train-split pooled states of its `hidden_layers`).

    `teachers` are `{name, key}` records (with `model` and `max_length` where known) in the order of
    `paths`. Every cache is checked first: teacher key, max length and tokenizer, data hashes and
    row ids of each split read, hidden layers present.
    """
    if len(paths) != len(teachers):
        raise ValueError(f"got {len(paths)} logit caches for {len(teachers)} teachers")
    manifest = read_manifest(data_dir)
    data = {split: read_split(data_dir, split) for split in splits}
    hashes = {split: manifest["splits"][split]["sha256"] for split in splits}
    outputs = []
    for teacher, path in zip(teachers, paths):
        frame, fingerprint = read_logits(path)
        check_cache(path, fingerprint, frame, expected=expected_fingerprint(teacher), data=data, data_hashes=hashes)
        layers = (hidden_layers or {}).get(teacher["name"], [])
        check_hidden_layers(path, fingerprint, layers)
        who = f"teacher {teacher['name']}"
        logits = {
            split: align_columns(split_matrix(frame, split), fingerprint["label_names"], labels, who)
            for split in splits
        }
        hidden = {layer: split_matrix(frame, "train", hidden_column(layer)) for layer in layers}
        outputs.append(TeacherOutputs(teacher["name"], logits, hidden))
    return outputs
