"""The `evaluate` stage: task metrics on the test split plus a speed and size benchmark.

Classification models are timed per example; seq2seq models per question (generation, or
scoring every option), so `throughput_per_s` is questions per second.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from scalingdown.atomic import write_json
from scalingdown.benchmark import (
    device_description,
    items_per_second,
    latency_ms,
    peak_rss_mb,
    size_on_disk_mb,
    throughput_per_s,
    timed_calls,
)
from scalingdown.classification import align_columns, label_ids
from scalingdown.data.store import read_split
from scalingdown.metrics import classification_scores
from scalingdown.models import (
    ModelRef,
    count_parameters,
    inference_device,
    load_classifier,
    load_seq2seq,
    load_tokenizer,
    model_device,
    model_label_names,
)
from scalingdown.predict import predict_logits
from scalingdown.seq2seq.evaluation import answerer, examples, task_scores
from scalingdown.seq2seq.formats import is_seq2seq

log = logging.getLogger(__name__)


def evaluate(spec: dict[str, Any], data_dir: str, model_ref: str, out_path: str) -> dict[str, Any]:
    """Score `model_ref` on the test split and time it; writes and returns the result record."""
    if is_seq2seq(spec.get("type", "classification")):
        return evaluate_seq2seq(spec, data_dir, model_ref, out_path)
    labels = spec["labels"]
    bench = spec["benchmark"]
    tokenizer = load_tokenizer(model_ref)
    model = load_classifier(model_ref).to(inference_device())
    test = read_split(data_dir, "test")
    texts = test["text"].tolist()
    logits = predict_logits(model, tokenizer, texts, spec["max_length"], bench["batch_size"], "test")
    logits = align_columns(
        logits, model_label_names(model, spec.get("label_map")), labels, f"{spec['kind']} {spec['name']}"
    )
    scores = classification_scores(label_ids(test, labels), np.argmax(logits, axis=1), labels)
    speed = latency_ms(model, tokenizer, texts, spec["max_length"], bench["warmup"], bench["runs"])
    speed["throughput_per_s"] = throughput_per_s(model, tokenizer, texts, spec["max_length"], bench["batch_size"])
    local = ModelRef.parse(model_ref).kind == "path"
    record = {
        **{key: spec[key] for key in ("task", "kind", "name", "model", "role")},
        "test_rows": len(test),
        "labels": labels,
        "metrics": scores,
        "speed": {
            **speed,
            "batch_size": bench["batch_size"],
            "latency_warmup": bench["warmup"],
            "threads": torch.get_num_threads(),
            **device_description(model_device(model)),
            "peak_rss_mb": peak_rss_mb(),
        },
        "params": count_parameters(model),
        "size_mb": size_on_disk_mb(model_ref) if local else None,
    }
    write_json(out_path, record)
    log.info(
        "%s %s: accuracy %.4f, %.2f ms/sample",
        spec["kind"],
        spec["name"],
        scores["accuracy"],
        speed["latency_ms_per_sample"],
    )
    return record


def evaluate_seq2seq(spec: dict[str, Any], data_dir: str, model_ref: str, out_path: str) -> dict[str, Any]:
    """Score a seq2seq model on the test split (see `scalingdown.seq2seq.evaluation`) and time it per question."""
    bench = spec["benchmark"]
    tokenizer = load_tokenizer(model_ref)
    model = load_seq2seq(model_ref).to(inference_device())
    test = read_split(data_dir, "test")
    answer = answerer(model, tokenizer, spec, test, bench["batch_size"])
    answers = answer(list(range(len(test))), "test")
    scores = task_scores(spec["type"], test, answers, tokenizer)
    speed = timed_calls(lambda i: answer([i], None), len(test), bench["warmup"], bench["runs"])
    speed["throughput_per_s"] = items_per_second(lambda batch: answer(batch, None), len(test), bench["batch_size"])
    record = {
        **{key: spec[key] for key in ("task", "kind", "name", "model", "role", "type")},
        "test_rows": len(test),
        "labels": None,
        "metrics": scores,
        "examples": examples(test, spec, answers),
        "speed": {
            **speed,
            "batch_size": bench["batch_size"],
            "latency_warmup": bench["warmup"],
            "threads": torch.get_num_threads(),
            **device_description(model_device(model)),
            "peak_rss_mb": peak_rss_mb(),
        },
        "params": count_parameters(model),
        "size_mb": size_on_disk_mb(model_ref) if ModelRef.parse(model_ref).kind == "path" else None,
    }
    write_json(out_path, record)
    log.info(
        "%s %s: %s, %.2f ms/question, %.1f questions/s",
        spec["kind"],
        spec["name"],
        ", ".join(f"{key} {value:.4f}" for key, value in scores.items()),
        speed["latency_ms_per_sample"],
        speed["throughput_per_s"],
    )
    return record
