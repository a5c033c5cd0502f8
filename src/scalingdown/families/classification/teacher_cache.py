"""A classification teacher's cache: written once by `teacher_logits` (its logits on every split, in the model's label
order, and the pooled states of the hidden layers its students map to), read by `distill` and `teacher_ensemble`:
checked against the data, aligned to the task's labels."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from scalingdown.data.labels import align_columns
from scalingdown.data.store import SPLITS, read_manifest, read_split
from scalingdown.families.classification.predict import predict_outputs
from scalingdown.kd.logit_store import (
    check_cache,
    check_cached_layers,
    check_classification_layout,
    hidden_column,
    read_logits,
    split_matrix,
    write_logits,
)
from scalingdown.models.fingerprints import weights_fingerprint
from scalingdown.models.layers import check_hidden_layers
from scalingdown.models.loading import (
    inference_device,
    load_classifier,
    load_tokenizer,
    model_label_names,
    tokenizer_fingerprint,
)
from scalingdown.pipeline.names.model_refs import ModelRef
from scalingdown.pipeline.outputs.provenance import provenance_record
from scalingdown.pipeline.specs.definitions import DistillTeacher, LogitsSpec, TeacherName

log = logging.getLogger(__name__)


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
        check_cached_layers(path, fingerprint, layers)
        who = f"teacher {teacher.name}"
        logits = {
            split: align_columns(split_matrix(frame, split), fingerprint["label_names"], labels, who)
            for split in splits
        }
        hidden = {layer: split_matrix(frame, "train", hidden_column(layer)) for layer in layers}
        outputs.append(TeacherOutputs(teacher.name, logits, hidden))
    return outputs


LABEL_MAP_HINT = "map the model's label names onto the task's with the teacher's `labels` key, e.g. {LABEL_0: positive}"


def write_teacher_cache(spec: LogitsSpec, data: str, out: str, batch_size: int, experiment: str | None) -> None:
    """Cache the teacher's logits (and pooled mapped hidden states) on train, validation and test.

    Stops before any inference when the teacher's labels cannot be mapped onto the task's.
    """
    data_dir, model_ref, hidden_layers = data, spec.model, list(spec.hidden_layers)
    tokenizer = load_tokenizer(model_ref)
    model = cast(Any, load_classifier(model_ref)).to(inference_device())
    label_names = model_label_names(model, spec.label_map)
    align_columns(
        np.zeros((0, len(label_names))), label_names, spec.labels or [], f"teacher {spec.teacher}", hint=LABEL_MAP_HINT
    )
    check_hidden_layers(model.config, hidden_layers, f"teacher {spec.teacher} ({model_ref})")
    manifest = read_manifest(data_dir)
    frames = []
    for split in SPLITS:
        rows = read_split(data_dir, split)
        logits, pooled = predict_outputs(
            model, tokenizer, rows["text"].tolist(), spec.max_length, batch_size, split, hidden_layers
        )
        columns = {"split": split, "row_id": rows["row_id"], "logits": list(logits)}
        columns.update({hidden_column(layer): list(pooled[layer]) for layer in hidden_layers})
        frames.append(pd.DataFrame(columns))
    fingerprint: dict[str, Any] = {
        "teacher": spec.teacher,
        "teacher_key": spec.teacher_key,
        "model": model_ref,
        "weights": weights_fingerprint(model_ref, model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": spec.max_length,
        "label_names": label_names,
        "model_label_names": model_label_names(model),
        "hidden_layers": hidden_layers,
        "hidden_size": int(model.config.hidden_size),
        "splits": {
            split: {"rows": manifest["splits"][split]["rows"], "sha256": manifest["splits"][split]["sha256"]}
            for split in SPLITS
        },
    }
    write_logits(
        out, pd.concat(frames, ignore_index=True), fingerprint, provenance_record("teacher_logits", experiment)
    )
    log.info(
        "cached logits of %s for %s (pooled hidden layers %s)",
        spec.teacher,
        {s: fingerprint["splits"][s]["rows"] for s in SPLITS},
        hidden_layers,
    )
