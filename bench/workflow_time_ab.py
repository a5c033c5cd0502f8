"""Whether a code change made the default experiment slower: two revisions run it alternately, round by round.

Each revision is checked out into its own temporary worktree; each round runs the experiment from scratch in
both (results/ removed first), in the order A B, then B A, and so on, so that whatever else the machine does
falls on both. Per run: wall time and the CPU time of Snakemake and every job it ran (user + system, from the
kernel's accounting of the waited-for process tree). The headline is the per-round ratio B / A of CPU time, which
the machine's load moves far less than wall time.

    python bench/workflow_time_ab.py --before b57c252 --after 8e6ec5b      # issue 12: before/after the restructure
    python bench/workflow_time_ab.py --before main --after HEAD --rounds 3
    python bench/workflow_time_ab.py --before ffbc1db --after 0d9e9a8 --rounds 3 --section workflow-time-ab-25

Takes 2 × rounds default-experiment runs (about 4 minutes each on a quiet 2-core machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import harness

SECTION = "workflow-time-ab"


@dataclass(frozen=True)
class Run:
    """One run of the experiment by one revision."""

    revision: str
    round: int
    wall_s: float
    cpu_s: float


def checkout(revision: str, folder: Path) -> Path:
    """A detached worktree of `revision` under `folder`."""
    target = folder / revision.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", str(target), revision], cwd=harness.REPO, check=True)
    return target


def run_once(tree: Path, config: str, cores: int) -> tuple[float, float]:
    """Run the experiment from scratch in `tree`: (wall seconds, CPU seconds of the whole process tree)."""
    shutil.rmtree(tree / "results", ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), HF_HUB_OFFLINE="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", config]
    log = tree.parent / f"{tree.name}.log"
    start = time.perf_counter()
    with log.open("w") as stream:
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=stream, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{tree.name}: snakemake failed:\n{tail}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(before: str, after: str, rounds: int, config: str, cores: int) -> list[Run]:
    """Alternate the two revisions for `rounds` rounds (A B, B A, …)."""
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="scalingdown-ab-") as scratch:
        trees = {revision: checkout(revision, Path(scratch)) for revision in (before, after)}
        try:
            for round_number in range(rounds):
                order = (before, after) if round_number % 2 == 0 else (after, before)
                for revision in order:
                    wall, cpu = run_once(trees[revision], config, cores)
                    runs.append(Run(revision, round_number + 1, wall, cpu))
                    print(f"round {round_number + 1} {revision}: wall {wall:.1f} s, CPU {cpu:.1f} s", flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=harness.REPO, check=False)
    return runs


def section(runs: list[Run], before: str, after: str, settings: str, info: dict[str, str]) -> str:
    """The docs section: every run, then the per-round ratios after / before with their median."""
    rows = [[run.round, run.revision, f"{run.wall_s:.1f}", f"{run.cpu_s:.1f}"] for run in runs]
    ratios = {"wall": [], "cpu": []}
    for number in sorted({run.round for run in runs}):
        pair = {run.revision: run for run in runs if run.round == number}
        ratios["wall"].append(pair[after].wall_s / pair[before].wall_s)
        ratios["cpu"].append(pair[after].cpu_s / pair[before].cpu_s)
    summary = [
        [clock, ", ".join(f"{value:.3f}" for value in values), f"{statistics.median(values):.3f}"]
        for clock, values in (("CPU time", ratios["cpu"]), ("wall time", ratios["wall"]))
    ]
    load = os.getloadavg()[0]
    return "\n\n".join(
        [
            harness.machine_block(info),
            settings + f" Load average (1 min) at the end: {load:.2f}.",
            harness.markdown_table(["Round", "Revision", "Wall s", "CPU s"], rows),
            f"Ratio `{after}` / `{before}` per round, and its median (1.000 = unchanged):",
            harness.markdown_table(["Clock", "Per round", "Median"], summary),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the A/B comparison and print (or write to the docs) its table; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the revision before the change (A)")
    parser.add_argument("--after", default="HEAD", help="the revision after it (B)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; each runs both revisions once")
    parser.add_argument("--config", default="config/config.yaml", help="experiment, relative to each checkout")
    parser.add_argument("--cores", type=int, default=2, help="Snakemake cores")
    parser.add_argument("--docs", type=Path, default=harness.DOCS, help="markdown file to update")
    parser.add_argument("--no-docs", action="store_true", help="print the section instead of writing it")
    parser.add_argument("--section", default=SECTION, help="the docs section's marker name (one per comparison)")
    args = parser.parse_args(argv)
    info = harness.machine()
    runs = measure(args.before, args.after, args.rounds, args.config, args.cores)
    settings = (
        f"Settings: `{args.config}` as each revision has it, from scratch every run (results/ removed), "
        f"{args.cores} Snakemake cores, {args.rounds} rounds alternating the order (A B, B A, …). CPU time is "
        "user + system time of Snakemake and every job it ran."
    )
    body = section(runs, args.before, args.after, settings, info)
    if args.no_docs:
        print(body)
    else:
        harness.write_section(args.docs, args.section, body)
        print(body, f"\nwritten to {args.docs}", sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
