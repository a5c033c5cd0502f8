"""Speed and size measurements, identical for every model: latency at batch 1, throughput, memory, size."""

from __future__ import annotations

import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def timed_calls(call: Callable[[int], Any], count: int, warmup: int, runs: int) -> dict[str, float]:
    """Median and p90 wall time (ms) of `call(i)` over `runs` calls after `warmup` untimed ones.

    `i` cycles over `count`.
    """
    timings = []
    with torch.inference_mode():
        for index in range(warmup + runs):
            start = time.perf_counter()
            call(index % count)
            _synchronize()
            elapsed = time.perf_counter() - start
            if index >= warmup:
                timings.append(elapsed * 1000)
    timings.sort()
    return {
        "latency_ms_per_sample": statistics.median(timings),
        "latency_ms_p90": timings[min(len(timings) - 1, int(0.9 * len(timings)))],
        "latency_runs": len(timings),
    }


def items_per_second(call: Callable[[list[int]], Any], count: int, batch_size: int) -> float:
    """Items per second when `call` processes the indices 0..count-1 in batches of `batch_size`."""
    start = time.perf_counter()
    with torch.inference_mode():
        for offset in range(0, count, batch_size):
            call(list(range(offset, min(count, offset + batch_size))))
    _synchronize()
    return count / (time.perf_counter() - start)


def _synchronize() -> None:
    """Wait for queued GPU work, so that a timing covers it (no-op on CPU)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def latency_ms(
    model: torch.nn.Module, tokenizer: Any, texts: list[str], max_length: int, warmup: int, runs: int
) -> dict[str, float]:
    """Per-example latency at batch size 1 over `runs` texts after `warmup` untimed calls (ms), model call only."""
    model.eval()
    device = next(model.parameters()).device
    encoded = [
        tokenizer(texts[i], truncation=True, max_length=max_length, return_tensors="pt").to(device)
        for i in range(min(len(texts), warmup + runs))
    ]
    return timed_calls(lambda i: model(**encoded[i]), len(encoded), warmup, runs)


def throughput_per_s(
    model: torch.nn.Module, tokenizer: Any, texts: list[str], max_length: int, batch_size: int
) -> float:
    """Examples per second over `texts` in batches of `batch_size` (padding per batch, tokenizing included)."""
    model.eval()
    device = next(model.parameters()).device
    return items_per_second(
        lambda batch: model(
            **tokenizer(
                [texts[i] for i in batch], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            ).to(device)
        ),
        len(texts),
        batch_size,
    )


def device_description(device: torch.device) -> dict[str, str]:
    """`device` and `device_name` of a timing record: the GPU's name, or the processor's."""
    if device.type == "cuda":
        return {"device": "cuda", "device_name": torch.cuda.get_device_name(device)}
    return {"device": "cpu", "device_name": cpu_name()}


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
