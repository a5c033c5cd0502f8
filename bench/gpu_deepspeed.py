"""Time an experiment with DeepSpeed ZeRO-2 + bf16 against plain fp32 training, on this machine's GPUs.

    python bench/gpu_deepspeed.py                      # the tiny test experiment, all GPUs of this machine
    python bench/gpu_deepspeed.py --config config/config.yaml --processes 2
    python bench/gpu_deepspeed.py --allow-cpu --processes 2 --no-docs   # check the script on a CPU machine

Each variant runs the whole workflow (`snakemake --cores N`) in a fresh working directory:
  - baseline: one training process, fp32, no DeepSpeed;
  - deepspeed: `distributed: {processes: N, deepspeed: config/ds_config.json}` and `precision: bf16`
    (fp32 with --allow-cpu on a machine without CUDA, where N processes share the CPU over gloo).
The table gives the workflow's wall time, the Trainer's `train_runtime` of the teacher fine-tune and
of each distilled student, and the students' test accuracy. It replaces the `gpu-deepspeed` section
of docs/benchmarks.md (or is printed with --no-docs).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import yaml

REPO, DOCS = harness.REPO, harness.DOCS
SECTION = "gpu-deepspeed"
TRAINING_RULES = ("finetune_teacher", "distill")
TRAIN_RUNTIME = re.compile(r"'train_runtime': '([\d.]+)'")
HASH_SUFFIX = re.compile(r"-[0-9a-f]{10}$")  # cache keys differ between variants; names do not


def variant_config(base: dict[str, Any], processes: int, deepspeed: bool, precision: str, gpus: int) -> dict[str, Any]:
    """`base` with every training mapping set to `precision` and the training stages launched as asked."""
    config = copy.deepcopy(base)
    config["distributed"] = {
        "processes": processes if deepspeed else 1,
        "deepspeed": str(REPO / "config" / "ds_config.json") if deepspeed else None,
    }
    resources = config.setdefault("resources", {})
    for stage in TRAINING_RULES:
        resources.setdefault(stage, {})["gpu"] = gpus
    for task in config["tasks"].values():
        for teacher in task["teachers"].values():
            if teacher.get("finetune", {}) is not False:
                teacher["finetune"] = {**(teacher.get("finetune") or {}), "precision": precision}
        defaults = task.setdefault("student_defaults", {})
        defaults["training"] = {**defaults.get("training", {}), "precision": precision}
        for student in task["students"].values():
            if "training" in student:
                student["training"] = {**student["training"], "precision": precision}
    return config


def run_variant(name: str, config: dict[str, Any], workdir: Path, cores: int, gpus: int) -> dict[str, Any]:
    """Run the workflow for `config` in `workdir` (GPU jobs one at a time); returns its timings and scores."""
    workdir.mkdir(parents=True)
    config_file = workdir / "experiment.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(config_file),
        "--cores",
        str(cores),
        "--resources",
        f"gpu={gpus}",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=harness.environment())
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{name}: the workflow failed:\n{result.stderr[-4000:]}")
    logs = workdir / "results" / config["experiment"] / "logs"
    runtimes = {}
    for rule in TRAINING_RULES:
        for log in sorted((logs / rule).glob("*.log")):
            found = TRAIN_RUNTIME.findall(log.read_text(encoding="utf-8", errors="replace"))
            if found:
                runtimes[f"{rule} {HASH_SUFFIX.sub('', log.stem)}"] = float(found[-1])
    import pandas as pd

    metrics = pd.read_csv(workdir / "results" / config["experiment"] / "report" / "metrics.csv")
    accuracy = {f"{row.task}/{row.model}": float(row.accuracy) for row in metrics.itertuples()}
    return {"name": name, "wall_s": wall, "train_runtime_s": runtimes, "accuracy": accuracy}


def machine() -> str:
    """The GPUs and the versions of DeepSpeed, torch and transformers, in words."""
    import deepspeed
    import torch
    import transformers

    device = (
        f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
        if torch.cuda.is_available()
        else "no CUDA device (CPU only)"
    )
    commit = (
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
        or "unknown"
    )
    return (
        f"{platform.node()}: {device}, {os.cpu_count()} CPUs; torch {torch.__version__}, transformers "
        f"{transformers.__version__}, deepspeed {deepspeed.__version__}; commit {commit}; "
        f"{datetime.date.today().isoformat()}"
    )


def table(results: list[dict[str, Any]], settings: str) -> str:
    """One row per measurement, one column per variant."""
    rows: dict[str, list[str]] = {"workflow wall time, s": [f"{r['wall_s']:.1f}" for r in results]}
    for label, key, digits in (("train_runtime, s:", "train_runtime_s", 2), ("test accuracy:", "accuracy", 3)):
        for name in sorted({name for result in results for name in result[key]}):
            rows[f"{label} {name}"] = [f"{r[key][name]:.{digits}f}" if name in r[key] else "–" for r in results]
    lines = [
        f"Machine: {machine()}.",
        f"Settings: {settings}.",
        "",
        "| | " + " | ".join(r["name"] for r in results) + " |",
        "|---" + "|---" * len(results) + "|",
    ]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows.items()]
    return "\n".join(lines)


def main() -> None:
    """Time the experiment with DeepSpeed ZeRO-2 + bf16 and with plain fp32 on this machine's GPUs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "tests" / "configs" / "tiny.yaml")
    parser.add_argument("--processes", type=int, default=None, help="training processes (default: every GPU)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", type=Path, default=None, help="where to run (default: a temporary folder)")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (fp32, gloo): checks the script")
    parser.add_argument("--no-docs", action="store_true", help="print the table instead of writing docs/")
    args = parser.parse_args()

    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        raise SystemExit("no CUDA device: this benchmark needs a GPU (or --allow-cpu to check the script)")
    gpus = torch.cuda.device_count() if cuda else 0
    processes = args.processes or gpus or 2
    precision = "bf16" if cuda else "fp32"
    base = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gpu-deepspeed-"))
    results = [
        run_variant(
            "fp32, 1 process", variant_config(base, 1, False, "fp32", int(cuda)), workdir / "baseline", args.cores, gpus
        ),
        run_variant(
            f"{precision} + DeepSpeed ZeRO-2, {processes} process(es)",
            variant_config(base, processes, True, precision, processes if cuda else 0),
            workdir / "deepspeed",
            args.cores,
            gpus,
        ),
    ]
    settings = (
        f"experiment {args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config}, "
        f"`snakemake --cores {args.cores} --resources gpu={gpus}`, config/ds_config.json, "
        "each variant run once in a fresh folder"
    )
    text = table(results, settings)
    if args.no_docs:
        print(text)
    else:
        harness.write_section(DOCS, SECTION, text)
        print(f"wrote the {SECTION} section of {DOCS}")


if __name__ == "__main__":
    main()
