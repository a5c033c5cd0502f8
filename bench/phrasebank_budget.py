"""Label budgets on Financial PhraseBank: runs config/experiments/phrasebank-budget.yaml once per budget.

Each budget is its own experiment (`phrasebank-budget-<label>`, its config written to results/bench/); the teacher
with every label is shared by all of them (one fine-tuning per seed), the teacher on the students' budget is not.
Prints, per budget, the wall time and the report's paired tests; the numbers in docs/benchmarks.md come from the
reports (`results/phrasebank-budget-<label>/report/report.md`).

    python bench/phrasebank_budget.py --budget 0.05 0.1 0.25 1.0
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import time

import harness
import yaml

from scalingdown.pipeline.budgets import budget_text

REPO = harness.REPO
BASE_CONFIG = REPO / "config" / "experiments" / "phrasebank-budget.yaml"
TASK = "phrasebank"


def budget_label(budget: float) -> str:
    """A budget in an experiment name: `10pct` for 0.1, `200rows` for 200."""
    return f"{budget * 100:g}pct" if budget <= 1 else f"{int(budget)}rows"


def budget_config(base: dict, budget: float) -> dict:
    """The experiment with the students' label budget set to `budget`."""
    config = copy.deepcopy(base)
    config["experiment"] = f"phrasebank-budget-{budget_label(budget)}"
    config["tasks"][TASK]["data"]["label_budget"] = budget
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, nargs="+", default=[0.05, 0.1, 0.25, 1.0])
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    base = yaml.safe_load(BASE_CONFIG.read_text(encoding="utf-8"))
    for budget in args.budget:
        config = budget_config(base, budget)
        folder = REPO / "results" / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        path = harness.write_config(config, folder, config["experiment"])
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            str(args.cores),
            "--keep-going",
            "--configfile",
            str(path),
        ]
        start = time.monotonic()
        result = subprocess.run(command, cwd=REPO, env=harness.environment(), check=False)
        minutes = (time.monotonic() - start) / 60
        print(f"{budget_text(budget)}: {config['experiment']} exited {result.returncode} after {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
