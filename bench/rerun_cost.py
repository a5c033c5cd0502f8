"""Benchmark 3: what a rerun costs once an experiment has finished.

- the wall time of a no-op rerun (`snakemake --cores N` with nothing to do), median of `--repeats`;
- the jobs a student-only change schedules (the first distilled student's learning rate halved):
  it must schedule no teacher-side or shared job (prepare, finetune_teacher, teacher_logits,
  init_student), only that student's distill, its evaluation and the report.
The experiment is run to completion first when it has not been (that run is not timed).

    python bench/rerun_cost.py --config config/config.yaml
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

import harness
import yaml


def student_only_change(raw: dict[str, Any], resolved: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The raw config with the first distilled student's learning rate halved; and which key changed."""
    for task_name, task in resolved["tasks"].items():
        for name, student in task["students"].items():
            if student["train"] and student["teachers"]:
                changed = copy.deepcopy(raw)
                spec = changed["tasks"][task_name]["students"].setdefault(name, {})
                rate = student["training"]["learning_rate"] / 2
                spec.setdefault("training", {})["learning_rate"] = rate
                return changed, f"tasks.{task_name}.students.{name}.training.learning_rate → {rate:g}"
    raise SystemExit("the experiment has no distilled student to change")


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """No-op rerun times and the dry run of a student-only change for one experiment."""
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config, plan = harness.load_plan(config_path, args.workdir)
    cores = ["--cores", str(args.cores)]
    configfile = ["--configfile", str(config_path)]
    print(f"[{config['experiment']}] running the experiment to completion (not timed) …", flush=True)
    harness.snakemake(args.workdir, *configfile, *cores)

    noop_s, dry_s = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = harness.snakemake(args.workdir, *configfile, *cores)
        noop_s.append(time.perf_counter() - start)
        if harness.scheduled_jobs(result.stdout + result.stderr):
            raise SystemExit(f"a rerun of the finished experiment still did work:\n{result.stderr[-2000:]}")
        start = time.perf_counter()
        harness.snakemake(args.workdir, *configfile, "-n")
        dry_s.append(time.perf_counter() - start)

    changed, key = student_only_change(raw, config)
    changed_path = harness.write_config(changed, scratch, "student-change")
    dry_run = harness.snakemake(args.workdir, "--configfile", str(changed_path), "-n")
    jobs = harness.scheduled_jobs(dry_run.stdout + dry_run.stderr)
    return {
        "experiment": config["experiment"],
        "threads": plan.threads,
        "noop_s": harness.median(noop_s),
        "dry_s": harness.median(dry_s),
        "change": key,
        "jobs": jobs,
        "shared_jobs": sorted(set(jobs) & set(harness.SHARED_RULES)),
    }


def section(results: list[dict[str, Any]], args: argparse.Namespace, machine: dict[str, str]) -> str:
    """The markdown of benchmark 3."""
    table = harness.markdown_table(
        [
            "Experiment",
            "Threads per job",
            "no-op rerun (s)",
            "no-op dry run (s)",
            "student-only change",
            "jobs scheduled",
            "teacher or shared jobs",
        ],
        [
            [
                r["experiment"],
                r["threads"],
                f"{r['noop_s']:.1f}",
                f"{r['dry_s']:.1f}",
                f"`{r['change']}`",
                ", ".join(f"{rule} × {count}" for rule, count in r["jobs"].items()),
                "none" if not r["shared_jobs"] else "**" + ", ".join(r["shared_jobs"]) + "**",
            ]
            for r in results
        ],
    )
    note = (
        f"Median of {args.repeats} runs of `snakemake --cores {args.cores}` (and of `snakemake -n`) on the "
        "finished experiment, Snakemake's start-up included. The student-only change is a dry run; it must "
        "schedule no teacher or shared job (" + ", ".join(harness.SHARED_RULES) + ")."
    )
    header = harness.machine_block(machine)
    return f"{header}\n\n{note}\n\n{table}"


def main() -> None:
    """Measure what a rerun of a finished experiment costs and write the docs section."""
    parser = harness.argument_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="no-op reruns to time (default 3)")
    args = parser.parse_args()
    results, machine = harness.measure_configs(args, measure, "bench-rerun-")
    harness.publish(args, {"rerun-cost": section(results, args, machine)})
    if any(r["shared_jobs"] for r in results):
        raise SystemExit("a student-only change scheduled teacher or shared jobs (see the table)")


if __name__ == "__main__":
    main()
