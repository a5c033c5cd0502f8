"""The size of a model's weights on disk, as the evaluation records state it."""

from __future__ import annotations

from pathlib import Path

from scalingdown.pipeline.names.model_refs import ModelRef


def size_on_disk_mb(directory: str | Path) -> float | None:
    """Total size of the weight files of a model directory (MiB); None for non-local models."""
    path = Path(directory)
    if not path.is_dir():
        return None
    return sum(f.stat().st_size for f in path.glob("*.safetensors")) / 2**20


def local_size_mb(model_ref: str) -> float | None:
    """Weights on disk of a local model directory (MiB); None for a Hub, package or tiny reference."""
    return size_on_disk_mb(model_ref) if ModelRef.parse(model_ref).kind == "path" else None
