"""The `benchmark` stage: every model of a task (teachers, students, the students' exports) timed interleaved in
one process on the CPU, with `benchmark.threads` threads (see `evaluation.timing` for the procedure and the
record), each model's peak memory measured in a child process of its own.

What a model is timed on is its family's (`families.interface.ModelFamily.timing_inputs`, `timeable`): a classifier
per text at batch 1 on the test split's texts; a text-to-text model per question (generation, or scoring every
option). Speed-ups are against the best teacher (the primary metric of the
teachers' evaluation records, as the report picks it); without teachers, against the first model.
"""

from __future__ import annotations

import json
import logging
import math
import os
from functools import partial
from pathlib import Path
from typing import Any

import torch

from scalingdown.data.store import read_split
from scalingdown.evaluation.generation_speed import generation_speed
from scalingdown.evaluation.timing import (
    MEMORY_METHOD,
    Timeable,
    TimingSettings,
    cpu_name,
    headline_speedup,
    peak_memory_each,
    time_models,
)
from scalingdown.families.registry import family_for
from scalingdown.models.loading import allow_remote_code
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import check_replaceable, record_of, write_record
from scalingdown.pipeline.specs.definitions import BenchmarkModel, BenchmarkSpec
from scalingdown.report.tables import primary_metric

log = logging.getLogger(__name__)

REFERENCE_RULE = "the teacher with the best primary score on the test split (the first model when there is none)"
TORCH_INT8_MEMORY = (
    "a PyTorch int8 model is built in float32 and quantized when it loads, so its peak memory includes the "
    "float32 weights"
)


def benchmark(spec: BenchmarkSpec, data: str, models: list[str], evals: list[str], out: str) -> dict[str, Any]:
    """Time the models of `spec` (their directories or references in `models`, in the spec's order) on the test
    split of `data`; `evals` are the teachers' evaluation records. Writes the record to `out` and returns it."""
    check_replaceable(out, "benchmark", record_of("benchmark"))
    if len(models) != len(spec.models):
        raise UserError(f"benchmark --models: {len(models)} given, the spec lists {len(spec.models)} models")
    settings = spec.settings
    torch.set_num_threads(settings.threads)
    timing = TimingSettings(
        rounds=settings.rounds,
        warmup=settings.warmup,
        calls_per_round=math.ceil(settings.runs / settings.rounds),
        batch_size=settings.batch_size,
        threads=settings.threads,
    )
    timing.check()
    test = read_split(data, "test")
    family = family_for(spec.type, spec.family)
    inputs = family.timing_inputs(test)
    loaders = {
        entry.id: partial(
            load_timeable, spec.type, entry.to_dict(), location, data, settings.threads, timing.batch_size, spec.family
        )
        for entry, location in zip(spec.models, models)
    }
    timeables = {model_id: load() for model_id, load in loaders.items()}
    reference, reference_is_teacher = _reference(spec, evals)
    log.info(
        "timing %d models of %s interleaved, %d rounds, reference %s",
        len(timeables),
        spec.task,
        timing.rounds,
        reference,
    )
    record = time_models(timeables, inputs, reference, timing)
    for model_id, speed in generation_speed(timeables, inputs, timing.rounds, timing.batch_size).items():
        record["models"][model_id]["generation"] = speed
    if settings.memory:
        parallel = max(1, (os.cpu_count() or 1) // settings.threads)
        peaks = peak_memory_each(loaders, inputs, timing.batch_size, timing.threads, parallel)
        for model_id, peak in peaks.items():
            record["models"][model_id]["memory"] = peak
        record["memory_method"] = MEMORY_METHOD
        if any(entry.variant == "torch-int8" for entry in spec.models):
            record["memory_note"] = TORCH_INT8_MEMORY
    for entry, location in zip(spec.models, models):
        record["models"][entry.id].update(kind=entry.kind, name=entry.name, variant=entry.variant, location=location)
    record.update(
        task=spec.task,
        type=spec.type,
        unit=family.info.benchmark_unit,
        device="cpu",
        device_name=cpu_name(),
        reference_rule=REFERENCE_RULE,
        reference_is_teacher=reference_is_teacher,
    )
    record = write_record(out, record, "benchmark")
    for model_id in timeables:
        speedup = headline_speedup(record, model_id)
        log.info("%s: %.2f× (%s time)", model_id, speedup["median"], record["headline_clock"])
    return record


def load_timeable(
    task_type: str,
    model: dict[str, Any],
    location: str,
    data: str,
    threads: int,
    batch_size: int,
    family: str | None = None,
) -> Timeable:
    """One model as the timing loop runs it (module level, so that a memory-measuring child can call it); `family`
    is the spec's."""
    entry = BenchmarkModel.from_dict(model)
    allow_remote_code(entry.trust_remote_code)
    return family_for(task_type, family).timeable(entry, task_type, location, data, threads, batch_size)


def _reference(spec: BenchmarkSpec, evals: list[str]) -> tuple[str, bool]:
    """The id of the best teacher by the task's primary metric (the first of equals), and True; without a
    scored teacher, the first model's id and False."""
    metric = primary_metric(spec.type)
    best_name, best_score = None, -math.inf
    for path in evals:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        score = record["metrics"].get(metric)
        if record["kind"] == "teacher" and score is not None and score > best_score:
            best_name, best_score = record["name"], score
    if best_name is None:
        return spec.models[0].id, False
    return f"teacher.{best_name}", True
