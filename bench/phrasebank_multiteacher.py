"""Multi-teacher distillation on Financial PhraseBank over several seeds: runs the workflow, writes the docs section.

The workflow does the multi-seed work (`seeds:`, each seed its own split, teachers and students; the report's mean
± sd and paired tests). This script only writes `config/experiments/phrasebank-minilm.yaml` with `seeds` (reduced
with --quick) to results/bench/, runs Snakemake once, and turns the report's per-seed metrics into the section of
docs/benchmarks.md with the report's own functions (`report.seed_statistics`): mean ± sd of every teacher, the
teachers' ensembles and every student, the paired test of the best distilled student against its gold-only twin,
and the targets:

- the best distilled student keeps >= 97 % of the best teacher's accuracy;
- it beats its gold-only twin beyond seed noise (paired over seeds: mean difference > 2 standard errors);
- it is >= 1.8x faster than the best teacher.

Run from the repository root on a quiet machine (nothing else running):

    python bench/phrasebank_multiteacher.py                  # 3 seeds, writes docs/benchmarks.md
    python bench/phrasebank_multiteacher.py --quick          # 1 seed, 15 % of the data, 1 epoch: a smoke test

`--quick` writes to results/bench/ instead of the docs unless `--out` is given.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness
import pandas as pd
import yaml

from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.seed_statistics import PairedTest, paired_comparisons, summarise

REPO, DOCS = harness.REPO, harness.DOCS
BASE_CONFIG = REPO / "config" / "experiments" / "phrasebank-minilm.yaml"
SECTION = "phrasebank-multiteacher"
TASK = "phrasebank"
ENSEMBLE_METHODS = ("uniform", "validation")
RETENTION_TARGET = 0.97
SPEEDUP_TARGET = 1.8


def experiment_config(base: dict[str, Any], seeds: list[int], quick: bool) -> dict[str, Any]:
    """The experiment over `seeds` (and, with `quick`, a reduced one: 15 % of train, 1 epoch)."""
    config = copy.deepcopy(base)
    config.pop("seed", None)
    config["seeds"] = seeds
    config["experiment"] = f"{base['experiment']}-{'quick' if quick else 'seeds'}"
    if quick:
        task = config["tasks"][TASK]
        task["data"]["data_portion"] = 0.15
        for teacher in task["teachers"].values():
            teacher["finetune"].update(epochs=1, eval_steps=10)
        task["student_defaults"]["training"].update(epochs=1, eval_steps=10)
        config["benchmark"]["runs"] = 20
    return config


def run_workflow(config: dict[str, Any], cores: int) -> tuple[float, Plan]:
    """Run (or resume) the experiment from the repository root; returns the wall seconds and its plan."""
    folder = REPO / "results" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = harness.write_config(config, folder, config["experiment"])
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", str(path)]
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=harness.environment(), check=True)
    _, plan = harness.load_plan(path, REPO)
    return time.perf_counter() - start, plan


def per_seed_table(plan: Plan) -> pd.DataFrame:
    """The report's metrics (one row per model and seed) of the task, plus one row per seed for each teacher
    ensemble (its latency is the sum of its teachers')."""
    metrics = pd.read_csv(REPO / plan.root / "report" / "metrics.csv")
    metrics = metrics[metrics["task"] == TASK]
    rows = [metrics]
    for task in plan.tasks.values():
        record = json.loads((REPO / plan.root / task.folder / "eval" / "ensemble.json").read_text(encoding="utf-8"))
        teachers = metrics[(metrics["kind"] == "teacher") & (metrics["seed"] == task.seed)]
        best = teachers.loc[teachers["accuracy"].idxmax()]
        latency = teachers["latency_ms_per_sample"].sum()
        ensembles = [
            {
                "task": TASK,
                "seed": task.seed,
                "kind": "ensemble",
                "role": f"ensemble of all teachers ({method})",
                "model": f"ensemble-{method}",
                "primary_metric": "accuracy",
                "accuracy": record["ensembles"][method]["accuracy"],
                "f1_macro": record["ensembles"][method]["f1_macro"],
                "latency_ms_per_sample": latency,
                "speedup": best["latency_ms_per_sample"] / latency,
            }
            for method in ENSEMBLE_METHODS
        ]
        rows.append(pd.DataFrame(ensembles))
    return pd.concat(rows, ignore_index=True)


def model_order(config: dict[str, Any]) -> list[str]:
    """Table rows: the teachers, their ensembles, then the students, in the config's order."""
    task = config["tasks"][TASK]
    return [*task["teachers"], *(f"ensemble-{method}" for method in ENSEMBLE_METHODS), *task["students"]]


def summary_table(table: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Mean ± sd over seeds of every model (`report.seed_statistics.summarise`), in `order`."""
    summary = summarise(table).set_index("model")
    return summary.loc[[model for model in order if model in summary.index]].reset_index()


def check_targets(summary: pd.DataFrame, paired: dict[str, PairedTest]) -> list[tuple[str, bool | None, str]]:
    """(target, met or None when it cannot be checked, the numbers behind it). `paired` maps each distilled
    student to its paired test against its gold-only twin."""
    teachers = summary[summary["kind"] == "teacher"]
    best_teacher = teachers.loc[teachers["accuracy"].idxmax()]
    distilled = summary[summary["model"].isin(list(paired))]
    best = distilled.loc[distilled["accuracy"].idxmax()]
    test = paired[best["model"]]
    retention = best["accuracy"] / best_teacher["accuracy"]
    speedup = best_teacher["latency_ms_per_sample"] / best["latency_ms_per_sample"]
    noise = "n/a with one seed" if test.n < 2 else f"2 × standard error = {2 * test.standard_error:.4f}"
    return [
        (
            f"best distilled student ({best['model']}) keeps >= {RETENTION_TARGET:.0%} of the best teacher's "
            f"({best_teacher['model']}) accuracy",
            bool(retention >= RETENTION_TARGET),
            f"{best['accuracy']:.4f} / {best_teacher['accuracy']:.4f} = {retention:.1%}",
        ),
        (
            f"{best['model']} beats its gold-only twin beyond seed noise (paired over seeds)",
            None if test.beyond_noise is None else (test.beyond_noise and test.mean > 0),
            f"mean difference {test.mean:+.4f} over {test.n} seed(s), {noise}",
        ),
        (
            f"{best['model']} is >= {SPEEDUP_TARGET}x faster than {best_teacher['model']}",
            bool(speedup >= SPEEDUP_TARGET),
            f"{best_teacher['latency_ms_per_sample']:.2f} / {best['latency_ms_per_sample']:.2f} ms = {speedup:.2f}x",
        ),
    ]


def _cell(row: pd.Series, column: str, pattern: str) -> str:
    sd = row.get(f"{column}_sd")
    return pattern.format(row[column]) + ("" if sd is None or pd.isna(sd) else " ± " + pattern.format(sd))


def markdown(
    summary: pd.DataFrame,
    paired: dict[str, PairedTest],
    targets: list[tuple[str, bool | None, str]],
    settings: dict[str, Any],
) -> str:
    """The section written into the docs: machine and settings, the table, the paired tests and the targets."""
    lines = [
        harness.machine_block(settings["machine"]),
        "",
        f"Settings: `{settings['config']}`"
        f"{' reduced by --quick (15 % of train, 1 epoch)' if settings['quick'] else ''}; "
        f"`seeds: [{settings['seeds']}]` (each seed re-splits the data and retrains every model); "
        f"{settings['cores']} Snakemake cores; wall time {settings['wall']}. Mean ± sd over seeds; latency is the "
        "median at batch size 1; speed-up is against the most accurate teacher of each seed; an ensemble's latency "
        "is the sum of its teachers'.",
        "",
        "| Model | Role | Accuracy | Macro-F1 | Latency (ms/sample) | Speed-up (×) |",
        "|---|---|---|---|---|---|",
    ]
    for _, row in summary.iterrows():
        lines.append(
            f"| {row['model']} | {row['role']} | {_cell(row, 'accuracy', '{:.4f}')} "
            f"| {_cell(row, 'f1_macro', '{:.4f}')} | {_cell(row, 'latency_ms_per_sample', '{:.2f}')} "
            f"| {_cell(row, 'speedup', '{:.2f}')} |"
        )
    lines += ["", "Paired against the gold-only twin (accuracy, distilled − twin, per seed):", ""]
    for student, test in paired.items():
        error = "–" if test.n < 2 else f"{test.standard_error:.4f}"
        lines.append(f"- {student}: mean {test.mean:+.4f}, standard error {error}: {test.verdict}")
    lines += ["", "Targets:", ""]
    for target, met, numbers in targets:
        verdict = "not checkable" if met is None else ("met" if met else "**MISSED**")
        lines.append(f"- {verdict}: {target} ({numbers})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the multi-teacher study and write its docs section; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--quick", action="store_true", help="1 seed, 15 %% of the training data, 1 epoch")
    parser.add_argument("--cores", type=int, default=2, help="Snakemake --cores (the config's threads stay 2)")
    parser.add_argument("--config", type=Path, default=BASE_CONFIG)
    parser.add_argument("--out", type=Path, help="markdown file to write the section into")
    args = parser.parse_args(argv)
    seeds = args.seeds[:1] if args.quick else args.seeds
    out = args.out or (REPO / "results" / "bench" / "phrasebank_multiteacher-quick.md" if args.quick else DOCS)

    base = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    machine = harness.machine()
    wall, plan = run_workflow(experiment_config(base, seeds, args.quick), args.cores)
    table = per_seed_table(plan)
    summary = summary_table(table, model_order(base))
    comparisons = paired_comparisons(table, plan.twins())
    paired = {row.student: row.test for row in comparisons.itertuples(index=False)}
    settings = {
        "machine": machine,
        "config": args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config,
        "quick": args.quick,
        "seeds": ", ".join(map(str, seeds)),
        "cores": args.cores,
        "wall": f"{wall / 60:.1f} min (a resumed run counts only what it ran)",
    }
    body = markdown(summary, paired, check_targets(summary, paired), settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    harness.write_section(out, SECTION + ("-quick" if args.quick else ""), body)
    print(body)
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
