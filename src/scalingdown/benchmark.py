"""Speed and size measurements, identical for every model: latency at batch 1, throughput, memory, size."""

from __future__ import annotations

import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import torch


@torch.inference_mode()
def latency_ms(model: torch.nn.Module, tokenizer: Any, texts: list[str], max_length: int,
               warmup: int, runs: int) -> dict[str, float]:
    """Per-example latency at batch size 1 over `runs` texts after `warmup` untimed calls (ms)."""
    model.eval()
    samples = [texts[i % len(texts)] for i in range(warmup + runs)]
    timings = []
    for index, text in enumerate(samples):
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
        start = time.perf_counter()
        model(**encoded)
        elapsed = time.perf_counter() - start
        if index >= warmup:
            timings.append(elapsed * 1000)
    timings.sort()
    return {
        "latency_ms_per_sample": statistics.median(timings),
        "latency_ms_p90": timings[min(len(timings) - 1, int(0.9 * len(timings)))],
        "latency_runs": len(timings),
    }


@torch.inference_mode()
def throughput_per_s(model: torch.nn.Module, tokenizer: Any, texts: list[str], max_length: int,
                     batch_size: int) -> float:
    """Examples per second over `texts` in batches of `batch_size` (padding per batch, tokenizing included)."""
    model.eval()
    start = time.perf_counter()
    for offset in range(0, len(texts), batch_size):
        batch = texts[offset : offset + batch_size]
        model(**tokenizer(batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt"))
    return len(texts) / (time.perf_counter() - start)


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), for stating where models were timed."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def size_on_disk_mb(directory: str | Path) -> float | None:
    """Total size of the weight files of a model directory (MiB); None for non-local models."""
    path = Path(directory)
    if not path.is_dir():
        return None
    return sum(f.stat().st_size for f in path.glob("*.safetensors")) / 2**20
