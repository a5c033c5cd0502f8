"""Benchmark 10: the shipping variants of the students against the teacher shipped the same way.

For an experiment whose students list `export` variants (phrasebank-minilm.yaml: from_full and from_all),
it builds the workflow's exports and evaluations with Snakemake (reusing what exists), exports the best
teacher the same three ways (ONNX fp32, ONNX int8, PyTorch int8; into a scratch folder), and then

- scores every variant on the test split: accuracy, agreement with its own float32 PyTorch model (same
  predicted label) and the largest absolute logit difference from it;
- times them all interleaved in one process at batch 1 on one thread (`evaluation.timing.time_models`, the
  benchmark stage's procedure), reference the float32 teacher; a student's speed-up over the teacher variant
  of the same kind is computed from the same rounds (`speedup_between`);
- checks the targets: the best int8 student ≥ 5× the float32 teacher and ≥ 1.8× the teacher quantized the
  same way, its accuracy within 1 point of its own float32 version; ONNX fp32 agreeing with PyTorch on ≥ 99.5 %.

    python bench/export_variants.py --config config/experiments/phrasebank-minilm.yaml

About 3 minutes once the experiment has run (exports 1 min, scoring 1 min, timing 1 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import harness
import numpy as np
import pandas as pd
import torch

from scalingdown.evaluation.exporters import export_onnx, export_onnx_int8, export_torch_int8
from scalingdown.evaluation.runtime import load_runtime
from scalingdown.evaluation.timing import TimingSettings, headline_speedup, speedup_between, time_models
from scalingdown.pipeline import paths

SECTION = "shipping"
INT8 = ("onnx-int8", "torch-int8")
TARGETS = {"vs_teacher_fp32": 5.0, "vs_teacher_same_variant": 1.8, "accuracy_points": 1.0, "onnx_agreement": 0.995}


def main() -> None:
    """Build and time each config's exports beside the teacher and write the docs section."""
    parser = harness.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--task", help="the task's folder (default: the first; `<task>/seed-<n>` with seeds)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200, help="timed batch-1 calls per model, over the rounds")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    results, info = harness.measure_configs(args, measure, "export-variants-")
    harness.publish(args, {SECTION: section(results, info, args)})


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Build a task's students and their exports, time them interleaved; the record."""
    _, plan = harness.load_plan(config_path, args.workdir)
    task = plan.task(args.task or next(iter(plan.tasks)))
    students = [student for student in task.students.values() if student.exports]
    if not students:
        raise SystemExit(f"{config_path}: no student of task {task.name} lists `export` variants")
    targets = [path for student in students for path in map(student.export_dir, student.exports)]
    targets += plan.teacher_eval_files(task.folder)
    print(f"[{plan.experiment}] building the exports and evaluations (reused when present) …", flush=True)
    harness.snakemake(args.workdir, "--configfile", str(config_path), "--cores", str(args.cores), *targets)
    teacher = _best_teacher(plan, task.folder)
    teacher_dir = Path(plan.teacher(task.folder, teacher).model_ref)
    directories = {f"teacher {teacher} · fp32": teacher_dir}
    directories.update(_teacher_exports(teacher, teacher_dir, scratch))
    for student in students:
        directories[f"{student.name} · fp32"] = Path(student.evaluated_dir)
        directories.update(
            {f"{student.name} · {variant}": Path(student.export_dir(variant)) for variant in student.exports}
        )
    torch.set_num_threads(args.threads)
    max_length = plan.teacher(task.folder, teacher).spec["max_length"]
    runtimes = {name: load_runtime(path, args.threads, max_length) for name, path in directories.items()}
    test = pd.read_parquet(Path(task.data_dir) / "test.parquet")
    texts = test["text"].tolist()
    quality = _quality(runtimes, texts, test["label"].tolist())
    settings = TimingSettings(
        rounds=args.rounds, calls_per_round=-(-args.runs // args.rounds), batch_size=32, threads=args.threads
    )
    reference = f"teacher {teacher} · fp32"
    record = time_models(runtimes, texts, reference, settings)
    record["quality"] = quality
    record["size_mb"] = {name: runtime.size_mb for name, runtime in runtimes.items()}
    record["experiment"], record["task"], record["test_rows"] = plan.experiment, task.name, len(texts)
    record["students"] = [student.name for student in students]
    record["teacher"] = teacher
    out = Path(plan.root) / task.folder / "eval" / "export_variants.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", flush=True)
    return record


def _best_teacher(plan: harness.Plan, task: str) -> str:
    """The teacher with the best test accuracy (the report's reference teacher)."""
    scores = {}
    for name in plan.task(task).teachers:
        record = json.loads(Path(paths.eval_file(plan.root, task, "teacher", name)).read_text(encoding="utf-8"))
        scores[name] = record["metrics"]["accuracy"]
    return max(scores, key=lambda name: scores[name])


def _teacher_exports(teacher: str, model_dir: Path, scratch: Path) -> dict[str, Path]:
    """The teacher exported the three ways a student is (outside the workflow: teachers are not shipped)."""
    out = {variant: scratch / f"teacher-{variant}" for variant in ("onnx-fp32", "onnx-int8", "torch-int8")}
    export_onnx(model_dir, out["onnx-fp32"])
    export_onnx_int8(out["onnx-fp32"], out["onnx-int8"])
    export_torch_int8(model_dir, out["torch-int8"])
    return {f"teacher {teacher} · {variant}": path for variant, path in out.items()}


def _quality(runtimes: dict[str, Any], texts: list[str], gold: list[str]) -> dict[str, dict[str, float]]:
    """Accuracy of each variant; agreement with, and largest logit difference from, its float32 PyTorch model."""
    logits = {name: runtime.logits(texts, batch_size=32) for name, runtime in runtimes.items()}
    result = {}
    for name, values in logits.items():
        base = logits[name.rsplit(" · ", 1)[0] + " · fp32"]
        predicted = [runtimes[name].label_names[index] for index in values.argmax(axis=1)]
        result[name] = {
            "accuracy": float(np.mean([p == g for p, g in zip(predicted, gold)])),
            "agreement_with_fp32": float(np.mean(values.argmax(axis=1) == base.argmax(axis=1))),
            "max_logit_diff_vs_fp32": float(np.abs(values - base).max()),
        }
    return result


def targets(record: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for the shipping targets, on the record's headline clock."""
    teacher = f"teacher {record['teacher']}"
    int8 = [f"{student} · {variant}" for student in record["students"] for variant in INT8]
    int8 = [name for name in int8 if name in record["models"]]
    best = max(int8, key=lambda name: headline_speedup(record, name)["median"])
    student, variant = best.rsplit(" · ", 1)
    vs_fp32 = headline_speedup(record, best)
    vs_same = speedup_between(record, best, f"{teacher} · {variant}")
    quality = record["quality"]
    points = 100 * (quality[best]["accuracy"] - quality[f"{student} · fp32"]["accuracy"])
    onnx = [name for name in quality if name.endswith("· onnx-fp32")]
    worst = min(onnx, key=lambda name: quality[name]["agreement_with_fp32"])
    return [
        (
            f"best int8 student ({best}) vs the fp32 teacher ≥ {TARGETS['vs_teacher_fp32']}×",
            _interval(vs_fp32),
            vs_fp32["median"] >= TARGETS["vs_teacher_fp32"],
        ),
        (
            f"{best} vs the teacher's {variant} ≥ {TARGETS['vs_teacher_same_variant']}×",
            _interval(vs_same),
            vs_same["median"] >= TARGETS["vs_teacher_same_variant"],
        ),
        (
            f"{best} accuracy within {TARGETS['accuracy_points']:.0f} point of {student} fp32",
            f"{points:+.2f} points",
            abs(points) <= TARGETS["accuracy_points"],
        ),
        (
            f"ONNX fp32 agrees with PyTorch on ≥ {TARGETS['onnx_agreement']:.1%} of test predictions",
            f"lowest {quality[worst]['agreement_with_fp32']:.2%} ({worst})",
            quality[worst]["agreement_with_fp32"] >= TARGETS["onnx_agreement"],
        ),
    ]


def _interval(speedup: dict[str, Any]) -> str:
    return f"{speedup['median']:.2f}× [{speedup['low']:.2f}, {speedup['high']:.2f}]"


def section(results: list[dict[str, Any]], info: dict[str, str], args: argparse.Namespace) -> str:
    """The docs section of the export runs."""
    parts = [
        "## 10. Shipping: exported and quantized students against the teacher shipped the same way",
        "",
        harness.machine_block(info),
    ]
    for record in results:
        settings = record["settings"]
        parts += [
            "",
            f"### {record['experiment']} / {record['task']} ({record['test_rows']} test texts)",
            "",
            f"Interleaved in one process, {settings['threads']} thread, {settings['rounds']} rounds × "
            f"{settings['calls_per_round']} batch-1 calls per model after {settings['warmup']} warm-up calls; "
            f"throughput at batch {settings['batch_size']}. Headline clock: **{record['headline_clock']}** time; "
            f"load average before {_load(record, 'before')}, after {_load(record, 'after')}; noisy: "
            f"{record['noisy']} ({'; '.join(record['noisy_because'][:3]) or 'no'}). Speed-ups are medians over "
            "rounds of the per-round ratio with their 95 % interval, against the teacher in float32.",
            "",
            _table(record),
            "",
            harness.markdown_table(
                ["target", "measured", "met"],
                [[name, measured, "yes" if met else "**no**"] for name, measured, met in targets(record)],
            ),
        ]
    return "\n".join(parts)


def _load(record: dict[str, Any], when: str) -> str:
    return "/".join(f"{value:.2f}" for value in record["load_average"][when])


def _table(record: dict[str, Any]) -> str:
    rows = []
    for name in record["models_in_order"]:
        entry, quality = record["models"][name], record["quality"][name]
        wall, cpu = entry["latency_ms"]["wall"], entry["latency_ms"]["cpu"]
        rows.append(
            [
                name,
                f"{wall['median']:.2f} (IQR {wall['iqr']:.2f})",
                f"{cpu['median']:.2f} (IQR {cpu['iqr']:.2f})",
                f"{entry['throughput_per_s']:.0f}",
                _interval(headline_speedup(record, name)),
                f"{record['size_mb'][name]:.1f}",
                f"{quality['accuracy']:.4f}",
                f"{quality['agreement_with_fp32']:.2%}",
                f"{quality['max_logit_diff_vs_fp32']:.1e}",
            ]
        )
    header = [
        "model · variant",
        "batch-1 wall ms",
        "batch-1 CPU ms",
        "texts/s @32",
        "speed-up vs fp32 teacher",
        "size MiB",
        "accuracy",
        "agrees with own fp32",
        "max abs Δlogit",
    ]
    return harness.markdown_table(header, rows)


if __name__ == "__main__":
    main()
