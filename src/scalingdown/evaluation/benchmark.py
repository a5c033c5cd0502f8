"""What the records say about the machine and the model files: the processor's name, the size of the weights.

The timing itself is `evaluation.timing` (every model of a task interleaved in one process, the `benchmark`
stage).
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), for stating where models were timed."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def size_on_disk_mb(directory: str | Path) -> float | None:
    """Total size of the weight files of a model directory (MiB); None for non-local models."""
    path = Path(directory)
    if not path.is_dir():
        return None
    return sum(f.stat().st_size for f in path.glob("*.safetensors")) / 2**20
