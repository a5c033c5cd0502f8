"""Benchmark 19: which student to ship — a sweep of student shapes, fused ONNX graphs, static against dynamic int8.

Runs (or resumes) a shape-sweep experiment (config/experiments/phrasebank-shapes.yaml: 1, 2 and 3 teacher layers,
inputs of 32 or 64 tokens, three seeds, each distilled shape exported as ONNX dynamic and static int8) and measures:

- from the workflow's own records (the benchmark stage times every model of a seed interleaved, batch 1, one
  thread): each model's accuracy (mean ± sd over seeds) against the float32 teacher, its CPU-time speed-up over that
  teacher (the benchmark's per-round ratio, mean of the seeds' medians) and its size; the target is the most
  accurate model within 1.5 points of the teacher at ≥ 20× its speed;
- for the picked model's student (the first seed): its graph fused by ONNX Runtime's transformer optimizer (the
  workflow's onnx-fp32) against the same graph unfused (exported here), and static against dynamic int8, timed
  interleaved in one process on CPU time (`evaluation.timing.time_models`), with each one's accuracy and agreement
  with the float32 student from the workflow's evaluation records.

    python bench/ship_sweep.py --config config/experiments/phrasebank-shapes.yaml     # about 2 h on 2 quiet cores
    python bench/ship_sweep.py --config tests/configs/tiny-ship.yaml --no-docs        # a smoke test, minutes
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import harness
import pandas as pd
import torch

from scalingdown.evaluation.exporters import export_onnx
from scalingdown.evaluation.runtime import load_runtime
from scalingdown.evaluation.timing import TimingSettings, speedup_between, time_models
from scalingdown.pipeline import paths
from scalingdown.pipeline.names.export_variants import ORIGINAL, TITLES
from scalingdown.report.seed_statistics import summarise
from scalingdown.report.tables import benchmark_id, best_teacher

SECTION = "ship-sweep"
POINTS = 1.5  # at most this many accuracy points below the float32 teacher
SPEEDUP = 20.0  # at least this many times the float32 teacher's speed at batch 1 (CPU time)


def main() -> None:
    """Run the sweep, measure the targets and the variants, write the docs section."""
    parser = harness.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200, help="timed batch-1 calls per variant, over the rounds")
    args = parser.parse_args()
    results, info = harness.measure_configs(args, measure, "ship-sweep-")
    harness.publish(args, {SECTION: section(results, info)})


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Run the experiment, then read its records and time the variants of the picked model's student."""
    print(f"running {config_path} (resumes what exists) …", flush=True)
    harness.snakemake(args.workdir, "--configfile", str(config_path), "--cores", str(args.cores))
    _, plan = harness.load_plan(config_path, args.workdir)
    table = sweep_table(plan)
    summary = summarise(table)  # every measured column, the CPU-time speed-up too, as its mean over the seeds
    teacher = best_teacher(summary)
    reference = summary[(summary["kind"] == "teacher") & (summary["model"] == teacher)].iloc[0]
    summary["points"] = 100 * (summary["accuracy"] - reference["accuracy"])
    rows = summary[summary["kind"] == "student"].sort_values("accuracy", ascending=False)
    picked = rows[(rows["points"] >= -POINTS) & (rows["speedup_cpu"] >= SPEEDUP)]
    target = picked.iloc[0] if len(picked) else None
    fastest_close = rows[rows["points"] >= -POINTS].sort_values("speedup_cpu", ascending=False)
    variants = time_variants(
        plan, str((target if target is not None else fastest_close.iloc[0])["model"]), args, scratch
    )
    shipped = (
        json.loads((Path(plan.shipped_dirs()[0]) / paths.SHIP_RECORD).read_text()) if plan.shipped_dirs() else None
    )
    return {
        "experiment": plan.experiment,
        "seeds": list(plan.seeds),
        "teacher": {"name": teacher, "accuracy": float(reference["accuracy"]), "size_mb": float(reference["size_mb"])},
        "models": [_row(row) for _, row in rows.iterrows()],
        "target": None if target is None else _row(target),
        "closest": _row(fastest_close.iloc[0]) if len(fastest_close) else None,
        "variants": variants,
        "shipped": shipped,
    }


def sweep_table(plan: harness.Plan) -> pd.DataFrame:
    """One row per model and seed: the report's metrics table plus each model's CPU-time speed-up over the teacher
    from its seed's benchmark record (`speedup_cpu`)."""
    metrics = pd.read_csv(paths.report_file(plan.root, "metrics"))
    speedups = []
    for _, row in metrics.iterrows():
        task = next(task for task in plan.tasks.values() if task.cell == row["task"] and task.seed == row["seed"])
        record = json.loads(Path(paths.benchmark_file(plan.root, task.folder)).read_text(encoding="utf-8"))
        timed = record["models"].get(
            benchmark_id({"kind": row["kind"], "name": row["model"], "variant": row["variant"]})
        )
        speedups.append(None if timed is None else timed["speedup"]["cpu"]["median"])
    return metrics.assign(speedup_cpu=speedups)


def _row(row: pd.Series) -> dict[str, Any]:
    def number(key: str) -> float | None:
        value = row.get(key)
        return None if value is None or pd.isna(value) else float(value)

    return {
        "model": str(row["model"]),
        "variant": str(row["variant"]),
        "accuracy": number("accuracy"),
        "accuracy_sd": number("accuracy_sd"),
        "points": number("points"),
        "speedup_cpu": number("speedup_cpu"),
        "size_mb": number("size_mb"),
        "latency_ms": number("latency_ms_per_sample"),
        "agreement_pct": number("agreement_pct"),
        "max_prob_diff": number("max_prob_diff"),
    }


def time_variants(plan: harness.Plan, student: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """The student's float32 graph unfused (exported here) and fused (the workflow's), and its dynamic and static
    int8 exports, timed interleaved on CPU time at batch 1, one thread, on the first seed's test texts."""
    task = next(iter(plan.tasks.values()))
    member = task.students[student]
    directories = {"onnx-fp32 unfused": scratch / "unfused"}
    export_onnx(member.model_dir, directories["onnx-fp32 unfused"], optimize=False)
    directories.update(
        {variant: Path(member.export_dir(variant)) for variant in member.built_exports if variant.startswith("onnx")}
    )
    torch.set_num_threads(1)
    max_length = int(member.spec["max_length"])
    runtimes = {name: load_runtime(path, 1, max_length) for name, path in directories.items()}
    texts = pd.read_parquet(Path(task.data_dir) / "test.parquet")["text"].tolist()
    settings = TimingSettings(rounds=args.rounds, calls_per_round=-(-args.runs // args.rounds), batch_size=32)
    record = time_models(runtimes, texts, "onnx-fp32 unfused", settings)
    evaluations = {
        variant: json.loads(Path(paths.export_eval_file(plan.root, task.folder, student, variant)).read_text())
        for variant in member.exports
    }
    clock = "cpu"
    latency = {name: record["models"][name]["latency_ms"][clock]["median"] for name in runtimes}
    found = {
        "student": student,
        "seed": task.seed,
        "load_average": record["load_average"],
        "noisy_because": record["noisy_because"],
        "latency_ms_cpu": latency,
        "fused_vs_unfused": _cpu_ratio(record, "onnx-fp32", "onnx-fp32 unfused"),
        "quality": {
            variant: {
                "accuracy": evaluation["metrics"]["accuracy"],
                "agreement_pct": 100 * evaluation["agreement"]["labels_equal"],
                "max_prob_diff": evaluation["agreement"]["max_prob_diff"],
                "size_mb": evaluation["size_mb"],
            }
            for variant, evaluation in evaluations.items()
        },
    }
    if {"onnx-int8", "onnx-int8-static"} <= set(runtimes):
        found["static_vs_dynamic"] = _cpu_ratio(record, "onnx-int8-static", "onnx-int8")
    return found


def _cpu_ratio(record: dict[str, Any], model: str, reference: str) -> dict[str, Any]:
    """How many times faster `model` runs than `reference` on CPU time, per round (median and 95 % interval)."""
    cpu = {**record, "headline_clock": "cpu"}
    return speedup_between(cpu, model, reference)


def section(results: list[dict[str, Any]], info: dict[str, str]) -> str:
    """The sweep's part of docs section 19: its models, the target, the fused graph and the two int8 variants."""
    parts = ["### The shape sweep", "", harness.machine_block(info)]
    for record in results:
        parts += ["", f"### {record['experiment']} (seeds {', '.join(map(str, record['seeds']))})", ""]
        teacher = record["teacher"]
        rows = [
            [
                row["model"]
                if row["variant"] == ORIGINAL
                else f"{row['model']} · {TITLES.get(row['variant'], row['variant'])}",
                f"{row['accuracy']:.4f} ± {row['accuracy_sd'] or 0:.4f}",
                f"{row['points']:+.2f}",
                "–" if row["speedup_cpu"] is None else f"{row['speedup_cpu']:.1f}×",
                f"{row['size_mb']:.1f}",
            ]
            for row in record["models"]
        ]
        parts += [
            f"Float32 teacher `{teacher['name']}`: accuracy {teacher['accuracy']:.4f}, {teacher['size_mb']:.1f} MiB. "
            "Speed-up: the benchmark stage's CPU-time ratio against that teacher at batch 1, one thread, interleaved "
            "(mean of the seeds' medians).",
            "",
            harness.markdown_table(["model", "accuracy", "points vs teacher", "speed-up (CPU)", "MiB"], rows),
            "",
        ]
        target = record["target"]
        if target is None:
            closest = record["closest"]
            parts.append(
                f"**Target not met**: no model is within {POINTS} points of the teacher at ≥ {SPEEDUP:g}×; the fastest "
                f"within {POINTS} points is `{closest['model']}` ({closest['variant']}) at "
                f"{closest['speedup_cpu']:.1f}× "
                f"({closest['points']:+.2f} points, {closest['size_mb']:.1f} MiB)."
            )
        else:
            parts.append(
                f"**Target met**: `{target['model']}` ({target['variant']}): {target['points']:+.2f} points, "
                f"{target['speedup_cpu']:.1f}× the float32 teacher, {target['size_mb']:.1f} MiB."
            )
        variants = record["variants"]
        fused = variants["fused_vs_unfused"]
        parts += [
            "",
            f"Variants of `{variants['student']}` (seed {variants['seed']}), CPU ms at batch 1: "
            + ", ".join(f"{name} {ms:.3f}" for name, ms in variants["latency_ms_cpu"].items())
            + f". Fused against unfused float32 graph: **{fused['median']:.2f}×** "
            + f"[{fused['low']:.2f}, {fused['high']:.2f}]"
            + (
                f"; static against dynamic int8: **{variants['static_vs_dynamic']['median']:.2f}×** "
                f"[{variants['static_vs_dynamic']['low']:.2f}, {variants['static_vs_dynamic']['high']:.2f}]"
                if "static_vs_dynamic" in variants
                else ""
            )
            + f". Load average {statistics.fmean(variants['load_average']['before']):.2f}.",
            "",
            harness.markdown_table(
                ["export", "accuracy", "same label as fp32 student", "largest probability difference", "MiB"],
                [
                    [
                        name,
                        f"{q['accuracy']:.4f}",
                        f"{q['agreement_pct']:.2f} %",
                        f"{q['max_prob_diff']:.5f}",
                        f"{q['size_mb']:.1f}",
                    ]
                    for name, q in variants["quality"].items()
                ],
            ),
        ]
        if record["shipped"] is not None:
            parts += ["", f"The `ship` stage: {record['shipped']['line']}"]
    return "\n".join(parts)


if __name__ == "__main__":
    main()
