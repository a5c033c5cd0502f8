"""Decoder-only distillation offline over three seeds: runs `config/experiments/causal-offline.yaml`, writes the docs
section (issue 26).

The workflow does the work; this script runs Snakemake once from the repository root (a finished run is not redone),
samples the load average while it runs (`seq2seq_offline.run_workflow`), and turns the report's per-seed metrics into
a section of docs/benchmarks.md: every model's mean ± sd, the paired tests of the distilled student against its
gold-only twin, its perplexity and per-token KL to the teacher against the twin's, the teacher caches' bytes per
response token and captured top-k mass (from their fingerprints), and the targets:

- the distilled student beats its twin by more than twice the paired standard error (exact match, 3 seeds);
- its perplexity and its mean KL to the teacher are below the twin's (means over the seeds);
- the cache holds at most 120 bytes per response token at k = 32;
- the whole run takes under 90 minutes on 2 cores.

    python bench/causal_offline.py                                    # run (or resume), then write the section
    python bench/causal_offline.py --no-run --wall-min 71 --load 2-3  # a run made by hand: state its wall time
    python bench/causal_offline.py --seeds 13                         # one seed only (the full run resumes from it)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import harness
import pandas as pd
import seq2seq_offline
import yaml

from scalingdown.kd.logit_store import read_fingerprint
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.seed_statistics import PairedTest, summarise

REPO, DOCS = harness.REPO, harness.DOCS
CONFIG = REPO / "config" / "experiments" / "causal-offline.yaml"
TASK, DISTILLED, TWIN = "finqa", "distilled", "gold_only"
BYTES_TARGET, WALL_TARGET_MIN, FULL_SEEDS = 120.0, 90.0, 3
DIAGNOSTICS = ("perplexity", "kl_to_teacher_mean", "kl_to_teacher_p99", "top1_agreement")


def cache_lines(plan: Plan) -> tuple[list[str], list[float]]:
    """One line per teacher cache of the run (bytes per response token, captured mass) and the byte counts."""
    lines, sizes = [], []
    for path in sorted({teacher.logits for task in plan.tasks.values() for teacher in task.teachers.values()}):
        file = REPO / path
        if not file.is_file():
            continue
        fingerprint = read_fingerprint(file)
        tokens = int(fingerprint.get("response_tokens") or 0)
        per_token = file.stat().st_size / tokens if tokens else float("nan")
        mass = fingerprint.get("captured_mass") or {}
        sizes.append(per_token)
        lines.append(
            f"- `{file.name}`: top-{fingerprint['top_k']} over {tokens:,} response tokens, {per_token:.1f} B/token; "
            f"captured mass {mass.get('mean', float('nan')):.3f} (5th percentile {mass.get('p5', float('nan')):.3f})"
        )
    return lines, sizes


def diagnostics_table(summary: pd.DataFrame) -> str:
    """Perplexity, KL to the teacher and top-1 agreement of every student (mean ± sd over the seeds)."""
    rows = []
    for _, row in summary[(summary["task"] == TASK) & (summary["kind"] == "student")].iterrows():
        rows.append([row["model"], *(seq2seq_offline.cell(row, name, "{:.3f}") for name in DIAGNOSTICS)])
    header = ["Student", "Perplexity (gold responses)", "KL to teacher, mean", "KL to teacher, p99", "Top-1 agreement"]
    return harness.markdown_table(header, rows)


def targets(
    summary: pd.DataFrame, test: PairedTest | None, sizes: list[float], wall_min: float, seeds: int
) -> list[tuple[str, bool | None, str]]:
    """(target, met or None when it cannot be checked, the numbers behind it); `seeds` the run's seeds."""

    def mean(model: str, column: str) -> float | None:
        rows = summary[(summary["task"] == TASK) & (summary["model"] == model)]
        return (
            None if rows.empty or column not in rows or pd.isna(rows.iloc[0][column]) else float(rows.iloc[0][column])
        )

    found: list[tuple[str, bool | None, str]] = []
    if test is not None:
        margin = None if test.n < 2 else 2 * test.standard_error
        found.append(
            (
                "the distilled student beats its gold-only twin by more than twice the paired standard error (exact "
                "match)",
                None if margin is None else bool(test.mean > margin),
                f"mean difference {test.mean:+.3f} over {test.n} seeds, 2 × SE = "
                + ("–" if margin is None else f"{margin:.3f}"),
            )
        )
    for column, what in (("perplexity", "perplexity"), ("kl_to_teacher_mean", "mean per-token KL to the teacher")):
        distilled, twin = mean(DISTILLED, column), mean(TWIN, column)
        met = None if distilled is None or twin is None else distilled < twin
        numbers = "–" if met is None else f"{distilled:.3f} vs {twin:.3f}"
        found.append((f"the distilled student's {what} is below the twin's", met, numbers))
    found.append(
        (
            f"the cache holds at most {BYTES_TARGET:.0f} B per response token at k = 32",
            None if not sizes else all(size <= BYTES_TARGET for size in sizes),
            ", ".join(f"{size:.1f}" for size in sizes) or "no cache found",
        )
    )
    partial = seeds < FULL_SEEDS
    found.append(
        (
            f"the run of {FULL_SEEDS} seeds takes under {WALL_TARGET_MIN:.0f} min on 2 cores",
            None if wall_min != wall_min or partial else wall_min < WALL_TARGET_MIN,  # NaN: not recorded
            f"{wall_min:.0f} min" + (f" for {seeds} of the {FULL_SEEDS} seeds" if partial else ""),
        )
    )
    return found


def markdown(plan: Plan, table: pd.DataFrame, settings: dict[str, str], wall_min: float) -> str:
    """The section: machine and settings, the task's table, diagnostics, paired tests, caches, targets."""
    summary = summarise(table)
    tests = {metric: seq2seq_offline.paired_tests(table, plan, metric) for metric in ("exact_match", "f1")}
    caches, sizes = cache_lines(plan)
    lines = [
        harness.machine_block(settings["machine"]),
        "",
        f"Settings: `{settings['config']}`, `seeds: [{settings['seeds']}]`; 2 Snakemake cores, 1 torch thread per job. "
        f"Wall time of the whole run: {settings['wall']}; load average while it ran: {settings['load']}. Latency: "
        f"median per question at batch size 1 (greedy generation). Results: {settings['completeness']}.",
        "",
        f"**{TASK}** — generative_qa, causal",
        "",
        seq2seq_offline.task_table(TASK, "generative_qa", table, summary),
        "",
        diagnostics_table(summary),
        "",
        "Paired against the gold-only twin (distilled − twin, per seed in seed order):",
        "",
        *seq2seq_offline.paired_lines({metric: found for metric, found in tests.items() if found}),
        "",
        "Teacher caches:",
        "",
        *caches,
        "",
        "Targets:",
        "",
    ]
    seeds = len(plan.seeds)
    for target, met, numbers in targets(summary, tests["exact_match"].get((TASK, DISTILLED)), sizes, wall_min, seeds):
        verdict = "not checkable" if met is None else ("met" if met else "**MISSED**")
        lines.append(f"- {verdict}: {target} ({numbers})")
    return "\n".join(lines)


def with_seeds(config: Path, seeds: str | None, scratch: Path) -> Path:
    """`config`, or with `seeds` (e.g. `13`) a copy of it in `scratch` that runs those seeds only: same experiment
    name, same per-seed folders, so that the full run later resumes from what it made."""
    if seeds is None:
        return config
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["seeds"] = [int(seed) for seed in seeds.split(",")]
    return harness.write_config(raw, scratch, config.stem)


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) causal-offline and write its docs section; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-run", action="store_true", help="summarise a finished run (give --wall-min, --load)")
    parser.add_argument("--wall-min", type=float, help="with --no-run: the run's wall time in minutes")
    parser.add_argument("--load", help="with --no-run: the load average it ran under (text)")
    parser.add_argument("--out", type=Path, default=DOCS, help="markdown file to write the section into")
    parser.add_argument("--seeds", help="run these seeds only (comma-separated): outputs where the full run puts them")
    args = parser.parse_args(argv)
    machine = harness.machine()
    with tempfile.TemporaryDirectory(prefix="causal-offline-") as scratch:
        config_file = with_seeds(args.config.resolve(), args.seeds, Path(scratch))
        if args.no_run:
            wall, load = (args.wall_min or float("nan")) * 60, args.load or "not recorded"
        else:
            wall, load = seq2seq_offline.run_workflow(config_file, args.cores)
        config, plan = harness.load_plan(config_file, REPO)
    table, completeness = seq2seq_offline.per_seed_table(plan)
    settings = {
        "config": str(args.config.resolve().relative_to(REPO)),
        "machine": machine,
        "seeds": ", ".join(str(seed) for seed in config["seeds"]),
        "wall": f"{wall / 60:.0f} min",
        "load": load,
        "completeness": completeness,
    }
    body = markdown(plan, table, settings, wall / 60)
    harness.write_section(args.out, args.config.stem, body)
    print(body)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
