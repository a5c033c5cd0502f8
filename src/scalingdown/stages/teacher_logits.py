"""The `teacher_logits` stage: run a teacher once over every split and cache its logits and pooled states."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalingdown.classification import align_columns
from scalingdown.data.store import SPLITS, read_manifest, read_split
from scalingdown.logit_store import hidden_column, write_logits
from scalingdown.models import ModelRef, check_hidden_layers, load_classifier, load_tokenizer, model_label_names
from scalingdown.predict import predict_outputs

log = logging.getLogger(__name__)


def weights_fingerprint(model_ref: str, model: Any) -> str:
    """sha256 of a local model's safetensors files, or the hub commit of a hub model."""
    parsed = ModelRef.parse(model_ref)
    if parsed.kind == "tiny":
        return f"tiny:{parsed.name}"
    if parsed.kind == "hub":
        return f"hub:{parsed.name}@{getattr(model.config, '_commit_hash', None) or parsed.revision or 'unknown'}"
    digest = hashlib.sha256()
    for path in sorted(Path(parsed.location()).glob("*.safetensors")):
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, Any]:
    """What identifies a tokenizer: its class, vocabulary size and a hash of the vocabulary."""
    vocabulary = sorted(tokenizer.get_vocab().items())
    digest = hashlib.sha256(repr(vocabulary).encode("utf-8")).hexdigest()
    return {"class": type(tokenizer).__name__, "vocab_size": len(vocabulary), "vocab_sha256": digest}


LABEL_MAP_HINT = "map the model's label names onto the task's with the teacher's `labels` key, e.g. {LABEL_0: positive}"


def teacher_logits(spec: dict[str, Any], data_dir: str, out_path: str, batch_size: int = 64) -> None:
    """Cache the teacher's logits (and pooled mapped hidden states) on train, validation and test.

    Stops before any inference when the teacher's labels cannot be mapped onto the task's.
    """
    model_ref = spec["model"]
    hidden_layers = list(spec["hidden_layers"])
    tokenizer = load_tokenizer(model_ref)
    model = load_classifier(model_ref)
    label_names = model_label_names(model, spec["label_map"])
    align_columns(np.zeros((0, len(label_names))), label_names, spec["labels"], f"teacher {spec['teacher']}",
                  hint=LABEL_MAP_HINT)
    check_hidden_layers(model.config, hidden_layers, f"teacher {spec['teacher']} ({model_ref})")
    manifest = read_manifest(data_dir)
    frames = []
    for split in SPLITS:
        rows = read_split(data_dir, split)
        logits, pooled = predict_outputs(model, tokenizer, rows["text"].tolist(), spec["max_length"], batch_size,
                                         split, hidden_layers)
        columns = {"split": split, "row_id": rows["row_id"], "logits": list(logits)}
        columns.update({hidden_column(layer): list(pooled[layer]) for layer in hidden_layers})
        frames.append(pd.DataFrame(columns))
    fingerprint = {
        "teacher": spec["teacher"],
        "teacher_key": spec["teacher_key"],
        "model": model_ref,
        "weights": weights_fingerprint(model_ref, model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": spec["max_length"],
        "label_names": label_names,
        "model_label_names": model_label_names(model),
        "hidden_layers": hidden_layers,
        "hidden_size": int(model.config.hidden_size),
        "splits": {split: {"rows": manifest["splits"][split]["rows"], "sha256": manifest["splits"][split]["sha256"]}
                   for split in SPLITS},
    }
    write_logits(out_path, pd.concat(frames, ignore_index=True), fingerprint)
    log.info("cached logits of %s for %s (pooled hidden layers %s)", spec["teacher"],
             {s: fingerprint["splits"][s]["rows"] for s in SPLITS}, hidden_layers)
