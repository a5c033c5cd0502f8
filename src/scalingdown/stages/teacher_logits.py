"""The `teacher_logits` stage: run a teacher once over every split and cache its logits."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.store import SPLITS, read_manifest, read_split
from scalingdown.logit_store import write_logits
from scalingdown.models import ModelRef, load_classifier, load_tokenizer, model_label_names
from scalingdown.predict import predict_logits
from scalingdown.provenance import provenance_record

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


def teacher_logits(spec: dict[str, Any], data_dir: str, out_path: str, batch_size: int = 64,
                   experiment: str | None = None) -> None:
    """Compute the teacher's logits on train, validation and test and write the fingerprinted cache."""
    model_ref = spec["model"]
    tokenizer = load_tokenizer(model_ref)
    model = load_classifier(model_ref)
    manifest = read_manifest(data_dir)
    frames = []
    for split in SPLITS:
        rows = read_split(data_dir, split)
        logits = predict_logits(model, tokenizer, rows["text"].tolist(), spec["max_length"], batch_size, split)
        frames.append(pd.DataFrame({"split": split, "row_id": rows["row_id"], "logits": list(logits)}))
    fingerprint = {
        "teacher": spec["teacher"],
        "teacher_key": spec["teacher_key"],
        "model": model_ref,
        "weights": weights_fingerprint(model_ref, model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": spec["max_length"],
        "label_names": model_label_names(model),
        "splits": {split: {"rows": manifest["splits"][split]["rows"], "sha256": manifest["splits"][split]["sha256"]}
                   for split in SPLITS},
    }
    write_logits(out_path, pd.concat(frames, ignore_index=True), fingerprint,
                 provenance_record("teacher_logits", experiment))
    log.info("cached logits of %s for %s", spec["teacher"], {s: fingerprint["splits"][s]["rows"] for s in SPLITS})
