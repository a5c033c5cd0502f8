"""The `evaluate` stage: task metrics on the test split plus a speed and size benchmark.

Classification models are timed per example; seq2seq models per question (generation, or
scoring every option), so `throughput_per_s` is questions per second.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from scalingdown.data.labels import align_columns, label_ids
from scalingdown.data.store import read_split
from scalingdown.evaluation.benchmark import (
    device_description,
    items_per_second,
    latency_ms,
    peak_rss_mb,
    size_on_disk_mb,
    throughput_per_s,
    timed_calls,
)
from scalingdown.evaluation.metrics import classification_scores
from scalingdown.evaluation.predict import predict_logits
from scalingdown.models.loading import (
    count_parameters,
    inference_device,
    load_classifier,
    load_seq2seq,
    load_tokenizer,
    model_device,
    model_label_names,
)
from scalingdown.pipeline.atomic import check_replaceable, record_of, write_record
from scalingdown.pipeline.refs import ModelRef
from scalingdown.pipeline.specs import EvaluateSpec, TextTask
from scalingdown.seq2seq.evaluation import answerer, examples, task_scores

log = logging.getLogger(__name__)


def _identity(spec: EvaluateSpec) -> dict[str, str]:
    """Which model of which task a record is about."""
    return {"task": spec.task, "kind": spec.kind, "name": spec.name, "model": spec.model, "role": spec.role}


def evaluate(spec: EvaluateSpec, data: str, model: str, out: str) -> dict[str, Any]:
    """Score `model` (a directory or reference) on the test split of `data` and time it; writes the record to
    `out` and returns it."""
    check_replaceable(out, "evaluate", record_of("evaluate"))
    if spec.text is not None:
        return evaluate_seq2seq(spec, spec.text, data, model, out)
    data_dir, model_ref, out_path = data, model, out
    labels = spec.labels or []
    bench = spec.benchmark
    tokenizer = load_tokenizer(model_ref)
    classifier = load_classifier(model_ref).to(inference_device())
    test = read_split(data_dir, "test")
    texts = test["text"].tolist()
    logits = predict_logits(classifier, tokenizer, texts, spec.max_length, bench.batch_size, "test")
    logits = align_columns(logits, model_label_names(classifier, spec.label_map), labels, f"{spec.kind} {spec.name}")
    scores = classification_scores(label_ids(test, labels), np.argmax(logits, axis=1), labels)
    speed = latency_ms(classifier, tokenizer, texts, spec.max_length, bench.warmup, bench.runs)
    speed["throughput_per_s"] = throughput_per_s(classifier, tokenizer, texts, spec.max_length, bench.batch_size)
    local = ModelRef.parse(model_ref).kind == "path"
    record = {
        **_identity(spec),
        "test_rows": len(test),
        "labels": labels,
        "metrics": scores,
        "speed": {
            **speed,
            "batch_size": bench.batch_size,
            "latency_warmup": bench.warmup,
            "threads": torch.get_num_threads(),
            **device_description(model_device(classifier)),
            "peak_rss_mb": peak_rss_mb(),
        },
        "params": count_parameters(classifier),
        "size_mb": size_on_disk_mb(model_ref) if local else None,
    }
    record = write_record(out_path, record, "evaluate")
    log.info(
        "%s %s: accuracy %.4f, %.2f ms/sample",
        spec.kind,
        spec.name,
        scores["accuracy"],
        speed["latency_ms_per_sample"],
    )
    return record


def evaluate_seq2seq(
    spec: EvaluateSpec, text: TextTask, data_dir: str, model_ref: str, out_path: str
) -> dict[str, Any]:
    """Score a text-to-text model on the test split (see `scalingdown.seq2seq.evaluation`) and time it per
    question."""
    bench = spec.benchmark
    tokenizer = load_tokenizer(model_ref)
    model = load_seq2seq(model_ref).to(inference_device())
    test = read_split(data_dir, "test")
    answer = answerer(model, tokenizer, spec.type, text, spec.max_length, test, bench.batch_size)
    answers = answer(list(range(len(test))), "test")
    scores = task_scores(spec.type, test, answers, tokenizer)
    speed = timed_calls(lambda i: answer([i], None), len(test), bench.warmup, bench.runs)
    speed["throughput_per_s"] = items_per_second(lambda batch: answer(batch, None), len(test), bench.batch_size)
    record = {
        **_identity(spec),
        "type": spec.type,
        "test_rows": len(test),
        "labels": None,
        "metrics": scores,
        "examples": examples(test, spec.type, text.prompt, answers),
        "speed": {
            **speed,
            "batch_size": bench.batch_size,
            "latency_warmup": bench.warmup,
            "threads": torch.get_num_threads(),
            **device_description(model_device(model)),
            "peak_rss_mb": peak_rss_mb(),
        },
        "params": count_parameters(model),
        "size_mb": size_on_disk_mb(model_ref) if ModelRef.parse(model_ref).kind == "path" else None,
    }
    record = write_record(out_path, record, "evaluate")
    log.info(
        "%s %s: %s, %.2f ms/question, %.1f questions/s",
        spec.kind,
        spec.name,
        ", ".join(f"{key} {value:.4f}" for key, value in scores.items()),
        speed["latency_ms_per_sample"],
        speed["throughput_per_s"],
    )
    return record
