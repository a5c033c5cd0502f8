"""Benchmarks 1 and 4: time per epoch and peak memory of distillation from the logit cache, online
KD (the teacher runs inside the training loop, same loss) and gold-only fine-tuning.

For each experiment config it takes one task, one teacher and one distilled student as a template,
derives three students that differ only in where the KD target comes from (cache, online, none),
builds the shared prerequisites with Snakemake (reusing results/cache/), then runs the three
`distill` stages as separate processes, alternating their order over `--repeats` rounds. Time per
epoch is the Trainer's `train_runtime` / epochs (no validation inside the timed loop); peak RSS is
each process's own. The teacher's cost is a bare forward pass over the training split.

Theory: cached ≈ gold-only (the KL term is cheap); online ≈ gold-only + teacher forward, i.e.
online / gold ≥ 1 + teacher cost / student cost.

    python bench/cache_vs_online.py --config config/config.yaml \
        --config config/experiments/phrasebank-minilm.yaml
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import harness

from scalingdown.data.store import read_manifest
from scalingdown.pipeline.plan.stage_specs import StageSpecs

MODES = {"cached": {"teacher_mode": "cached"}, "online": {"teacher_mode": "online"}, "gold": {"teachers": []}}
NO_EVAL_STEPS = 10**6  # no validation inside the timed training loop


def bench_config(
    config: dict[str, Any], task: str, student: str, teacher: str | None, epochs: float
) -> tuple[dict[str, Any], str]:
    """The experiment reduced to one task with three students that differ only in their KD target."""
    task_spec = copy.deepcopy(config["tasks"][task])
    template = task_spec["students"][student]
    teacher = teacher or template["teachers"][0]
    template["training"].update(epochs=epochs, eval_steps=NO_EVAL_STEPS)
    base = {**template, "teachers": [teacher], "train": True}
    task_spec["students"] = {f"bench_{mode}": {**copy.deepcopy(base), **change} for mode, change in MODES.items()}
    task_spec["teachers"] = {teacher: task_spec["teachers"][teacher]}
    task_spec.pop("student_defaults", None)
    bench = {**copy.deepcopy(config), "experiment": f"{config['experiment']}-bench", "tasks": {task: task_spec}}
    return bench, teacher


def default_student(config: dict[str, Any], task: str) -> str:
    """The first trained student of the task that learns from a teacher."""
    for name, student in config["tasks"][task]["students"].items():
        if student["train"] and student["teachers"]:
            return name
    raise SystemExit(f"task {task} has no distilled student to take as the template; pass --student")


def distill_command(plan: harness.Plan, task: str, student: str, out: Path, threads: int) -> list[str]:
    """The distill stage exactly as the workflow's rule runs it, writing into `out`."""
    spec = plan.student(task, student)
    return [
        sys.executable,
        "-m",
        "scalingdown",
        "distill",
        "--spec",
        StageSpecs(plan).distill(task, student).to_json(),
        "--data",
        plan.tasks[task].data_dir,
        "--init",
        spec.init_dir,
        "--logits",
        *plan.distill_logits(task, student),
        "--out",
        str(out / "model"),
        "--history",
        str(out / "history.json"),
        "--checkpoints",
        str(out / "checkpoints"),
        "--threads",
        str(threads),
    ]


def train_runtime(history_path: Path) -> float:
    """The Trainer's own training time (excludes loading, tokenisation and the final evaluation)."""
    history = json.loads(history_path.read_text(encoding="utf-8"))
    return next(entry["train_runtime"] for entry in history if "train_runtime" in entry)


def teacher_forward_seconds(
    plan: harness.Plan, task: str, teacher: str, batch_size: int, threads: int, repeats: int
) -> float:
    """A bare forward pass of the teacher over the training split (median seconds after one warm-up):
    its cost per epoch."""
    import torch

    from scalingdown.data.store import read_split
    from scalingdown.families.classification.predict import predict_logits
    from scalingdown.models.loading import load_classifier, load_tokenizer

    torch.set_num_threads(threads)
    teacher_plan = plan.tasks[task].teachers[teacher]
    model, tokenizer = load_classifier(teacher_plan.model_ref), load_tokenizer(teacher_plan.model_ref)
    texts = read_split(plan.tasks[task].data_dir, "train")["text"].tolist()
    predict_logits(model, tokenizer, texts, teacher_plan.spec["max_length"], batch_size, "warm-up")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_logits(model, tokenizer, texts, teacher_plan.spec["max_length"], batch_size, "teacher forward")
        times.append(time.perf_counter() - start)
    return harness.median(times)


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Benchmark one experiment: per-mode seconds per epoch and peak RSS, the teacher's cost."""
    config, _ = harness.load_plan(config_path, args.workdir)
    task = args.task or next(iter(config["tasks"]))
    student = args.student or default_student(config, task)
    bench, teacher = bench_config(config, task, student, args.teacher, args.epochs)
    bench_path = harness.write_config(bench, scratch, bench["experiment"])
    plan = harness.Plan(harness.resolved_config(bench, args.workdir))
    names = {mode: f"bench_{mode}" for mode in MODES}
    teacher_plan = plan.tasks[task].teachers[teacher]
    targets = [plan.tasks[task].data_dir, teacher_plan.logits, plan.student(task, names["cached"]).init_dir]
    targets += [teacher_plan.model_dir] if teacher_plan.finetuned else []
    print(f"[{config['experiment']}] building prerequisites (reused when cached) …", flush=True)
    harness.snakemake(args.workdir, "--configfile", str(bench_path), "--cores", str(args.cores), *targets)

    threads = plan.threads
    runs: dict[str, list[harness.Measured]] = {mode: [] for mode in MODES}
    epoch_s: dict[str, list[float]] = {mode: [] for mode in MODES}
    order = list(MODES)
    for round_index in range(args.repeats):
        for mode in order[round_index % len(order) :] + order[: round_index % len(order)]:
            out = scratch / f"{config['experiment']}-{mode}-{round_index}"
            result = harness.run_measured(distill_command(plan, task, names[mode], out, threads), args.workdir)
            if result.returncode != 0:
                raise SystemExit(f"distill ({mode}) failed:\n{result.stderr_tail}")
            runs[mode].append(result)
            epoch_s[mode].append(train_runtime(out / "history.json") / args.epochs)
            print(
                f"[{config['experiment']}] round {round_index + 1}: {mode:6s} "
                f"{epoch_s[mode][-1]:.2f} s/epoch, peak RSS {result.peak_rss_mb:.0f} MiB",
                flush=True,
            )
    batch_size = int(bench["tasks"][task]["students"][names["gold"]]["training"]["batch_size"])
    teacher_s = teacher_forward_seconds(plan, task, teacher, batch_size, threads, args.repeats)
    return {
        "experiment": config["experiment"],
        "task": task,
        "teacher": f"{teacher} ({teacher_plan.spec['model']})",
        "student": f"{student} ({bench['tasks'][task]['students'][names['gold']]['model']})",
        "train_rows": read_manifest(plan.tasks[task].data_dir)["splits"]["train"]["rows"],
        "batch_size": batch_size,
        "threads": threads,
        "epoch_s": {mode: harness.median(values) for mode, values in epoch_s.items()},
        "peak_rss_mb": {mode: harness.median([r.peak_rss_mb for r in rs]) for mode, rs in runs.items()},
        "teacher_forward_s": teacher_s,
    }


def sections(results: list[dict[str, Any]], args: argparse.Namespace, machine: dict[str, str]) -> tuple[str, str]:
    """The markdown of benchmark 1 (time per epoch) and benchmark 4 (memory)."""
    settings = harness.markdown_table(
        ["Experiment", "Task", "Teacher", "Student template", "Train rows", "Batch", "Threads"],
        [
            [r["experiment"], r["task"], r["teacher"], r["student"], r["train_rows"], r["batch_size"], r["threads"]]
            for r in results
        ],
    )
    rows = []
    for r in results:
        gold, cached, online = (r["epoch_s"][m] for m in ("gold", "cached", "online"))
        predicted = 1 + r["teacher_forward_s"] / gold
        rows.append(
            [
                r["experiment"],
                f"{gold:.2f}",
                f"{cached:.2f} ({cached / gold:.2f}×)",
                f"{online:.2f} ({online / gold:.2f}×)",
                f"{r['teacher_forward_s']:.2f}",
                f"{predicted:.2f}×",
                "yes" if cached <= 1.10 * gold else "**no**",
                "yes" if online / gold >= predicted else "**no**",
            ]
        )
    timing = harness.markdown_table(
        [
            "Experiment",
            "gold-only s/epoch",
            "cached KD s/epoch",
            "online KD s/epoch",
            "teacher forward s/epoch",
            "theory: online ≥ 1 + teacher/student",
            "cached ≤ 1.10× gold",
            "online ≥ theory",
        ],
        rows,
    )
    settings_line = (
        f"{args.epochs:g} epoch(s) per run, median of {args.repeats} rounds (the three modes alternate "
        "their order each round); time per epoch is the Trainer's `train_runtime` / epochs, without "
        "validation in the loop; the teacher's cost is a bare forward pass over the training split "
        "at the training batch size; the student's cost is the gold-only epoch."
    )
    header = harness.machine_block(machine)
    memory = harness.markdown_table(
        [
            "Experiment",
            "gold-only peak RSS (MiB)",
            "cached KD peak RSS (MiB)",
            "online KD peak RSS (MiB)",
            "online − cached (MiB)",
        ],
        [
            [
                r["experiment"],
                *(f"{r['peak_rss_mb'][m]:.0f}" for m in ("gold", "cached", "online")),
                f"{r['peak_rss_mb']['online'] - r['peak_rss_mb']['cached']:+.0f}",
            ]
            for r in results
        ],
    )
    memory_line = (
        "Peak resident memory of each `distill` process (its own `ru_maxrss`), median over the same runs as above."
    )
    return (f"{header}\n\n{settings}\n\n{settings_line}\n\n{timing}", f"{header}\n\n{memory_line}\n\n{memory}")


def main() -> None:
    """Time distillation from the cache, online KD and gold-only fine-tuning; write the docs section."""
    parser = harness.argument_parser(__doc__.split("\n\n")[0], "Snakemake cores for the prerequisites")
    parser.add_argument("--task", help="task to use (default: each config's first)")
    parser.add_argument("--student", help="distilled student to take as template (default: the first)")
    parser.add_argument("--teacher", help="teacher (default: the template's first)")
    parser.add_argument("--epochs", type=float, default=1.0, help="epochs per timed run (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the three modes (default 3)")
    args = parser.parse_args()
    results, machine = harness.measure_configs(args, measure, "bench-cache-online-")
    timing, memory = sections(results, args, machine)
    harness.publish(args, {"cache-vs-online": timing, "memory": memory})


if __name__ == "__main__":
    main()
