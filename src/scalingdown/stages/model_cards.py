"""The `model_cards` stage: a Hugging Face model card (`README.md`, `evaluation.model_card`) in every trained
student's and export's directory of one task folder, once its models are scored and timed.

A card states what the model is and how it was made (teachers, data, loss), its test scores, its score against the
best teacher and its gold-only twin (same seed), and its speed and size from the task's benchmark. The card is
written into the model's directory after the stage that made it (Snakemake reads a directory output's time from its
`.snakemake_timestamp`, so the card reruns nothing); this stage's own output is a record of the cards it wrote. The
`ship` stage writes the card of `shipped/` with the same facts (`card_facts`), over the seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.evaluation.model_card import CardFacts, CardMetric, hub_id, write_card
from scalingdown.families.registry import family_for
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.export_variants import ORIGINAL, TITLES
from scalingdown.pipeline.outputs.atomic import check_replaceable, record_of, write_record
from scalingdown.pipeline.specs.definitions import CardStudent, CardTask, ModelCardsSpec, RecordInput
from scalingdown.report.seed_statistics import summarise
from scalingdown.report.tables import METRIC_TITLES, best_teacher, metrics_table

STAGE = "model_cards"
_CARD_METRICS = ("accuracy", "f1_macro", "f1_weighted")


def records_table(
    task: CardTask, inputs: list[RecordInput], evals: list[str], benchmarks: dict[int, str]
) -> pd.DataFrame:
    """The metrics table (one row per model and seed) of the records `evals` described by `inputs`, with the timings
    of each seed's benchmark record, every row's task the card task's (`task.task`)."""
    if len(inputs) != len(evals):
        raise UserError(f"{len(evals)} evaluation records given, the spec describes {len(inputs)}")
    records = [
        {**json.loads(Path(path).read_text(encoding="utf-8")), "task": task.task, "seed": entry.seed}
        for entry, path in zip(inputs, evals)
    ]
    timings = [
        {**json.loads(Path(path).read_text(encoding="utf-8")), "task": task.task, "seed": seed}
        for seed, path in benchmarks.items()
    ]
    return metrics_table(task.experiment, records, {task.task: task.type}, timings)


def _value(row: pd.Series, key: str) -> float | None:
    value = row.get(key)
    return None if value is None or pd.isna(value) else float(value)


def card_facts(
    task: CardTask, student: CardStudent, row: pd.Series, summary: pd.DataFrame, note: str = ""
) -> CardFacts:
    """The card of one model (a summarised row: one seed or the mean over several) of `summary`'s task."""
    variant = str(row.get("variant", ORIGINAL))
    metric = str(row["primary_metric"])
    teacher_name = best_teacher(summary)
    teacher = summary[(summary["kind"] == "teacher") & (summary["model"] == teacher_name)]
    twin = summary[
        (summary["kind"] == "student") & (summary["model"] == student.twin) & (summary["variant"] == ORIGINAL)
    ]
    comparisons = []
    if len(teacher):
        theirs = float(teacher[metric].iloc[0])
        comparisons.append(
            (
                f"best teacher `{teacher_name}`",
                f"{theirs:.4f}: {(row[metric] - theirs) * 100:+.2f} points ({row['retention_pct']:.1f} % kept)",
            )
        )
    if student.twin and len(twin):
        theirs = float(twin[metric].iloc[0])
        comparisons.append(
            (f"gold-only twin `{student.twin}`", f"{theirs:.4f}: {(row[metric] - theirs) * 100:+.2f} points")
        )
    seeds = int(row.get("n", 1) or 1)
    over = f" (mean ± sd over {seeds} seeds)" if seeds > 1 else ""
    speed = []
    latency = _value(row, "latency_ms_per_sample")
    if latency is not None:
        clock = "CPU" if row.get("latency_clock") == "cpu" else "wall"
        speed.append(
            (
                f"latency at batch size 1, {int(row.get('threads') or 1)} thread(s)",
                f"{latency:.2f} ms ({clock} time){over}",
            )
        )
    if _value(row, "speedup") is not None:
        speed.append((f"speed-up against `{teacher_name}`", f"{row['speedup']:.2f}×"))
    if _value(row, "throughput_per_s") is not None:
        speed.append(("throughput", f"{row['throughput_per_s']:,.0f} texts/s"))
    if _value(row, "size_mb") is not None:
        speed.append(("size on disk", f"{row['size_mb']:.1f} MiB"))
    speed.append(("parameters", f"{int(row['params']):,}"))
    teachers = ", ".join(f"`{name}` ({model})" for name, model in student.teachers.items()) or "none (gold labels only)"
    loss = ", ".join(f"{key} {value}" for key, value in student.loss.items())
    layers = "" if student.layers is None else f", layers {student.layers} of it kept"
    title = student.name if variant == ORIGINAL else f"{student.name} · {TITLES.get(variant, variant)}"
    export = "" if variant == ORIGINAL else f" Exported as {TITLES.get(variant, variant)} for ONNX Runtime or PyTorch."
    return CardFacts(
        title=title,
        summary=(
            f"A {task.type} model of the ScalingDown experiment `{task.experiment}`, task `{task.task}`: "
            f"{student.role}.{export}{(' ' + note) if note else ''}"
        ),
        pipeline_tag=family_for(task.type).pipeline_tag,
        base_model=hub_id(student.model),
        library="onnx" if variant.startswith("onnx") else "transformers",
        tags=[
            task.type,
            *(["onnx"] if variant.startswith("onnx") else []),
            *([variant] if variant != ORIGINAL else []),
        ],
        datasets=task.datasets,
        dataset=task.dataset,
        metrics=[
            CardMetric(name, METRIC_TITLES.get(name, name), float(row[name]), _value(row, f"{name}_sd"))
            for name in dict.fromkeys([metric, *_CARD_METRICS])
            if name in row and pd.notna(row[name])
        ],
        distillation=[
            ("starts from", f"{student.model}{layers}"),
            ("teachers", teachers),
            ("data", task.dataset + (f"; labels {task.labels}" if task.labels else "")),
            ("loss", loss),
            ("training", f"{student.epochs:g} epochs, inputs of up to {student.max_length} tokens"),
        ],
        comparisons=comparisons,
        speed=speed,
        usage=family_for(task.type).card_usage(variant),
    )


def model_cards(spec: ModelCardsSpec, evals: list[str], benchmark: str, models: list[str], out: str) -> dict[str, Any]:
    """Write a card into each directory of `models` (the spec's `carded`, in order); the record of them to `out`."""
    check_replaceable(out, STAGE, record_of(STAGE))
    if len(models) != len(spec.carded):
        raise UserError(f"model_cards --models: {len(models)} given, the spec lists {len(spec.carded)}")
    seed = spec.carded[0].seed if spec.carded else 0
    summary = summarise(records_table(spec.task, spec.evals, evals, {seed: benchmark}))
    students = {student.name: student for student in spec.students}
    written = []
    for entry, directory in zip(spec.carded, models):
        row = summary[(summary["model"] == entry.name) & (summary["variant"] == entry.variant)].iloc[0]
        path = write_card(directory, card_facts(spec.task, students[entry.name], row, summary, f"Seed {entry.seed}."))
        written.append({"model": entry.name, "variant": entry.variant, "card": str(path)})
    return write_record(out, {"task": spec.task.task, "cards": written}, STAGE)
