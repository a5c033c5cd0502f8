"""Multi-teacher distillation on Financial PhraseBank, over several seeds: quality, speed, targets.

Runs `config/experiments/phrasebank-minilm.yaml` once per seed (each seed its own experiment,
`phrasebank-minilm-s<seed>`, so results stay apart and a rerun resumes), then reports mean ± sd over
seeds of every teacher, the teachers' ensemble and every student: accuracy, macro-F1, latency
(ms/sample at batch 1) and speed-up over the best teacher, and checks the targets:

- the best distilled student keeps >= 97 % of the best teacher's accuracy;
- it beats the gold-only student by more than the seed-to-seed spread (the larger of the two sd);
- it is >= 1.8x faster than the best teacher.

Run from the repository root on a quiet machine (nothing else running):

    python bench/phrasebank_multiteacher.py                  # 3 seeds, writes docs/benchmarks.md
    python bench/phrasebank_multiteacher.py --quick          # 1 seed, 15 % of the data, 1 epoch: a smoke test

`--quick` writes to results/bench/ instead of the docs unless `--out` is given.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness
import pandas as pd
import yaml

REPO, DOCS = harness.REPO, harness.DOCS
BASE_CONFIG = REPO / "config" / "experiments" / "phrasebank-minilm.yaml"
SECTION = "phrasebank-multiteacher"
TASK = "phrasebank"
RETENTION_TARGET = 0.97
SPEEDUP_TARGET = 1.8


def seed_config(base: dict[str, Any], seed: int, quick: bool) -> dict[str, Any]:
    """The experiment of one seed (and, with `quick`, a reduced one: 15 % of train, 1 epoch)."""
    config = copy.deepcopy(base)
    config["seed"] = seed
    config["experiment"] = f"{base['experiment']}{'-quick' if quick else ''}-s{seed}"
    if quick:
        task = config["tasks"][TASK]
        task["data"]["data_portion"] = 0.15
        for teacher in task["teachers"].values():
            teacher["finetune"]["epochs"] = 1
            teacher["finetune"]["eval_steps"] = 10
        task["student_defaults"]["training"]["epochs"] = 1
        task["student_defaults"]["training"]["eval_steps"] = 10
        config["benchmark"]["runs"] = 20
    return config


def run_experiment(config: dict[str, Any], cores: int) -> float:
    """Run (or resume) one experiment with Snakemake from the repository root; returns wall seconds."""
    path = REPO / "results" / "bench" / f"{config['experiment']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", str(path)]
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=harness.environment(), check=True)
    return time.perf_counter() - start


def seed_rows(experiment: str) -> pd.DataFrame:
    """One row per model of one finished experiment (the report's metrics, plus the teachers' ensemble)."""
    root = REPO / "results" / experiment
    metrics = pd.read_csv(root / "report" / "metrics.csv")
    metrics = metrics[metrics["task"] == TASK]
    rows = metrics[["kind", "role", "model", "accuracy", "f1_macro", "latency_ms_per_sample"]].copy()
    ensemble = json.loads((root / TASK / "eval" / "ensemble.json").read_text(encoding="utf-8"))
    teachers = metrics[metrics["kind"] == "teacher"]
    for method in ENSEMBLE_METHODS:
        scores = ensemble["ensembles"][method]
        rows.loc[len(rows)] = {
            "kind": "ensemble",
            "role": f"ensemble of all teachers ({method})",
            "model": f"ensemble-{method}",
            "accuracy": scores["accuracy"],
            "f1_macro": scores["f1_macro"],
            # An ensemble runs every teacher: its latency is the sum of theirs.
            "latency_ms_per_sample": teachers["latency_ms_per_sample"].sum(),
        }
    best_teacher = teachers.loc[teachers["accuracy"].idxmax()]
    rows["speedup"] = best_teacher["latency_ms_per_sample"] / rows["latency_ms_per_sample"]
    return rows


def _stats(values: pd.Series) -> tuple[float, float]:
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


ENSEMBLE_METHODS = ("uniform", "validation")


def model_order(config: dict[str, Any]) -> list[str]:
    """Table rows: the teachers, their ensembles, then the students, in the config's order."""
    task = config["tasks"][TASK]
    return [*task["teachers"], *(f"ensemble-{method}" for method in ENSEMBLE_METHODS), *task["students"]]


def aggregate(per_seed: list[pd.DataFrame], order: list[str]) -> pd.DataFrame:
    """Mean and sd over seeds of every metric, one row per model, in `order`."""
    frame = pd.concat(per_seed, ignore_index=True)
    rows = []
    for model in order:
        group = frame[frame["model"] == model]
        row = {"model": model, "kind": group["kind"].iloc[0], "role": group["role"].iloc[0], "seeds": len(group)}
        for column in ("accuracy", "f1_macro", "latency_ms_per_sample", "speedup"):
            row[column], row[f"{column}_sd"] = _stats(group[column])
        rows.append(row)
    return pd.DataFrame(rows)


def check_targets(table: pd.DataFrame) -> list[tuple[str, bool | None, str]]:
    """(target, met or None when it cannot be checked, the numbers behind it)."""
    teachers = table[table["kind"] == "teacher"]
    best_teacher = teachers.loc[teachers["accuracy"].idxmax()]
    distilled = table[table["role"].str.startswith("student (distilled")]
    best = distilled.loc[distilled["accuracy"].idxmax()]
    gold = table[table["role"] == "student (gold labels only)"].iloc[0]
    retention = best["accuracy"] / best_teacher["accuracy"]
    gap = best["accuracy"] - gold["accuracy"]
    spread = max(best["accuracy_sd"], gold["accuracy_sd"])
    speedup = best_teacher["latency_ms_per_sample"] / best["latency_ms_per_sample"]
    single_seed = bool(pd.isna(spread))
    return [
        (
            f"best distilled student ({best['model']}) keeps >= {RETENTION_TARGET:.0%} of the best teacher's "
            f"({best_teacher['model']}) accuracy",
            bool(retention >= RETENTION_TARGET),
            f"{best['accuracy']:.4f} / {best_teacher['accuracy']:.4f} = {retention:.1%}",
        ),
        (
            f"{best['model']} beats the gold-only student by more than the seed-to-seed spread",
            None if single_seed else bool(gap > spread),
            f"difference {gap:+.4f}, spread (larger sd) " + ("n/a with one seed" if single_seed else f"{spread:.4f}"),
        ),
        (
            f"{best['model']} is >= {SPEEDUP_TARGET}x faster than {best_teacher['model']}",
            bool(speedup >= SPEEDUP_TARGET),
            f"{best_teacher['latency_ms_per_sample']:.2f} / {best['latency_ms_per_sample']:.2f} ms = {speedup:.2f}x",
        ),
    ]


def _cell(mean: float, sd: float, pattern: str) -> str:
    return pattern.format(mean) + ("" if pd.isna(sd) else " ± " + pattern.format(sd))


def markdown(table: pd.DataFrame, targets: list[tuple[str, bool | None, str]], settings: dict[str, Any]) -> str:
    """The section written into the docs: settings, the table and the targets."""
    lines = [
        f"Measured {settings['date']} on {settings['machine']}; {settings['cores']} Snakemake cores, "
        f"{settings['threads']} torch threads per job; torch {settings['torch']}, "
        f"transformers {settings['transformers']}; "
        f"commit {settings['commit']}.",
        "",
        f"Settings: `{settings['config']}`"
        f"{' reduced by --quick (15 % of train, 1 epoch)' if settings['quick'] else ''}; "
        f"seeds {settings['seeds']} (each seed re-splits the data and retrains every model); wall time per seed "
        f"{settings['wall']}. Mean ± sd over seeds; latency is the median at batch size 1; speed-up is against "
        "the most accurate teacher of each seed; an ensemble's latency is the sum of its teachers'.",
        "",
        f"Command: `{settings['command']}`",
        "",
        "| Model | Role | Accuracy | Macro-F1 | Latency (ms/sample) | Speed-up (×) |",
        "|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        lines.append(
            f"| {row['model']} | {row['role']} | {_cell(row['accuracy'], row['accuracy_sd'], '{:.4f}')} "
            f"| {_cell(row['f1_macro'], row['f1_macro_sd'], '{:.4f}')} "
            f"| {_cell(row['latency_ms_per_sample'], row['latency_ms_per_sample_sd'], '{:.2f}')} "
            f"| {_cell(row['speedup'], row['speedup_sd'], '{:.2f}')} |"
        )
    lines += ["", "Targets:", ""]
    for target, met, numbers in targets:
        verdict = "not checkable" if met is None else ("met" if met else "**MISSED**")
        lines.append(f"- {verdict}: {target} ({numbers})")
    return "\n".join(lines)


def machine() -> str:
    """OS, CPU model, CPU count and memory of this machine."""
    cpu, memory = platform.processor() or "unknown CPU", ""
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    if meminfo.exists():
        memory = f", {int(meminfo.read_text().split()[1]) / 2**20:.0f} GiB"
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs{memory}"


def main(argv: list[str] | None = None) -> int:
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
    per_seed, walls = [], []
    for seed in seeds:
        config = seed_config(base, seed, args.quick)
        walls.append(run_experiment(config, args.cores))
        per_seed.append(seed_rows(config["experiment"]))
    table = aggregate(per_seed, model_order(base))
    targets = check_targets(table)

    import torch
    import transformers

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    settings = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "cores": args.cores,
        "threads": base.get("threads", 2),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "commit": commit.strip() or "unknown",
        "config": args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config,
        "quick": args.quick,
        "seeds": ", ".join(map(str, seeds)),
        "wall": ", ".join(f"{wall / 60:.1f} min" for wall in walls) + " (a resumed seed counts only what it ran)",
        "command": "python bench/"
        + Path(__file__).name
        + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
    }
    body = markdown(table, targets, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    harness.write_section(out, SECTION + ("-quick" if args.quick else ""), body)
    print(body)
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
