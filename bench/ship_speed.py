r"""Benchmark 19, its speed part: how fast each student shape and export runs against the float32 teacher.

Speed does not depend on the weights' values, so this needs no trained student: each `--student` is a saved
classifier of some shape (an `init_student` output, e.g. 1, 2 or 3 of the teacher's layers). Each is exported as the
workflow does (onnx-fp32 fused by ONNX Runtime's transformer optimizer, dynamic int8 from it, static int8 calibrated
on `--calibration` training texts), the first student also as the unfused graph, and every model is timed with the
teacher in one process, interleaved (`evaluation.timing.time_models`: rounds in rotated order), batch 1, one thread,
on CPU time (fair on a loaded machine), on PhraseBank sentences truncated to `--max-length` tokens.

    python bench/ship_speed.py --teacher <teacher model dir> --student layers0=<dir> --student layers0_3=<dir> \
        --texts ../shared/datasets/financial_phrasebank/Sentences_50Agree.txt
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import harness
import numpy as np
import torch
from predict_throughput import sentences

from scalingdown.evaluation.exporters import export_onnx, export_onnx_int8, export_onnx_int8_static
from scalingdown.evaluation.runtime import ClassifierRuntime, load_runtime
from scalingdown.evaluation.timing import TimingSettings, speedup_between, time_models

SECTION = "ship-speed"
TEACHER = "teacher fp32"


def main() -> None:
    """Export every student, time everything against the teacher, write the docs section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True, help="the float32 teacher's model directory")
    parser.add_argument("--student", action="append", required=True, help="NAME=DIR, a saved student of one shape")
    parser.add_argument("--texts", type=Path, required=True, help="a PhraseBank file (sentence@label lines)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--calibration", type=int, default=90, help="texts the static int8 export is calibrated on")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200, help="batch-1 calls per model, over the rounds")
    parser.add_argument("--docs", type=Path, default=harness.DOCS)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    info = harness.machine()
    with tempfile.TemporaryDirectory(prefix="ship-speed-") as scratch:
        record = measure(args, Path(scratch))
    text = render(record, info)
    harness.publish(args, {SECTION: text})


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Export each student's variants into `scratch`, then time them all with the teacher."""
    torch.set_num_threads(1)
    pool = sentences(args.texts)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(pool))
    calibration = [pool[i] for i in order[: args.calibration]]
    texts = [pool[i] for i in order[args.calibration : args.calibration + 400]]
    runtimes: dict[str, ClassifierRuntime] = {TEACHER: load_runtime(args.teacher, 1, args.max_length)}
    for index, entry in enumerate(args.student):
        name, directory = entry.split("=", 1)
        out = scratch / name
        export_onnx(directory, out / "onnx-fp32")
        export_onnx_int8(out / "onnx-fp32", out / "onnx-int8")
        export_onnx_int8_static(out / "onnx-fp32", out / "onnx-int8-static", calibration, args.max_length)
        variants = {"fp32": Path(directory), **{v: out / v for v in ("onnx-fp32", "onnx-int8", "onnx-int8-static")}}
        if index == 0:
            export_onnx(directory, out / "unfused", optimize=False)
            variants["onnx-fp32 unfused"] = out / "unfused"
        for variant, path in variants.items():
            runtimes[f"{name} {variant}"] = load_runtime(path, 1, args.max_length)
        print(f"exported {name}", flush=True)
    settings = TimingSettings(rounds=args.rounds, calls_per_round=-(-args.runs // args.rounds), batch_size=32)
    record = time_models(runtimes, texts, TEACHER, settings)
    cpu = {**record, "headline_clock": "cpu"}
    first = args.student[0].split("=", 1)[0]
    students = [entry.split("=", 1)[0] for entry in args.student]
    return {
        "record": record,
        "sizes": {name: runtime.size_mb for name, runtime in runtimes.items()},
        "fused_vs_unfused": speedup_between(cpu, f"{first} onnx-fp32", f"{first} onnx-fp32 unfused"),
        "first": first,
        "static_vs_dynamic": {
            name: speedup_between(cpu, f"{name} onnx-int8-static", f"{name} onnx-int8") for name in students
        },
        "texts": len(texts),
        "calibration": len(calibration),
        "max_length": args.max_length,
    }


def render(found: dict[str, Any], info: dict[str, str]) -> str:
    """The docs section: every model's CPU latency, speed-up over the teacher and size; the two ratios."""
    record = found["record"]

    def interval(speedup: dict[str, Any]) -> str:
        return f"**{speedup['median']:.2f}×** [{speedup['low']:.2f}, {speedup['high']:.2f}]"

    rows = [
        [
            name,
            f"{model['latency_ms']['cpu']['median']:.3f}",
            interval(model["speedup"]["cpu"]),
            f"{found['sizes'][name]:.1f}",
        ]
        for name, model in record["models"].items()
    ]
    load, settings = record["load_average"], record["settings"]
    return "\n".join(
        [
            "### Speed of each shape and export against the float32 teacher",
            "",
            harness.machine_block(info),
            "",
            f"{found['texts']} PhraseBank sentences (at most {found['max_length']} tokens), {settings['rounds']} "
            f"rounds of {settings['calls_per_round']} batch-1 calls per model, one thread, every model in one process "
            f"in rotated order; CPU time (load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} "
            f"after; other processes kept {record['other_cpu_cores'] or 0:.1f} cores busy). Static int8 calibrated on "
            f"{found['calibration']} other sentences. Speed-up: the median per-round ratio with its 95 % interval.",
            "",
            harness.markdown_table(["model", "CPU ms per text", "× the fp32 teacher", "MiB"], rows),
            "",
            f"Fused against unfused float32 graph ({found['first']}): {interval(found['fused_vs_unfused'])}. "
            "Static against dynamic int8: "
            + "; ".join(f"{name} {interval(ratio)}" for name, ratio in found["static_vs_dynamic"].items())
            + ".",
        ]
    )


if __name__ == "__main__":
    main()
