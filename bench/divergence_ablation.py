"""The KD divergences compared (issue 17): an experiment with each distilled student trained once per divergence,
over several seeds; test scores as mean ± sd and the paired difference to forward KL.

For each seed the script writes one config: the experiment's own (seed set, named `<experiment>-divergences-s<seed>`)
plus, for every trained student with teachers, one copy per other divergence (`<student>-<divergence>`: reverse_kl,
jsd with β = 0.5, skew_kl and skew_reverse_kl with α = 0.1); the original student is the forward-KL one. The
teachers and their logit caches are shared, so each seed fine-tunes its teachers once. Snakemake runs it (a rerun
resumes), then the script reads each seed's report/metrics.csv and writes a section of docs/benchmarks.md.

    python bench/divergence_ablation.py                                  # config/config.yaml, seeds 13 14 15
    python bench/divergence_ablation.py --config config/experiments/<x>.yaml --seeds 13 14 15
    python bench/divergence_ablation.py --quick                          # 1 seed, 1 epoch: a smoke test

Scores do not depend on the machine's load; the wall times do.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path
from typing import Any

import harness
import pandas as pd
import yaml

from scalingdown.pipeline.names.divergence_table import DEFAULT, DIVERGENCES, PARAMETERS

REPO = harness.REPO
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
SECTION = "divergence-ablation"
# The divergences a student is copied for, with the parameter each copy sets (the defaults: TRL's β, DistiLLM's α).
VARIANTS: dict[str, dict[str, float]] = {
    name: {} if info.parameter is None else {info.parameter: PARAMETERS[info.parameter].default}
    for name, info in DIVERGENCES.items()
    if name != DEFAULT
}


def _distilled(student: dict[str, Any], defaults: dict[str, Any]) -> bool:
    """Whether a student (with its task's student defaults) trains from teachers."""
    merged = {**defaults, **student}
    return bool(merged.get("teachers")) and merged.get("train", True) is not False


def ablation_config(base: dict[str, Any], seed: int, quick: bool) -> dict[str, Any]:
    """One seed's experiment: the base config with a copy of every distilled student per other divergence."""
    config = copy.deepcopy(base)
    config.pop("seeds", None)  # one run per seed: the script pairs the copies seed by seed itself
    config["seed"] = seed
    config["experiment"] = f"{base['experiment']}-divergences{'-quick' if quick else ''}-s{seed}"
    for task in config["tasks"].values():
        defaults = task.get("student_defaults") or {}
        students: dict[str, Any] = {}
        for name, student in task["students"].items():
            students[name] = student
            if not _distilled(student, defaults):
                continue
            for divergence, parameter in VARIANTS.items():
                variant = copy.deepcopy(student)
                variant["loss"] = {**variant.get("loss", {}), "divergence": divergence, **parameter}
                students[f"{name}-{divergence}"] = variant
        task["students"] = students
        if quick:
            for member in [*task["teachers"].values(), *students.values(), defaults]:
                for key in ("finetune", "training"):
                    if isinstance(member.get(key), dict):
                        member[key]["epochs"] = 1
    return config


def run_seed(config: dict[str, Any], workdir: Path, cores: int) -> float:
    """Run (or resume) one seed's experiment with Snakemake; returns its wall seconds."""
    directory = workdir / "results" / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    path = harness.write_config(config, directory, config["experiment"])
    print(f"seed {config['seed']}: snakemake --cores {cores} --configfile {path}", flush=True)
    start = time.perf_counter()
    harness.snakemake(workdir, "--cores", str(cores), "--configfile", str(path))
    return time.perf_counter() - start


def divergence_of(student: str, originals: set[str]) -> tuple[str, str]:
    """(the student it was copied from, its divergence label) of a model name in an ablation experiment."""
    for divergence in VARIANTS:
        if student.endswith(f"-{divergence}") and student[: -len(divergence) - 1] in originals:
            parameter = VARIANTS[divergence]
            shown = "".join(f", {'β' if key == 'beta' else 'α'} = {value:g}" for key, value in parameter.items())
            return student[: -len(divergence) - 1], divergence + shown
    return student, DEFAULT if student in originals else ""


def seed_rows(workdir: Path, config: dict[str, Any], base: dict[str, Any]) -> pd.DataFrame:
    """One row per model of a finished seed: task, model, kind, base student, divergence, the scores."""
    metrics = pd.read_csv(workdir / "results" / config["experiment"] / "report" / "metrics.csv")
    rows = []
    for _, row in metrics.iterrows():
        task = base["tasks"][row["task"]]
        defaults = task.get("student_defaults") or {}
        originals = {name for name, student in task["students"].items() if _distilled(student, defaults)}
        origin, divergence = divergence_of(row["model"], originals) if row["kind"] == "student" else (row["model"], "")
        primary = row["primary_metric"]
        rows.append(
            {
                "seed": config["seed"],
                "task": row["task"],
                "model": row["model"],
                "kind": row["kind"],
                "origin": origin,
                "divergence": divergence,
                "metric": primary,
                "score": float(row[primary]),
                "f1_macro": float(row["f1_macro"]) if "f1_macro" in row and pd.notna(row["f1_macro"]) else None,
            }
        )
    return pd.DataFrame(rows)


def _mean_sd(values: list[float], digits: int = 4) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{mean:.{digits}f}" + ("" if sd != sd else f" ± {sd:.{digits}f}")


def summary(frame: pd.DataFrame) -> str:
    """Per task: every model's score (and macro-F1) as mean ± sd over seeds, with n; for each divergence copy,
    the paired per-seed difference to its forward-KL original."""
    blocks = []
    for task, rows in frame.groupby("task", sort=False):
        metric = rows["metric"].iloc[0]
        with_f1 = rows["f1_macro"].notna().any() and metric != "f1_macro"
        header = ["Model", "Divergence", metric, *(["macro-F1"] if with_f1 else []), f"Δ {metric} vs forward_kl", "n"]
        table = []
        for model, group in rows.groupby("model", sort=False):
            first = group.iloc[0]
            paired = "–"
            if first["divergence"] not in ("", DEFAULT):
                original = rows[rows["model"] == first["origin"]].set_index("seed")["score"]
                differences = [score - original[seed] for seed, score in zip(group["seed"], group["score"])]
                paired = _mean_sd(differences)
            cells = [model, first["divergence"] or first["kind"], _mean_sd(group["score"].tolist())]
            if with_f1:
                cells.append(_mean_sd(group["f1_macro"].dropna().tolist()))
            table.append([*cells, paired, len(group)])
        blocks.append(f"Task `{task}`:\n\n" + harness.markdown_table(header, table))
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the divergence ablation and write its docs section; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the experiment (default: the default one)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--cores", type=int, default=2, help="Snakemake cores")
    parser.add_argument("--workdir", type=Path, default=REPO, help="where results/ lives (default: the repository)")
    parser.add_argument("--quick", action="store_true", help="1 seed, every epoch count 1; writes under results/bench")
    parser.add_argument("--docs", type=Path, default=harness.DOCS, help="markdown file to update")
    parser.add_argument("--no-docs", action="store_true", help="print the section instead of writing it")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    seeds = args.seeds[:1] if args.quick else args.seeds
    base = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    info = harness.machine()
    per_seed, walls = [], []
    for seed in seeds:
        config = ablation_config(base, seed, args.quick)
        harness.resolved_config(config, workdir)  # a bad config stops here, before any job
        walls.append(run_seed(config, workdir, args.cores))
        per_seed.append(seed_rows(workdir, config, base))
    frame = pd.concat(per_seed, ignore_index=True)
    config_name = args.config.resolve()
    config_name = config_name.relative_to(REPO) if config_name.is_relative_to(REPO) else config_name
    settings = (
        f"Settings: `{config_name}`{' reduced by --quick (every epoch count 1)' if args.quick else ''}, seeds "
        f"{', '.join(map(str, seeds))} (each seed re-splits the data and retrains every model), {args.cores} Snakemake "
        f"cores; β = {PARAMETERS['beta'].default:g} for jsd, α = {PARAMETERS['alpha'].default:g} for the skews; every "
        "other setting as in the config. Test-split scores, mean ± sd over seeds (n seeds); Δ is the mean ± sd over "
        "seeds of the per-seed difference to the forward-KL student of the same seed (same data, teacher and init). "
        f"Wall time per seed: {', '.join(f'{wall / 60:.1f} min' for wall in walls)} (a resumed seed counts only what "
        "it ran; the machine's load changes these, not the scores)."
    )
    body = "\n\n".join([harness.machine_block(info), settings, summary(frame)])
    if args.no_docs:
        print(body)
        return 0
    docs = args.docs if not args.quick else workdir / "results" / "bench" / "divergence_ablation-quick.md"
    harness.write_section(docs, SECTION + ("-quick" if args.quick else ""), body)
    print(body, f"\nwritten to {docs}", sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
