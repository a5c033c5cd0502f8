"""Interleaved timing of several models in one process, and each model's peak memory in a child of its own.

Procedure (`time_models`): every model's inputs are encoded first (tokenizing is not timed). An input is a
text for a classifier, or whatever the model's `encode` takes (a question's row for a text-to-text model,
whose `call` then generates an answer or scores the question's options). Each model then gets `warmup`
untimed batch-1 calls and one untimed call at the throughput batch size. Then `rounds` rounds follow; in
round r every model runs the same inputs (`calls_per_round` inputs at batch 1, then one batch of `batch_size`
inputs), the models one after another in their given order rotated by r places, so that no model always runs
first or last, and a slow period of the machine hits every model alike.

Each batch-1 call is timed as wall time (`time.perf_counter`) and as the CPU time of this process
(`time.process_time`, which counts every thread, ONNX Runtime's own included). Per model: the median and
interquartile range of both, and throughput (batch size / median wall time of the batch). Per model against
the reference model: the speed-up of each round (the reference's summed batch-1 time over the model's, on
the same inputs), reported as its median over rounds with a 95 % distribution-free confidence interval
from order statistics (the binomial interval of `scipy.stats.quantile_test`; it needs at least 6 rounds).

The run is `noisy` when some model's wall-time speed-up varies from round to round by more than
`NOISY_ROUND_SPREAD` (the IQR/median of its per-round ratios: each round runs the same inputs through every
model, so input lengths cancel out and what is left is the machine; the IQR of single calls is not used, as
it mostly measures how input lengths differ), or when other
processes kept more than `NOISY_OTHER_CORES` of a core busy on average while the models were timed (the
machine's busy time from /proc/stat, hypervisor steal included, minus this process's own CPU time, over the
wall time of the rounds); where /proc/stat cannot be read, when the 1-minute load average before or after is
above the thread count instead. The load average lags by minutes (a workflow's previous job still shows in
it), so it is recorded but judges only where nothing better exists. When noisy, the headline speed-up is the
CPU-time one, else the wall-time one. The record states the rule. Threads are the caller's to set (torch's count is
process-wide; ONNX Runtime sessions take theirs when loaded); `settings.threads` is what the caller set.
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import stats

from scalingdown.pipeline.errors import UserError

RECORD_SCHEMA = "scalingdown.timing/1"
NOISY_ROUND_SPREAD = 0.20  # IQR/median of per-round wall-time speed-ups (quiet runs: 0.02–0.14; loaded: 0.16–0.78)
NOISY_OTHER_CORES = 0.5  # cores other processes may keep busy, on average, while the models are timed
_PROC_STAT = Path("/proc/stat")
CONFIDENCE = 0.95
MIN_ROUNDS = 6  # the fewest rounds whose order statistics give a 95 % interval for the median
MEMORY_METHOD = (
    "each model loaded and run (batch 1, then one batch at the throughput batch size) in a fresh spawned "
    "child process; after importing torch, transformers, onnxruntime and the loader's module the child resets "
    "its peak RSS (/proc/self/clear_refs) and reads it (baseline_rss_mb); model_peak_mb = its peak RSS (VmHWM) "
    "after the runs minus that baseline (Linux; None elsewhere)"
)
_STATUS = Path("/proc/self/status")


class TimingSettingsError(UserError, ValueError):
    """Timing settings that cannot give the figures asked for."""


class Timeable(Protocol):
    """What the timing loop runs: `encode` inputs once, then `call` on the encoded batch (see `runtime`)."""

    def encode(self, inputs: Sequence[Any]) -> Any:
        """Encode inputs once, before timing (not timed)."""

    def call(self, encoded: Any) -> Any:
        """Run the model on an encoded batch (what is timed)."""


@dataclass(frozen=True)
class TimingSettings:
    """How long and how to time: rounds, untimed warm-up calls, batch-1 calls per round, throughput batch."""

    rounds: int = 10
    warmup: int = 5
    calls_per_round: int = 20
    batch_size: int = 32
    threads: int = 1

    def check(self) -> None:
        """Refuse settings that give no figure or no 95 % interval, naming the setting."""
        if self.rounds < MIN_ROUNDS:
            raise TimingSettingsError(
                f"rounds={self.rounds}: at least {MIN_ROUNDS} rounds are needed for a 95 % interval of the speed-up"
            )
        for name in ("calls_per_round", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise TimingSettingsError(f"{name}={getattr(self, name)}: expected a positive number")
        if self.warmup < 0:
            raise TimingSettingsError(f"warmup={self.warmup}: expected 0 or more")


def time_models(
    models: Mapping[str, Timeable],
    inputs: Sequence[Any],
    reference: str,
    settings: TimingSettings,
    memory: Mapping[str, Mapping[str, float | None]] | None = None,
) -> dict[str, Any]:
    """Time `models` interleaved on `inputs` (texts, for classifiers; see the module docstring); the record.

    `reference` names the model speed-ups are relative to; `memory` (from `child_peak_memory`, per model
    name) is put in the record beside the timings.
    """
    settings.check()
    if reference not in models:
        raise TimingSettingsError(f"reference {reference!r} is not one of the timed models ({', '.join(models)})")
    if not inputs:
        raise TimingSettingsError("no inputs to time the models on")
    names = list(models)
    single, batches = _round_inputs(len(inputs), settings)
    encoded = {
        name: {
            "single": [model.encode([inputs[i]]) for i in range(len(inputs))],
            "batches": [model.encode([inputs[i] for i in batch]) for batch in batches],
        }
        for name, model in models.items()
    }
    load_before = os.getloadavg()
    for name in names:
        for index in range(settings.warmup):
            models[name].call(encoded[name]["single"][index % len(inputs)])
        models[name].call(encoded[name]["batches"][0])
    busy_start, own_start, wall_start = _busy_seconds(), time.process_time(), time.perf_counter()
    wall, cpu, batch_wall = _timed_rounds(models, encoded, single)
    other_cores = _other_cores(busy_start, own_start, wall_start)
    load_after = os.getloadavg()
    per_model = {
        name: {
            "latency_ms": {"wall": _spread(wall[name]), "cpu": _spread(cpu[name])},
            "calls": sum(len(part) for part in wall[name]),
            "throughput_per_s": settings.batch_size / statistics.median(batch_wall[name]),
            "speedup": {
                "wall": _speedup(wall[reference], wall[name]),
                "cpu": _speedup(cpu[reference], cpu[name]),
            },
            "round_totals_ms": {
                "wall": [1000 * sum(part) for part in wall[name]],
                "cpu": [1000 * sum(part) for part in cpu[name]],
            },
            "memory": dict(memory[name]) if memory and name in memory else None,
        }
        for name in names
    }
    noisy_because = _noise(per_model, reference, other_cores, load_before, load_after, settings.threads)
    return {
        "schema": RECORD_SCHEMA,
        "settings": asdict(settings),
        "inputs": len(inputs),
        "models_in_order": names,
        "order_rule": "round r runs the models in the given order rotated left by r places",
        "reference": reference,
        "models": per_model,
        "speedup_statistic": (
            "per round: the reference's summed batch-1 time over the model's on the same inputs; median over "
            f"rounds with a {CONFIDENCE:.0%} distribution-free interval from order statistics "
            "(binomial, scipy.stats.quantile_test)"
        ),
        "load_average": {"before": list(load_before), "after": list(load_after)},
        "other_cpu_cores": other_cores,
        "noisy": bool(noisy_because),
        "noisy_rule": (
            "noisy when some model's per-round wall-time speed-up against the reference has an IQR/median above "
            f"{NOISY_ROUND_SPREAD}, or other processes "
            f"kept more than {NOISY_OTHER_CORES} of a CPU core busy on average while the models were timed "
            "(/proc/stat busy time minus this process's CPU time; where /proc/stat cannot be read: the 1-minute "
            f"load average before or after timing above the thread count, {settings.threads})"
        ),
        "noisy_because": noisy_because,
        "headline_clock": "cpu" if noisy_because else "wall",
        "memory_method": MEMORY_METHOD if memory else None,
    }


def _timed_rounds(
    models: Mapping[str, Timeable], encoded: Mapping[str, Mapping[str, list[Any]]], single: list[list[int]]
) -> tuple[dict[str, list[list[float]]], dict[str, list[list[float]]], dict[str, list[float]]]:
    """Per model: wall and CPU seconds of each batch-1 call, by round; wall seconds of each round's batch."""
    names = list(models)
    wall: dict[str, list[list[float]]] = {name: [] for name in names}
    cpu: dict[str, list[list[float]]] = {name: [] for name in names}
    batch_wall: dict[str, list[float]] = {name: [] for name in names}
    for round_index, indices in enumerate(single):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            model, inputs = models[name], encoded[name]
            round_wall, round_cpu = [], []
            for index in indices:
                wall_start, cpu_start = time.perf_counter(), time.process_time()
                model.call(inputs["single"][index])
                round_cpu.append(time.process_time() - cpu_start)
                round_wall.append(time.perf_counter() - wall_start)
            wall[name].append(round_wall)
            cpu[name].append(round_cpu)
            start = time.perf_counter()
            model.call(inputs["batches"][round_index])
            batch_wall[name].append(time.perf_counter() - start)
    return wall, cpu, batch_wall


def headline_speedup(record: Mapping[str, Any], name: str) -> dict[str, float | None]:
    """The speed-up of model `name` a report states: on CPU time when the run was noisy, else on wall time."""
    speedup: dict[str, float | None] = record["models"][name]["speedup"][record["headline_clock"]]
    return speedup


def speedup_between(record: Mapping[str, Any], name: str, reference: str) -> dict[str, float | None]:
    """The speed-up of model `name` over any other timed model, on the record's headline clock, computed as the
    reference speed-ups are (per round, then the median with its 95 % interval)."""
    clock = record["headline_clock"]
    totals = {model: record["models"][model]["round_totals_ms"][clock] for model in (name, reference)}
    return _speedup([[total] for total in totals[reference]], [[total] for total in totals[name]])


def child_peak_memory(
    load: Callable[[], Timeable], inputs: Sequence[Any], batch_size: int, threads: int = 1
) -> dict[str, float | None]:
    """Peak memory of `load()`-ing a model and running it, in a fresh child process (MiB).

    `load` must pickle (a module-level function, or a `functools.partial` of one), e.g.
    `partial(runtime.load_runtime, directory, threads, max_length)`. See `MEMORY_METHOD`; returns
    `peak_rss_mb`, `baseline_rss_mb` and `model_peak_mb` (the difference).
    """
    return peak_memory_each({"model": load}, inputs, batch_size, threads)["model"]


def peak_memory_each(
    loads: Mapping[str, Callable[[], Timeable]],
    inputs: Sequence[Any],
    batch_size: int,
    threads: int = 1,
    parallel: int = 1,
) -> dict[str, dict[str, float | None]]:
    """`child_peak_memory` of each model, each in a fresh child of its own, `parallel` children at a time (a
    child's peak is its own, so children running side by side do not change each other's figures)."""
    with ProcessPoolExecutor(max_workers=parallel, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        futures = {
            name: pool.submit(_measure_in_child, load, list(inputs[:batch_size]), threads)
            for name, load in loads.items()
        }
        return {name: future.result() for name, future in futures.items()}


def _measure_in_child(load: Callable[[], Timeable], inputs: list[Any], threads: int) -> dict[str, float | None]:
    import onnxruntime  # noqa: F401  (the libraries count towards the baseline, not the model)
    import torch
    import transformers  # noqa: F401

    importlib.import_module(getattr(load, "func", load).__module__)
    if not _STATUS.is_file():
        return {"peak_rss_mb": None, "baseline_rss_mb": None, "model_peak_mb": None}
    torch.set_num_threads(threads)
    # The peak of a process started by fork + exec can carry its parent's; reset it (Linux ≥ 4.0).
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _peak_rss_mb()
    model = load()
    model.call(model.encode(inputs[:1]))
    model.call(model.encode(inputs))
    peak = _peak_rss_mb()
    return {"peak_rss_mb": peak, "baseline_rss_mb": baseline, "model_peak_mb": peak - baseline}


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM of /proc/self/status, MiB)."""
    for line in _STATUS.read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{_STATUS}: no VmHWM line")


def _round_inputs(count: int, settings: TimingSettings) -> tuple[list[list[int]], list[list[int]]]:
    """Input indices of each round: its batch-1 calls, and its throughput batch (cycling through the inputs)."""
    single = [
        [(round_index * settings.calls_per_round + offset) % count for offset in range(settings.calls_per_round)]
        for round_index in range(settings.rounds)
    ]
    batches = [
        [(round_index * settings.batch_size + offset) % count for offset in range(settings.batch_size)]
        for round_index in range(settings.rounds)
    ]
    return single, batches


def _spread(rounds: list[list[float]]) -> dict[str, float]:
    """Median, quartiles and IQR (ms) of all the calls, and IQR/median."""
    values = np.array([value for part in rounds for value in part]) * 1000
    first, median, third = np.percentile(values, [25, 50, 75])
    return {
        "median": float(median),
        "q1": float(first),
        "q3": float(third),
        "iqr": float(third - first),
        "iqr_over_median": float((third - first) / median) if median > 0 else float("inf"),
    }


def _speedup(reference: list[list[float]], model: list[list[float]]) -> dict[str, float | None]:
    """Median over rounds of the per-round speed-up, with its distribution-free 95 % interval."""
    ratios = np.array([sum(ref) / sum(own) if sum(own) > 0 else np.inf for ref, own in zip(reference, model)])
    interval = stats.quantile_test(ratios, q=float(np.median(ratios)), p=0.5).confidence_interval(CONFIDENCE)
    return {
        "median": float(np.median(ratios)),
        "low": float(interval.low),
        "high": float(interval.high),
        "rounds": len(ratios),
    }


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (every core; hypervisor steal counts as busy),
    from /proc/stat; None where it cannot be read (not Linux)."""
    try:
        fields = [int(value) for value in _PROC_STAT.read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields + [0] * (8 - len(fields))
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _other_cores(busy_start: float | None, own_start: float, wall_start: float) -> float | None:
    """Cores other processes kept busy on average since the three start readings (None without /proc/stat)."""
    busy_end, own_end, wall_end = _busy_seconds(), time.process_time(), time.perf_counter()
    if busy_start is None or busy_end is None or wall_end <= wall_start:
        return None
    others = (busy_end - busy_start) - (own_end - own_start)
    return max(0.0, others / (wall_end - wall_start))


def _round_spread(reference_totals: Sequence[float], totals: Sequence[float]) -> float:
    """IQR/median of the per-round ratios reference/model (their summed batch-1 times on the same inputs)."""
    first, median, third = np.percentile(np.asarray(reference_totals) / np.asarray(totals), [25, 50, 75])
    return float((third - first) / median) if median > 0 else float("inf")


def _noise(
    per_model: Mapping[str, Mapping[str, Any]],
    reference: str,
    other_cores: float | None,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    threads: int,
) -> list[str]:
    """What made the run noisy under the stated rule (empty when it was not)."""
    reference_totals = per_model[reference]["round_totals_ms"]["wall"]
    spreads = {
        name: _round_spread(reference_totals, entry["round_totals_ms"]["wall"])
        for name, entry in per_model.items()
        if name != reference
    }
    reasons = [
        f"{name}: per-round wall-time speed-up IQR/median {spread:.2f}"
        for name, spread in spreads.items()
        if spread > NOISY_ROUND_SPREAD
    ]
    if other_cores is not None:
        if other_cores > NOISY_OTHER_CORES:
            reasons.append(
                f"other processes kept {other_cores:.2f} CPU cores busy while the models were timed, "
                f"above {NOISY_OTHER_CORES}"
            )
        return reasons
    for when, load in (("before", load_before), ("after", load_after)):
        if load[0] > threads:
            reasons.append(f"1-minute load average {load[0]:.2f} {when} timing, above {threads} thread(s)")
    return reasons


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), for stating where models were timed."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"
