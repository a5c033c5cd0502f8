"""Text-to-text distillation offline over three seeds: runs `config/experiments/seq2seq-offline.yaml` (or, with
`--config`, `seq2seq-budget.yaml`: the built-in questions with a label budget), writes the docs section.

The workflow does the work (`seeds: [13, 14, 15]`: per seed its own questions, split, fine-tuned teacher, top-k
cache and students). This script runs Snakemake once from the repository root (a finished run is not redone),
samples the load average while it runs, and turns the report's per-seed metrics into a section of
docs/benchmarks.md with the report's own statistics (`report.seed_statistics`): every model's mean ± sd per task,
the paired test of each distilled student against its gold-only twin (exact match and token F1 on the generative
task, accuracy on the multiple-choice ones), and the targets of issue 16:

- on the built-in generative task (`finqa`) the teacher reaches >= 0.8 exact match;
- there, the distilled student beats its gold-only twin beyond seed noise (paired over seeds);
- on Social IQA the teacher is >= 5 points above chance (three options: 1/3).

    python bench/seq2seq_offline.py                                    # run (or resume), then write the section
    python bench/seq2seq_offline.py --no-run --wall-min 71 --load 8-12 # a run made by hand: state its wall time
    python bench/seq2seq_offline.py --config config/experiments/seq2seq-budget.yaml   # section seq2seq-budget

Timings depend on what else runs on the machine: the section states the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import harness
import pandas as pd

from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.seed_statistics import PairedTest, paired_comparisons, summarise
from scalingdown.report.tables import metrics_table

REPO, DOCS = harness.REPO, harness.DOCS
CONFIG = REPO / "config" / "experiments" / "seq2seq-offline.yaml"  # the section is named after the config's stem
GENERATIVE, SOCIAL_IQA = "finqa", "social_iqa"
CHANCE = {"social_iqa": 1 / 3, "winogrande": 1 / 2}
EXACT_MATCH_TARGET, ABOVE_CHANCE_TARGET = 0.8, 0.05
SCORES = {"generative_qa": ("exact_match", "f1"), "multiple_choice": ("accuracy",)}
NAMES = {"exact_match": "Exact match", "f1": "Token F1", "accuracy": "Accuracy"}


class LoadSampler:
    """The 1-minute load average, sampled every `period` seconds in a background thread while a run lasts."""

    def __init__(self, period: float = 30.0) -> None:
        self.period, self.samples = period, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def text(self) -> str:
        """The load average while the run ran, in words."""
        low, high, mean = min(self.samples), max(self.samples), sum(self.samples) / len(self.samples)
        return f"{mean:.1f} on average ({low:.1f}–{high:.1f}, {len(self.samples)} samples)"


def run_workflow(config: Path, cores: int) -> tuple[float, str]:
    """Run (or resume) the experiment from the repository root; the wall seconds and the load it ran under."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", str(config)]
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    with LoadSampler() as load:
        subprocess.run(command, cwd=REPO, env=harness.environment(), check=True)
    return time.perf_counter() - start, load.text()


def per_seed_table(plan: Plan) -> tuple[pd.DataFrame, str]:
    """The report's metrics (one row per task, model and seed) and how complete they are. Before the report
    exists (a run stopped early), the same table is built by the report's own function from the evaluations
    written so far."""
    report = REPO / plan.root / "report" / "metrics.csv"
    if report.is_file():
        return pd.read_csv(report), "complete"
    planned = {  # the evaluation records (the report's other inputs are histories and ensemble records)
        REPO / path: owner
        for path, owner in plan.report_inputs().items()
        if owner.kind in ("teacher", "student") and Path(path).parent.name == "eval"
    }
    records = [
        {**json.loads(path.read_text(encoding="utf-8")), "seed": owner.task.seed}
        for path, owner in planned.items()
        if path.is_file()
    ]
    types = {task.name: task.type for task in plan.tasks.values()}
    return metrics_table(plan.experiment, records, types), f"partial: {len(records)} of {len(planned)} evaluations"


def paired_tests(table: pd.DataFrame, plan: Plan, metric: str) -> dict[tuple[str, str], PairedTest]:
    """(task, distilled student) → its paired test against the gold-only twin on `metric` (tasks that have it)."""
    scored = table[table[metric].notna()] if metric in table else table.iloc[0:0]
    comparisons = paired_comparisons(scored.assign(primary_metric=metric), plan.twins())
    return {(row.task, row.student): row.test for row in comparisons.itertuples(index=False)}


def cell(row: pd.Series, column: str, pattern: str) -> str:
    """A mean (± sd when there is one) of the summary row formatted with `pattern`, or – when missing."""
    if pd.isna(row.get(column)):
        return "–"
    sd = row.get(f"{column}_sd")
    return pattern.format(row[column]) + ("" if sd is None or pd.isna(sd) else " ± " + pattern.format(sd))


def _per_seed(table: pd.DataFrame, task: str, model: str, metric: str) -> str:
    rows = table[(table["task"] == task) & (table["model"] == model)].sort_values("seed")
    return ", ".join(f"{value:.3f} ({seed})" for seed, value in zip(rows["seed"], rows[metric]))


def task_table(task: str, task_type: str, table: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The models of one task: role, mean ± sd of its scores over the seeds, each seed's value, size, latency."""
    scores = SCORES[task_type]
    header = ["Model", "Role", *(f"{NAMES[name]} (mean ± sd)" for name in scores), f"{NAMES[scores[0]]} per seed"]
    header += ["Parameters (M)", "Latency (ms/question)"]
    rows = []
    for _, row in summary[summary["task"] == task].iterrows():
        rows.append(
            [
                row["model"],
                row["role"],
                *(cell(row, name, "{:.3f}") for name in scores),
                _per_seed(table, task, row["model"], scores[0]),
                f"{row['params'] / 1e6:.1f}",
                cell(row, "latency_ms_per_sample", "{:.1f}"),
            ]
        )
    return harness.markdown_table(header, rows)


def paired_lines(tests: dict[str, dict[tuple[str, str], PairedTest]]) -> list[str]:
    """One line per (task, distilled student, metric): per-seed differences, mean, standard error, verdict."""
    lines = []
    for metric, by_student in tests.items():
        for (task, student), test in sorted(by_student.items()):
            error = "–" if test.n < 2 else f"{test.standard_error:.3f}"
            differences = ", ".join(f"{value:+.3f}" for value in test.differences)
            lines.append(
                f"- {task}, {student} − gold_only, {metric}: {differences} (mean {test.mean:+.3f}, "
                f"standard error {error}): {test.verdict}"
            )
    return lines


def check_targets(
    summary: pd.DataFrame, tests: dict[str, dict[tuple[str, str], PairedTest]]
) -> list[tuple[str, bool | None, str]]:
    """(target, met or None when it cannot be checked, the numbers behind it)."""

    def teacher(task: str) -> pd.Series | None:
        rows = summary[(summary["task"] == task) & (summary["kind"] == "teacher")]
        return None if rows.empty else rows.iloc[0]

    targets: list[tuple[str, bool | None, str]] = []
    qa = teacher(GENERATIVE)
    if qa is not None:
        targets.append(
            (
                f"the {GENERATIVE} teacher reaches >= {EXACT_MATCH_TARGET} exact match",
                bool(qa["exact_match"] >= EXACT_MATCH_TARGET),
                f"{cell(qa, 'exact_match', '{:.3f}')}",
            )
        )
    test = tests.get("exact_match", {}).get((GENERATIVE, "distilled"))
    if test is not None:
        noise = "no test with one seed" if test.n < 2 else f"2 × standard error = {2 * test.standard_error:.3f}"
        targets.append(
            (
                f"the distilled {GENERATIVE} student beats its gold-only twin beyond seed noise (exact match, paired)",
                None if test.beyond_noise is None else bool(test.beyond_noise and test.mean > 0),
                f"mean difference {test.mean:+.3f} over {test.n} seeds, {noise}",
            )
        )
    social = teacher(SOCIAL_IQA)
    if social is not None:
        above = social["accuracy"] - CHANCE[SOCIAL_IQA]
        targets.append(
            (
                f"the {SOCIAL_IQA} teacher is >= {ABOVE_CHANCE_TARGET * 100:.0f} points above chance (1/3)",
                bool(above >= ABOVE_CHANCE_TARGET),
                f"accuracy {cell(social, 'accuracy', '{:.3f}')}: {above * 100:+.1f} points",
            )
        )
    return targets


def markdown(plan: Plan, table: pd.DataFrame, settings: dict[str, str]) -> str:
    """The section: machine and settings, one table per task, the paired tests, the targets."""
    summary = summarise(table)
    types = {task.name: task.type for task in plan.tasks.values()}
    tests = {metric: paired_tests(table, plan, metric) for metric in ("exact_match", "f1", "accuracy")}
    lines = [
        harness.machine_block(settings["machine"]),
        "",
        f"Settings: `{settings['config']}`, `seeds: [{settings['seeds']}]` (each seed draws its own "
        "questions, split, new decoder blocks and batch order, and fine-tunes its own teacher); 2 Snakemake cores, "
        f"1 torch thread per job. Wall time of the whole run: {settings['wall']}; load average while it ran: "
        f"{settings['load']} (the machine is shared; times are pessimistic). Latency: median per question at "
        "batch size 1 (generation for finqa, scoring every option for the multiple-choice tasks). Results: "
        f"{settings.get('completeness', 'complete')}.",
    ]
    for task, task_type in types.items():
        chance = f" (chance {CHANCE[task]:.3f})" if task in CHANCE else ""
        lines += ["", f"**{task}** — {task_type}{chance}", "", task_table(task, task_type, table, summary)]
    lines += ["", "Paired against the gold-only twin (distilled − twin, per seed in seed order):", ""]
    lines += paired_lines({metric: found for metric, found in tests.items() if found})
    lines += ["", "Targets:", ""]
    for target, met, numbers in check_targets(summary, tests):
        verdict = "not checkable" if met is None else ("met" if met else "**MISSED**")
        lines.append(f"- {verdict}: {target} ({numbers})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the offline text-to-text experiment and write its docs section; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG, help="the experiment (its stem names the section)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-run", action="store_true", help="summarise a finished run (give --wall-min, --load)")
    parser.add_argument("--wall-min", type=float, help="with --no-run: the run's wall time in minutes")
    parser.add_argument("--load", help="with --no-run: the load average it ran under (text)")
    parser.add_argument("--out", type=Path, default=DOCS, help="markdown file to write the section into")
    args = parser.parse_args(argv)
    machine = harness.machine()
    if args.no_run:
        wall, load = (args.wall_min or float("nan")) * 60, args.load or "not recorded"
    else:
        wall, load = run_workflow(args.config, args.cores)
    config, plan = harness.load_plan(args.config.resolve(), REPO)
    settings = {
        "config": str(args.config.resolve().relative_to(REPO)),
        "machine": machine,
        "seeds": ", ".join(str(seed) for seed in config["seeds"]),
        "wall": f"{wall / 60:.0f} min",
        "load": load,
    }
    table, completeness = per_seed_table(plan)
    settings["completeness"] = completeness
    body = markdown(plan, table, settings)
    harness.write_section(args.out, args.config.stem, body)
    print(body)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
