"""Interleaved timing: warm-up, rotated order, the same inputs per round, the record's schema, memory per child."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jsonschema
import numpy as np
import pytest

from scalingdown.evaluation import timing
from scalingdown.evaluation.runtime import load_runtime
from scalingdown.evaluation.timing import (
    TimingSettings,
    TimingSettingsError,
    child_peak_memory,
    headline_speedup,
    speedup_between,
    time_models,
)
from tests.evaluation.conftest import save_student

TEXTS = [f"text number {index}" for index in range(11)]


class FakeModel:
    """Records every call (model name, texts of the batch) in a log shared by all fakes."""

    def __init__(self, name: str, log: list[tuple[str, tuple[str, ...]]]) -> None:
        self.name = name
        self.log = log

    def encode(self, texts: Sequence[str]) -> tuple[str, ...]:
        return tuple(texts)

    def call(self, encoded: tuple[str, ...]) -> None:
        self.log.append((self.name, encoded))


def run_fakes(settings: TimingSettings, names: Sequence[str] = ("a", "b", "c")) -> tuple[dict, list]:
    log: list[tuple[str, tuple[str, ...]]] = []
    record = time_models({name: FakeModel(name, log) for name in names}, TEXTS, "a", settings)
    return record, log


def test_warmup_then_rounds_in_rotated_order_on_the_same_inputs():
    settings = TimingSettings(rounds=7, warmup=2, calls_per_round=3, batch_size=4)
    record, log = run_fakes(settings)
    per_model = settings.warmup + 1 + settings.rounds * (settings.calls_per_round + 1)
    assert len(log) == 3 * per_model
    warmup = log[: 3 * (settings.warmup + 1)]
    assert [name for name, _ in warmup] == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert [len(batch) for _, batch in warmup] == [1, 1, 4] * 3
    block = settings.calls_per_round + 1
    rounds = log[len(warmup) :]
    for round_index in range(settings.rounds):
        calls = rounds[round_index * 3 * block : (round_index + 1) * 3 * block]
        order = [calls[position * block][0] for position in range(3)]
        assert order == (["a", "b", "c"] * 2)[round_index % 3 : round_index % 3 + 3], f"round {round_index}"
        blocks = [calls[position * block : (position + 1) * block] for position in range(3)]
        assert all(len({name for name, _ in part}) == 1 for part in blocks), "one model's calls are contiguous"
        inputs = [[batch for _, batch in part] for part in blocks]
        assert inputs[0] == inputs[1] == inputs[2], "every model runs the same inputs in a round"
        assert [len(batch) for batch in inputs[0]] == [1] * settings.calls_per_round + [settings.batch_size]
    first_round_texts = [batch[0] for _, batch in rounds[: settings.calls_per_round]]
    second_round_texts = [batch[0] for _, batch in rounds[3 * block : 3 * block + settings.calls_per_round]]
    assert first_round_texts != second_round_texts, "rounds move on through the texts"
    assert record["models_in_order"] == ["a", "b", "c"]
    assert record["models"]["b"]["calls"] == settings.rounds * settings.calls_per_round


SPREAD = {
    "type": "object",
    "required": ["median", "q1", "q3", "iqr", "iqr_over_median"],
    "properties": {key: {"type": "number"} for key in ("median", "q1", "q3", "iqr", "iqr_over_median")},
}
SPEEDUP = {
    "type": "object",
    "required": ["median", "low", "high", "rounds"],
    "properties": {"median": {"type": "number"}, "low": {"type": "number"}, "high": {"type": "number"}},
}
RECORD = {
    "type": "object",
    "required": [
        "schema",
        "settings",
        "inputs",
        "models_in_order",
        "order_rule",
        "reference",
        "models",
        "speedup_statistic",
        "load_average",
        "other_cpu_cores",
        "noisy",
        "noisy_rule",
        "noisy_because",
        "headline_clock",
        "memory_method",
    ],
    "properties": {
        "schema": {"const": "scalingdown.timing/1"},
        "settings": {
            "type": "object",
            "required": ["rounds", "warmup", "calls_per_round", "batch_size", "threads"],
        },
        "load_average": {
            "type": "object",
            "required": ["before", "after"],
            "properties": {
                "before": {"type": "array", "minItems": 3, "maxItems": 3},
                "after": {"type": "array", "minItems": 3, "maxItems": 3},
            },
        },
        "other_cpu_cores": {"type": ["number", "null"], "minimum": 0},
        "noisy": {"type": "boolean"},
        "noisy_rule": {"type": "string", "pattern": "per-round wall-time speed-up.*above 0.2.*other processes.*load"},
        "noisy_because": {"type": "array", "items": {"type": "string"}},
        "headline_clock": {"enum": ["wall", "cpu"]},
        "models": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["latency_ms", "calls", "throughput_per_s", "speedup", "memory"],
                "properties": {
                    "latency_ms": {"type": "object", "required": ["wall", "cpu"], "additionalProperties": SPREAD},
                    "throughput_per_s": {"type": "number", "exclusiveMinimum": 0},
                    "speedup": {"type": "object", "required": ["wall", "cpu"], "additionalProperties": SPEEDUP},
                },
            },
        },
    },
}


def test_the_record_follows_its_schema_and_states_the_noise_rule(monkeypatch):
    """Without /proc/stat, the load average judges the noise."""
    monkeypatch.setattr(timing, "_busy_seconds", lambda: None)
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (9.0, 1.0, 1.0))
    record, _ = run_fakes(TimingSettings(rounds=6, warmup=1, calls_per_round=2, batch_size=3, threads=2))
    jsonschema.validate(record, RECORD)
    assert record["noisy"] and record["headline_clock"] == "cpu"
    assert "1-minute load average 9.00 before timing, above 2 thread(s)" in record["noisy_because"]
    assert headline_speedup(record, "b") == record["models"]["b"]["speedup"]["cpu"]
    assert speedup_between(record, "b", "a") == headline_speedup(record, "b"), "the same statistic for any pair"
    assert len(record["models"]["c"]["round_totals_ms"]["wall"]) == 6
    reference = record["models"]["a"]["speedup"]["wall"]
    assert reference["median"] == reference["low"] == reference["high"] == 1.0, "the reference against itself"


def test_a_quiet_run_with_steady_latencies_headlines_wall_time():
    # Round totals that differ by input (rounds 1 and 2 are long) but keep the ratio: steady.
    reference = {"round_totals_ms": {"wall": [10.0, 30.0, 30.0, 10.0, 10.0, 10.0]}}
    steady = {"ref": reference, "m": {"round_totals_ms": {"wall": [5.0, 15.0, 15.0, 5.0, 5.0, 5.0]}}}
    swinging = {"ref": reference, "m": {"round_totals_ms": {"wall": [5.0, 30.0, 7.5, 2.5, 5.0, 10.0]}}}
    assert timing._noise(steady, "ref", 0.2, (3.0, 0, 0), (3.0, 0, 0), 1) == [], "the load average is not consulted"
    assert timing._noise(steady, "ref", None, (0.5, 0, 0), (0.9, 0, 0), 1) == []
    assert timing._noise(swinging, "ref", None, (0.5, 0, 0), (0.5, 0, 0), 1) == [
        "m: per-round wall-time speed-up IQR/median 1.12"
    ]


def test_settings_that_give_no_interval_or_no_reference_are_refused():
    with pytest.raises(TimingSettingsError, match="rounds=5: at least 6 rounds"):
        run_fakes(TimingSettings(rounds=5))
    with pytest.raises(TimingSettingsError, match="reference 'a' is not one of the timed models"):
        run_fakes(TimingSettings(), names=("b", "c"))


def test_peak_memory_is_measured_in_a_fresh_child_from_its_own_baseline(tmp_path):
    student = save_student(tmp_path / "student")
    parent_ballast = np.ones(80_000_000)  # 610 MiB held here must not show in the child's figures
    memory = child_peak_memory(partial(load_runtime, student), TEXTS, batch_size=4)
    assert parent_ballast[-1] == 1.0
    assert memory["peak_rss_mb"] > memory["baseline_rss_mb"] > 0
    assert 0 < memory["model_peak_mb"] < 300, "loading a tiny model raises the child's peak by a few MiB"
    assert memory["model_peak_mb"] == pytest.approx(memory["peak_rss_mb"] - memory["baseline_rss_mb"])
    log: list = []
    record = time_models({"a": FakeModel("a", log)}, TEXTS, "a", TimingSettings(rounds=6), memory={"a": memory})
    assert record["models"]["a"]["memory"] == memory and "fresh spawned child" in record["memory_method"]


def test_other_processes_busy_while_timing_make_the_run_noisy_and_a_lagging_load_average_does_not(monkeypatch):
    settings = TimingSettings(rounds=6, warmup=1, calls_per_round=2, batch_size=3, threads=1)
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # a previous job's load, still decaying
    readings = iter([100.0, 100.0])  # nothing but this process ran
    monkeypatch.setattr(timing, "_busy_seconds", lambda: next(readings))
    record, _ = run_fakes(settings)
    assert record["other_cpu_cores"] == 0.0
    assert not any("load average" in reason or "other processes" in reason for reason in record["noisy_because"])
    readings = iter([100.0, 100.0 + 1e6])  # others kept every core busy meanwhile
    record, _ = run_fakes(settings)
    assert record["other_cpu_cores"] > timing.NOISY_OTHER_CORES and record["noisy"]
    assert any(reason.startswith("other processes kept") for reason in record["noisy_because"])
