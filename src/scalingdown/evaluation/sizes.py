"""The size of a model's weights on disk, as the evaluation records state it."""

from __future__ import annotations

from pathlib import Path


def size_on_disk_mb(directory: str | Path) -> float | None:
    """Total size of the weight files of a model directory (MiB); None for non-local models."""
    path = Path(directory)
    if not path.is_dir():
        return None
    return sum(f.stat().st_size for f in path.glob("*.safetensors")) / 2**20
