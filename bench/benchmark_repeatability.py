"""Benchmark 11: how repeatable the `benchmark` stage's headline speed-ups are, quiet and under load.

Builds an experiment with Snakemake (reusing what exists), then runs one task's `benchmark` job exactly as
the workflow's rule does (same spec, models and inputs; peak memory off, it is not what is compared) three
times: twice back to back, then once with two CPU-burning processes that this script starts before and
stops after. It compares every model's headline speed-up against the best teacher (on each run's own
headline clock: wall time when quiet, CPU time when noisy) and checks the targets:

- the two back-to-back runs agree within 10 % on every headline speed-up (on a quiet machine);
- under the two burners, absolute latencies rise, the headline speed-ups stay within 10 % of the first run's,
  and the run is flagged noisy, so the report carries the warning (its markdown is rendered to check).

    python bench/benchmark_repeatability.py --config config/experiments/phrasebank-minilm.yaml

About 5 minutes once the experiment has run (three benchmark jobs of the task's 16 models).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness

from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.report.compose import report_blocks
from scalingdown.report.document import to_markdown
from scalingdown.report.reproducibility import reproducibility
from scalingdown.report.tables import metrics_table

SECTION = "benchmark-repeatability"
TOLERANCE = 0.10
BURNERS = 2
RUNS = ("quiet 1", "quiet 2", f"{BURNERS} burners")


def main() -> None:
    """Measure the benchmark stage's repeatability on each config and write the docs section."""
    parser = harness.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--task", help="the task's folder (default: the first; `<task>/seed-<n>` with seeds)")
    args = parser.parse_args()
    results, info = harness.measure_configs(args, measure, "benchmark-repeatability-")
    harness.publish(args, {SECTION: section(results, info)})


def benchmark_command(plan: harness.Plan, task: str, out: Path) -> list[str]:
    """The task's benchmark job as the workflow's rule runs it (without peak memory), writing `out`."""
    spec = json.loads(StageSpecs(plan).benchmark(task).to_json())
    spec["settings"]["memory"] = False
    return [
        sys.executable,
        "-m",
        "scalingdown",
        "benchmark",
        "--spec",
        json.dumps(spec),
        "--data",
        plan.task(task).data_dir,
        "--models",
        *plan.benchmark_locations(task),
        "--evals",
        *plan.teacher_eval_files(task),
        "--out",
        str(out),
    ]


@contextlib.contextmanager
def burners(count: int) -> Iterator[None]:
    """`count` processes that each keep one CPU core busy, stopped on leaving."""
    processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Build a task's models once, then run its benchmark stage repeatedly; the records of every run."""
    config, plan = harness.load_plan(config_path, args.workdir)
    task = args.task or next(iter(plan.tasks))  # a task's folder: its first seed with `seeds`
    targets = [path for path in plan.eval_files() if path.startswith(f"{plan.root}/{task}/eval/")]
    print(f"[{plan.experiment}] building the task's models and evaluations (reused when present) …", flush=True)
    harness.snakemake(args.workdir, "--configfile", str(config_path), "--cores", str(args.cores), *targets)
    records = {}
    for run in RUNS:
        out = scratch / f"{run.replace(' ', '-')}.json"
        with burners(BURNERS) if "burners" in run else contextlib.nullcontext():
            result = harness.run_measured(benchmark_command(plan, task, out), args.workdir)
        if result.returncode != 0:
            raise SystemExit(f"benchmark ({run}) failed:\n{result.stderr_tail}")
        records[run] = json.loads(out.read_text(encoding="utf-8"))
        print(f"  {run}: {result.wall_s:.0f} s, noisy {records[run]['noisy']}", flush=True)
    evals = [json.loads(Path(path).read_text(encoding="utf-8")) for path in targets]
    return {"experiment": plan.experiment, "task": task, "records": records, "warning": _warned(config, evals, records)}


def _warned(config: dict[str, Any], evals: list[dict[str, Any]], records: dict[str, Any]) -> bool:
    """Whether the report rendered from the loaded run's record carries the noise warning."""
    loaded = records[RUNS[-1]]
    task_types = {name: task["type"] for name, task in config["tasks"].items()}
    table = metrics_table(config["experiment"], evals, task_types, [loaded])
    repro = reproducibility(config, [loaded], [], None)
    markdown = to_markdown(report_blocks(config["experiment"], table, [], repro, None, [loaded]))
    return "> **Warning:** the timing was noisy" in markdown


def headline(record: dict[str, Any], model: str) -> float:
    """A model's headline speed-up (median, on the record's headline clock)."""
    return float(record["models"][model]["speedup"][record["headline_clock"]]["median"])


def latency(record: dict[str, Any], model: str, clock: str = "wall") -> float:
    """A model's median batch-1 latency (ms) on `clock`."""
    return float(record["models"][model]["latency_ms"][clock]["median"])


def comparison(result: dict[str, Any]) -> dict[str, Any]:
    """Per model: each run's headline speed-up and wall latency; the largest relative differences."""
    records = result["records"]
    first, second, loaded = (records[run] for run in RUNS)
    models = [name for name in first["models_in_order"] if name != first["reference"]]
    rows = {
        name: {
            "speedups": [headline(records[run], name) for run in RUNS],
            "latencies": [latency(records[run], name) for run in RUNS],
        }
        for name in models
    }
    quiet = max(abs(headline(second, name) / headline(first, name) - 1) for name in models)
    under_load = max(abs(headline(loaded, name) / headline(first, name) - 1) for name in models)
    slower = sum(latency(loaded, name) > latency(first, name) for name in first["models_in_order"])
    return {"rows": rows, "quiet": quiet, "under_load": under_load, "slower": slower, "models": len(first["models"])}


def _cores(record: dict[str, Any]) -> str:
    """The cores other processes kept busy while the models were timed, as the record states it."""
    cores = record.get("other_cpu_cores")
    return "not measured" if cores is None else f"{cores:.2f} cores"


def _met(met: bool) -> str:
    return "yes" if met else "**no**"


def section(results: list[dict[str, Any]], info: dict[str, str]) -> str:
    """The docs section of the repeatability runs."""
    parts = ["## 11. Repeatability of the benchmark stage, quiet and under load", "", harness.machine_block(info)]
    for result in results:
        numbers = comparison(result)
        records = result["records"]
        runs = "; ".join(
            f"{run}: {records[run]['headline_clock']} clock, load {records[run]['load_average']['before'][0]:.2f}"
            f"→{records[run]['load_average']['after'][0]:.2f}, other processes {_cores(records[run])}, noisy "
            f"{records[run]['noisy']}"
            + (f" ({'; '.join(records[run]['noisy_because'])})" if records[run]["noisy"] else "")
            for run in RUNS
        )
        rows = [
            [name, *(f"{value:.2f}×" for value in row["speedups"]), *(f"{value:.2f}" for value in row["latencies"])]
            for name, row in numbers["rows"].items()
        ]
        header = ["model", *(f"speed-up, {run}" for run in RUNS), *(f"wall ms, {run}" for run in RUNS)]
        noisy = records[RUNS[-1]]["noisy"]
        checks = [
            [
                "back-to-back headline speed-ups within 10 %",
                f"largest difference {numbers['quiet']:.1%}",
                _met(numbers["quiet"] <= TOLERANCE),
            ],
            [
                "with the burners: headline speed-ups within 10 % of the first run",
                f"largest difference {numbers['under_load']:.1%}",
                _met(numbers["under_load"] <= TOLERANCE),
            ],
            [
                "with the burners: absolute latencies rise",
                f"{numbers['slower']} of {numbers['models']} models slower (wall, batch 1)",
                _met(numbers["slower"] > numbers["models"] / 2),
            ],
            [
                "with the burners: flagged noisy, the report warns",
                f"noisy {noisy}, warning {result['warning']}",
                _met(noisy and result["warning"]),
            ],
        ]
        parts += [
            "",
            f"### {result['experiment']} / {result['task']}",
            "",
            f"Runs: {runs}. Speed-ups are against `{records[RUNS[0]]['reference']}` on each run's headline "
            "clock; latencies are wall-time medians at batch 1.",
            "",
            harness.markdown_table(header, rows),
            "",
            harness.markdown_table(["target", "measured", "met"], checks),
        ]
    return "\n".join(parts)


if __name__ == "__main__":
    main()
