"""Which weights a model reference holds, as a teacher cache's fingerprint records them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from scalingdown.pipeline.names.model_refs import BERT2BERT, ModelRef


def weights_fingerprint(model_ref: str, model: Any) -> str:
    """sha256 of a local model's safetensors files, or the hub commit of a hub model."""
    parsed = ModelRef.parse(model_ref)
    if parsed.kind == BERT2BERT:  # built from that checkpoint, its new blocks drawn with a fixed seed
        return f"{BERT2BERT}:{weights_fingerprint(parsed.name, model)}"
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
