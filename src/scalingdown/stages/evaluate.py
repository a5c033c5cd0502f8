"""The `evaluate` stage: task metrics on the test split plus a speed and size benchmark."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from scalingdown.atomic import write_json
from scalingdown.benchmark import latency_ms, peak_rss_mb, size_on_disk_mb, throughput_per_s
from scalingdown.classification import align_columns, label_ids
from scalingdown.data.store import read_split
from scalingdown.metrics import classification_scores
from scalingdown.models import ModelRef, count_parameters, load_classifier, load_tokenizer, model_label_names
from scalingdown.predict import predict_logits

log = logging.getLogger(__name__)


def evaluate(spec: dict[str, Any], data_dir: str, model_ref: str, out_path: str) -> dict[str, Any]:
    """Score `model_ref` on the test split and time it; writes and returns the result record."""
    labels = spec["labels"]
    bench = spec["benchmark"]
    tokenizer = load_tokenizer(model_ref)
    model = load_classifier(model_ref)
    test = read_split(data_dir, "test")
    texts = test["text"].tolist()
    logits = predict_logits(model, tokenizer, texts, spec["max_length"], bench["batch_size"], "test")
    logits = align_columns(logits, model_label_names(model, spec.get("label_map")), labels, f"{spec['kind']} {spec['name']}")
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
            "threads": torch.get_num_threads(),
            "device": "cpu",
            "peak_rss_mb": peak_rss_mb(),
        },
        "params": count_parameters(model),
        "size_mb": size_on_disk_mb(model_ref) if local else None,
    }
    write_json(out_path, record)
    log.info("%s %s: accuracy %.4f, %.2f ms/sample", spec["kind"], spec["name"],
             scores["accuracy"], speed["latency_ms_per_sample"])
    return record
