"""Benchmark 2: examples per second of the `teacher_logits` stage against a bare forward loop.

Over the same texts (train, validation and test, as the stage reads them) and batch size:
- the stage, end to end in this process (loading the model, reading the data, fingerprinting the
  weights, inference, writing the Parquet cache);
- a bare loop: batches in data order, padded per batch, model already loaded;
- the stage's own inference with length-bucketed batches (`predict_logits`), model loaded;
- naive padding: batches in data order, every batch padded to `max_length`, model loaded.
After one untimed warm-up of each, the four alternate for `--repeats` rounds; each figure is a
median. The target is stage ≥ 0.9× the bare loop.

    python bench/teacher_logits_throughput.py --config config/config.yaml \
        --config config/experiments/phrasebank-minilm.yaml
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness


def timed_rounds(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each run: one untimed warm-up each, then `repeats` alternating rounds."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: harness.median(values) for name, values in times.items()}


def ordered_loop(model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int, padding: str) -> None:
    """Forward passes over `texts` in their order; `padding` is `longest` (per batch) or `max_length`."""
    import torch

    with torch.inference_mode():
        model.eval()
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            model(**tokenizer(batch, truncation=True, max_length=max_length, padding=padding, return_tensors="pt"))


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Rows per second of the four ways of computing one teacher's logits over its data."""
    import torch

    from scalingdown.data.store import SPLITS, read_split
    from scalingdown.families.classification.predict import predict_logits
    from scalingdown.models.loading import load_classifier, load_tokenizer
    from scalingdown.pipeline.plan.stage_specs import StageSpecs
    from scalingdown.stages.teacher_logits import teacher_logits

    config, plan = harness.load_plan(config_path, args.workdir)
    task = args.task or next(iter(config["tasks"]))
    teacher = plan.tasks[task].teachers[args.teacher or next(iter(plan.tasks[task].teachers))]
    data_dir = plan.tasks[task].data_dir
    targets = [data_dir] + ([teacher.model_dir] if teacher.finetuned else [])
    print(f"[{config['experiment']}] building prerequisites (reused when cached) …", flush=True)
    harness.snakemake(args.workdir, "--configfile", str(config_path), "--cores", str(args.cores), *targets)

    torch.set_num_threads(plan.threads)
    spec = StageSpecs(plan).logits(teacher.logits_key)
    texts = [text for split in SPLITS for text in read_split(data_dir, split)["text"]]
    max_length, batch = int(teacher.spec["max_length"]), args.batch_size
    model, tokenizer = load_classifier(teacher.model_ref), load_tokenizer(teacher.model_ref)
    seconds = timed_rounds(
        {
            "stage": lambda: teacher_logits(spec, data_dir, str(scratch / "logits.parquet"), batch_size=batch),
            "bare": lambda: ordered_loop(model, tokenizer, texts, max_length, batch, "longest"),
            "bucketed": lambda: predict_logits(model, tokenizer, texts, max_length, batch, "bucketed"),
            "naive": lambda: ordered_loop(model, tokenizer, texts, max_length, batch, "max_length"),
        },
        args.repeats,
    )
    return {
        "experiment": config["experiment"],
        "teacher": f"{teacher.name} ({teacher.spec['model']})",
        "rows": len(texts),
        "max_length": max_length,
        "batch_size": batch,
        "threads": plan.threads,
        "per_s": {name: len(texts) / value for name, value in seconds.items()},
    }


def section(results: list[dict[str, Any]], args: argparse.Namespace, machine: dict[str, str]) -> str:
    """The markdown of benchmark 2."""
    rows = []
    for r in results:
        rate = r["per_s"]
        rows.append(
            [
                r["experiment"],
                r["teacher"],
                r["rows"],
                r["max_length"],
                r["batch_size"],
                r["threads"],
                f"{rate['stage']:,.1f}",
                f"{rate['bare']:,.1f}",
                f"{rate['stage'] / rate['bare']:.2f}×",
                "yes" if rate["stage"] >= 0.9 * rate["bare"] else "**no**",
                f"{rate['bucketed']:,.1f}",
                f"{rate['naive']:,.1f}",
                f"{rate['bucketed'] / rate['naive']:.2f}×",
            ]
        )
    table = harness.markdown_table(
        [
            "Experiment",
            "Teacher",
            "Rows",
            "Max length",
            "Batch",
            "Threads",
            "stage (rows/s)",
            "bare loop (rows/s)",
            "stage / bare",
            "≥ 0.9×",
            "bucketed inference (rows/s)",
            "padded to max length (rows/s)",
            "bucketed / padded",
        ],
        rows,
    )
    note = (
        f"Median of {args.repeats} alternating rounds after one warm-up each. The stage is timed end to "
        "end in-process (model loading, reading the splits, hashing the weights, inference, writing "
        "Parquet); the loops start with the model loaded. The bare loop keeps the data order and pads each batch "
        "to its longest text; "
        "bucketed inference sorts by length first (what the stage does); the last loop pads every batch "
        "to `max_length`."
    )
    header = harness.machine_block(machine)
    return f"{header}\n\n{note}\n\n{table}"


def main() -> None:
    """Measure the `teacher_logits` stage's throughput against a bare forward loop; write the docs section."""
    parser = harness.argument_parser(__doc__.split("\n\n")[0], "Snakemake cores for the prerequisites")
    parser.add_argument("--task", help="task to use (default: each config's first)")
    parser.add_argument("--teacher", help="teacher to use (default: the task's first)")
    parser.add_argument("--batch-size", type=int, default=64, help="inference batch size (the stage's default, 64)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (default 3)")
    args = parser.parse_args()
    results, machine = harness.measure_configs(args, measure, "bench-logits-")
    harness.publish(args, {"teacher-logits-throughput": section(results, args, machine)})


if __name__ == "__main__":
    main()
