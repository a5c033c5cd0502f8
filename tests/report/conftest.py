"""Hand-made evaluation and benchmark records with the fields the report reads, as the `evaluate` and `benchmark`
stages write them (task `t` unless told), for the report's tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def eval_record(
    seed: int, kind: str, name: str, metrics: dict[str, Any], variant: str = "fp32", **fields: Any
) -> dict[str, Any]:
    """One model's evaluation record at `seed`; `fields` add to it or replace its defaults (`task`, `params`, …)."""
    record = {"task": "t", "seed": seed, "kind": kind, "name": name, "variant": variant, "role": kind}
    return {**record, "metrics": metrics, "params": 100, **fields}


def benchmark_record(
    seed: int,
    latencies: dict[str, float],
    reference: str,
    noisy_because: Sequence[str] = (),
    cpu_factor: float = 1.0,
    threads: int = 1,
) -> dict[str, Any]:
    """Task `t`'s benchmark record at `seed`: each model's latency (ms, by benchmark id such as `student.kd` or
    `export.kd.onnx-int8`; CPU time `cpu_factor` times the wall time) and its speed-up against `reference`; noisy
    when `noisy_because` gives reasons."""
    models = {}
    for model_id, latency in latencies.items():
        ratio = latencies[reference] / latency
        spread = {"median": latency, "iqr": 0.1 * latency}
        models[model_id] = {
            "latency_ms": {"wall": spread, "cpu": {**spread, "median": cpu_factor * latency}},
            "throughput_per_s": 1000 / latency,
            "speedup": {clock: {"median": ratio, "low": ratio, "high": ratio} for clock in ("wall", "cpu")},
        }
    return {
        "task": "t",
        "seed": seed,
        "models": models,
        "headline_clock": "cpu" if noisy_because else "wall",
        "noisy": bool(noisy_because),
        "noisy_because": list(noisy_because),
        "noisy_rule": "the rule",
        "reference_is_teacher": reference.startswith("teacher."),
        "device": "cpu",
        "device_name": "Test CPU",
        "unit": "text",
        "settings": {"threads": threads, "rounds": 6, "warmup": 1, "calls_per_round": 4, "batch_size": 8},
    }
