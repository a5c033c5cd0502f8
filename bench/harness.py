"""What the benchmark scripts share: the experiment plan, Snakemake runs, per-process timing and
peak memory, the machine description, and writing a section of docs/benchmarks.md.

The scripts import this module from `bench/` (Python puts a script's folder on the path) and use
the package from this checkout's `src/`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from scalingdown.pipeline.config.checks import check_config  # noqa: E402
from scalingdown.pipeline.config.defaults import apply_member_defaults  # noqa: E402
from scalingdown.pipeline.plan.experiment import Plan  # noqa: E402

DOCS = REPO / "docs" / "benchmarks.md"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
# Rules that build teacher-side or shared artefacts: a student-only change must schedule none of them.
SHARED_RULES = ("prepare", "finetune_teacher", "teacher_logits", "init_student")


def environment() -> dict[str, str]:
    """The environment of every child process: this checkout's package, this interpreter's scripts on
    PATH (as the workflow's rules have them), no hub access."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def resolved_config(raw: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """A config as the workflow sees it: student defaults merged, schema defaults filled, checked."""
    from snakemake.utils import validate

    config = copy.deepcopy(raw)
    apply_member_defaults(config)
    validate(config, str(SCHEMA))
    check_config(config, workdir)
    return config


def load_plan(config_path: Path, workdir: Path) -> tuple[dict[str, Any], Plan]:
    """The resolved config of an experiment file and its plan."""
    raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    config = resolved_config(raw, workdir)
    return config, Plan(config)


def write_config(config: dict[str, Any], directory: Path, name: str) -> Path:
    """Write a config for `snakemake --configfile` (YAML floats keep their decimal point)."""
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run this checkout's workflow in `workdir`."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=environment())
    if check and result.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def scheduled_jobs(dry_run_output: str) -> dict[str, int]:
    """The `Job stats` table of a Snakemake dry run as {rule: count} (empty when nothing is to be done)."""
    if "Job stats:" not in dry_run_output:
        return {}
    table = dry_run_output.split("Job stats:")[1].split("Reasons:")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


@dataclass(frozen=True)
class Measured:
    """One child process: wall time, its own peak resident memory, exit status, end of its stderr."""

    wall_s: float
    peak_rss_mb: float
    returncode: int
    stderr_tail: str


def run_measured(command: list[str], cwd: Path) -> Measured:
    """Run `command` and measure it alone (os.wait4 gives this child's own peak RSS)."""
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=environment(), stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", errors="replace")[-3000:]
    return Measured(wall, usage.ru_maxrss / 1024, process.returncode, tail)


def median(values: list[float]) -> float:
    """The median of `values`."""
    return statistics.median(values)


def _cpu_model() -> str:
    from scalingdown.evaluation.timing import cpu_name

    return cpu_name()


def _memory_gib() -> str:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return "unknown"
    return f"{pages * page_size / 2**30:.1f}"


def _git_commit() -> str:
    from scalingdown.report.reproducibility import git_state

    state = git_state(REPO)
    if state["commit"] is None:
        return state["note"]
    return state["commit"][:12] + (" (uncommitted changes)" if state["dirty"] else "")


def machine() -> dict[str, str]:
    """Where and when a benchmark ran (call it before measuring), stated with its numbers."""
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "host": platform.node(),
        "CPU": f"{_cpu_model()}, {os.cpu_count()} logical CPUs",
        "memory (GiB)": _memory_gib(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python / torch": f"{platform.python_version()} / {torch.__version__}",
        "load average at start (1 min)": f"{load:.2f}",
        "git commit": _git_commit(),
    }


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table of `rows` under `header`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_block(info: dict[str, str]) -> str:
    """The machine and the command that open every generated section."""
    table = markdown_table(["Machine", ""], [[key, value] for key, value in info.items()])
    return f"{table}\n\nCommand: `{command_line()}`"


def write_section(docs: Path, name: str, body: str) -> None:
    """Replace the generated part of section `name` in `docs` (between its markers), or append it."""
    start, end = f"<!-- bench:{name} start -->", f"<!-- bench:{name} end -->"
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    docs.parent.mkdir(parents=True, exist_ok=True)
    temporary = docs.with_name(f".{docs.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, docs)


def command_line() -> str:
    """How this script was invoked, for the section it writes."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(REPO)
    return " ".join(["python", str(script), *sys.argv[1:]])


def argument_parser(description: str, cores_help: str = "Snakemake cores") -> argparse.ArgumentParser:
    """The options every workflow benchmark takes: configs, cores, working directory, docs file."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, action="append", required=True, help="experiment config (repeatable)")
    parser.add_argument("--cores", type=int, default=2, help=cores_help)
    parser.add_argument("--workdir", type=Path, default=REPO, help="where results/ lives (default: repo)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="markdown file to update")
    parser.add_argument("--no-docs", action="store_true", help="print the section(s) instead of writing them")
    return parser


def measure_configs(args: argparse.Namespace, measure: Any, scratch_prefix: str) -> tuple[list[Any], dict[str, str]]:
    """`measure(config path, args, scratch dir)` for each `--config`, run in `--workdir` (plan paths are
    relative to it, as in the workflow); returns the results and the machine description."""
    args.workdir = args.workdir.resolve()
    args.config = [path.resolve() for path in args.config]
    os.chdir(args.workdir)
    info = machine()
    with tempfile.TemporaryDirectory(prefix=scratch_prefix) as scratch:
        results = [measure(path, args, Path(scratch)) for path in args.config]
    return results, info


def publish(args: argparse.Namespace, sections: dict[str, str]) -> None:
    """Write each named section into `--docs`, or print them with `--no-docs`."""
    if args.no_docs:
        print(*sections.values(), sep="\n\n")
        return
    for name, text in sections.items():
        write_section(args.docs, name, text)
    print(f"wrote {args.docs}")
