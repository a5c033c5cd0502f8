"""Benchmark: the shipping variants of a teacher and a student, timed interleaved at batch 1 on one thread.

Exports the student to onnx-fp32, onnx-int8 and torch-int8 and the teacher to onnx-fp32 and onnx-int8, then
on the test split: accuracy of each variant, agreement of each with its float32 PyTorch model (same
prediction), and the largest logit difference; `scalingdown.evaluation.timing.time_models` times teacher
fp32, student fp32, student torch-int8, student onnx-fp32, student onnx-int8 and teacher onnx-int8
(reference: teacher fp32), and each one's peak memory is measured in a child process of its own.

    python bench/export_variants.py --teacher results/cache/teachers/<key>/model \
        --student results/default/fin_sentiment/seed-13/students/distilled/model \
        --test results/cache/data/<key>/test.parquet --max-length 64 --out /tmp/variants
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import harness
import numpy as np
import pandas as pd
import torch

from scalingdown.evaluation.export import export_onnx, export_onnx_int8, export_torch_int8
from scalingdown.evaluation.runtime import load_runtime
from scalingdown.evaluation.timing import TimingSettings, child_peak_memory, headline_speedup, time_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True, help="the teacher's model directory")
    parser.add_argument("--student", type=Path, required=True, help="the student's model directory")
    parser.add_argument("--test", type=Path, required=True, help="test split (Parquet with text and label)")
    parser.add_argument("--max-length", type=int, required=True, help="the task's max_length")
    parser.add_argument("--out", type=Path, required=True, help="where the exports and record.json go")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls-per-round", type=int, default=20)
    args = parser.parse_args()
    info = harness.machine()
    torch.set_num_threads(1)
    export_s = {
        "student onnx-fp32": _timed(export_onnx, args.student, args.out / "student-onnx-fp32"),
        "student onnx-int8": _timed(export_onnx_int8, args.out / "student-onnx-fp32", args.out / "student-onnx-int8"),
        "student torch-int8": _timed(export_torch_int8, args.student, args.out / "student-torch-int8"),
        "teacher onnx-fp32": _timed(export_onnx, args.teacher, args.out / "teacher-onnx-fp32"),
        "teacher onnx-int8": _timed(export_onnx_int8, args.out / "teacher-onnx-fp32", args.out / "teacher-onnx-int8"),
    }
    directories = {
        "teacher fp32": args.teacher,
        "student fp32": args.student,
        "student torch-int8": args.out / "student-torch-int8",
        "student onnx-fp32": args.out / "student-onnx-fp32",
        "student onnx-int8": args.out / "student-onnx-int8",
        "teacher onnx-int8": args.out / "teacher-onnx-int8",
        "teacher onnx-fp32": args.out / "teacher-onnx-fp32",
    }
    runtimes = {name: load_runtime(path, threads=1, max_length=args.max_length) for name, path in directories.items()}
    test = pd.read_parquet(args.test)
    texts = test["text"].tolist()
    quality = _quality(runtimes, texts, test["label"].tolist())
    timed = [name for name in directories if name != "teacher onnx-fp32"]
    memory = {name: child_peak_memory(directories[name], texts, 32, 1, args.max_length) for name in timed}
    settings = TimingSettings(rounds=args.rounds, calls_per_round=args.calls_per_round, batch_size=32, threads=1)
    record = time_models({name: runtimes[name] for name in timed}, texts, "teacher fp32", settings, memory)
    record.update(machine=info, quality=quality, export_s=export_s)
    record["size_mb"] = {name: runtime.size_mb for name, runtime in runtimes.items()}
    (args.out / "record.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(_table(record, timed))


def _timed(export, source: Path, target: Path) -> float:
    start = time.perf_counter()
    export(source, target)
    return time.perf_counter() - start


def _quality(runtimes: dict, texts: list[str], gold: list[str]) -> dict[str, dict[str, float]]:
    """Accuracy of each variant; agreement with and largest logit difference from its float32 PyTorch model."""
    logits = {name: runtime.logits(texts, batch_size=32) for name, runtime in runtimes.items()}
    result = {}
    for name, values in logits.items():
        base = logits[f"{name.split()[0]} fp32"]
        predicted = [runtimes[name].label_names[index] for index in values.argmax(axis=1)]
        result[name] = {
            "accuracy": float(np.mean([p == g for p, g in zip(predicted, gold)])),
            "agreement_with_fp32": float(np.mean(values.argmax(axis=1) == base.argmax(axis=1))),
            "max_logit_diff_vs_fp32": float(np.abs(values - base).max()),
        }
    return result


def _table(record: dict, timed: list[str]) -> str:
    rows = []
    for name in timed:
        entry, quality = record["models"][name], record["quality"][name]
        wall, cpu = entry["latency_ms"]["wall"], entry["latency_ms"]["cpu"]
        speedup = headline_speedup(record, name)
        rows.append(
            [
                name,
                f"{wall['median']:.2f} (IQR {wall['iqr']:.2f})",
                f"{cpu['median']:.2f} (IQR {cpu['iqr']:.2f})",
                f"{entry['throughput_per_s']:.0f}",
                f"{speedup['median']:.2f}× [{speedup['low']:.2f}, {speedup['high']:.2f}]",
                f"{record['size_mb'][name]:.1f}",
                f"{entry['memory']['model_peak_mb']:.0f}",
                f"{quality['accuracy']:.4f}",
                f"{quality['agreement_with_fp32']:.4f}",
                f"{quality['max_logit_diff_vs_fp32']:.2e}",
            ]
        )
    header = [
        "model",
        "batch-1 wall ms",
        "batch-1 CPU ms",
        "items/s @32",
        f"speed-up vs teacher ({record['headline_clock']})",
        "size MiB",
        "peak MiB",
        "accuracy",
        "agrees with fp32",
        "max |Δlogit|",
    ]
    load = record["load_average"]
    teacher_onnx = record["quality"]["teacher onnx-fp32"]["max_logit_diff_vs_fp32"]
    notes = [
        f"load average (1/5/15 min) before {load['before']}, after {load['after']}; noisy: {record['noisy']}"
        f" ({'; '.join(record['noisy_because']) or 'no'}); rule: {record['noisy_rule']}",
        f"teacher onnx-fp32 vs teacher fp32: max |Δlogit| {teacher_onnx:.2e}",
        f"export seconds: {json.dumps({k: round(v, 1) for k, v in record['export_s'].items()})}",
    ]
    return harness.markdown_table(header, rows) + "\n\n" + "\n".join(notes)


if __name__ == "__main__":
    main()
