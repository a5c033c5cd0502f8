"""The `evaluate` stage: a model's task metrics on the test split, its parameter count and size on disk.

The model is a teacher or a student as trained, or (spec `variant`) one of a student's exports, run through
the same metrics: classifiers through `evaluation.runtime` (ONNX Runtime or PyTorch int8), text-to-text
students' PyTorch int8 export through the same generation and option scoring. Speed is not measured here:
the `benchmark` stage times every model of a task together.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalingdown.data.labels import align_columns, label_ids
from scalingdown.data.store import read_split
from scalingdown.evaluation.exporters import load_torch_int8, read_record
from scalingdown.evaluation.metrics import classification_scores
from scalingdown.evaluation.predict import predict_logits
from scalingdown.evaluation.runtime import load_runtime
from scalingdown.evaluation.sizes import size_on_disk_mb
from scalingdown.models.loading import (
    count_parameters,
    inference_device,
    load_classifier,
    load_seq2seq,
    load_tokenizer,
    model_label_names,
)
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.pipeline.names.model_refs import ModelRef
from scalingdown.pipeline.outputs.atomic import check_replaceable, read_json_or_none, record_of, write_record
from scalingdown.pipeline.specs.definitions import EvaluateSpec, TextTask
from scalingdown.seq2seq.evaluation import answerer, examples, task_scores
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
    if spec.text is not None:
        return evaluate_seq2seq(spec, spec.text, data, model, out)
    labels = spec.labels or []
    test = read_split(data, "test")
    texts = test["text"].tolist()
    if spec.variant is None:
        tokenizer = load_tokenizer(model)
        classifier = load_classifier(model).to(inference_device())
        logits = predict_logits(classifier, tokenizer, texts, spec.max_length, spec.batch_size, "test")
        names = model_label_names(classifier, spec.label_map)
        params, size = count_parameters(classifier), _size(model)
    else:
        runtime = load_runtime(model, torch.get_num_threads(), spec.max_length)
        logits = runtime.logits(texts, spec.batch_size)
        names, params, size = runtime.label_names, _export_record(model)["params"], runtime.size_mb
    logits = align_columns(logits, names, labels, f"{spec.kind} {spec.name}")
    scores = classification_scores(label_ids(test, labels), np.argmax(logits, axis=1), labels)
    record = {
        **_identity(spec, model),
        "test_rows": len(test),
        "labels": labels,
        "metrics": scores,
        "params": params,
        "size_mb": size,
    }
    record = write_record(out, record, "evaluate")
    log.info("%s %s (%s): accuracy %.4f", spec.kind, spec.name, record["variant"], scores["accuracy"])
    return record


def evaluate_seq2seq(
    spec: EvaluateSpec, text: TextTask, data_dir: str, model_ref: str, out_path: str
) -> dict[str, Any]:
    """Score a text-to-text model on the test split (see `scalingdown.seq2seq.evaluation`)."""
    tokenizer = load_tokenizer(model_ref)
    if spec.variant is None:
        model = load_seq2seq(model_ref).to(inference_device())
        params, size = count_parameters(model), _size(model_ref)
    else:  # PyTorch int8 (the only export of a text-to-text model) runs on the CPU
        model, exported = load_torch_int8(model_ref), _export_record(model_ref)
        params, size = exported["params"], exported["size_mb"]
    test = read_split(data_dir, "test")
    answer = answerer(model, tokenizer, spec.type, text, spec.max_length, test, spec.batch_size)
    answers = answer(list(range(len(test))), "test")
    scores = task_scores(spec.type, test, answers, tokenizer)
    record = {
        **_identity(spec, model_ref),
        "type": spec.type,
        "test_rows": len(test),
        "labels": None,
        "metrics": scores,
        "examples": examples(test, spec.type, text.prompt, answers),
        "params": params,
        "size_mb": size,
    }
    record = write_record(out_path, record, "evaluate")
    log.info(
        "%s %s (%s): %s",
        spec.kind,
        spec.name,
        record["variant"],
        ", ".join(f"{key} {value:.4f}" for key, value in scores.items()),
    )
    return record


def _size(model_ref: str) -> float | None:
    """Weights on disk of a local model directory (MiB); None for a Hub, package or tiny reference."""
    return size_on_disk_mb(model_ref) if ModelRef.parse(model_ref).kind == "path" else None


def _export_record(directory: str) -> dict[str, Any]:
    record = read_record(directory)
    if record is None:
        raise UserError(f"{directory}: not an export (no scalingdown-export.json); run the export stage first")
    return record
