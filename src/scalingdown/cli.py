"""Command-line entry points: one subcommand per workflow stage (what each Snakemake rule runs).

Every stage takes `--spec`: the JSON the workflow passes as the rule's params (inline JSON, or
`@file` with JSON or YAML), so a stage runs alone exactly as Snakemake runs it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalingdown.data.registry import TASK_TYPES
from scalingdown.errors import UserError

# How `data inspect` names a key that `check_data` reports relative to a task.
_INSPECT_ARGUMENTS = {
    "data.loader": "--loader",
    "type": "--type",
    "data.options": "--path / --options",
    "data.options.path": "--path",
    "data.options.labels_path": "--labels",
}


def _spec(value: str) -> dict[str, Any]:
    if value.startswith("@"):
        path = Path(value[1:])
        text = path.read_text(encoding="utf-8")
        if path.suffix in {".yaml", ".yml"}:
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    return json.loads(value)


def _run_prepare(args: argparse.Namespace) -> None:
    from scalingdown.data.prepare import prepare

    prepare(args.spec, args.out, args.experiment)


def _run_finetune_teacher(args: argparse.Namespace) -> None:
    from scalingdown.stages.finetune_teacher import finetune_teacher

    finetune_teacher(args.spec, args.data, args.out, args.history, args.checkpoints, args.experiment)


def _run_teacher_logits(args: argparse.Namespace) -> None:
    from scalingdown.stages.teacher_logits import teacher_logits

    teacher_logits(args.spec, args.data, args.out, args.batch_size, args.experiment)


def _run_init_student(args: argparse.Namespace) -> None:
    from scalingdown.stages.init_student import init_student

    init_student(args.spec, args.out, args.experiment)


def _run_distill(args: argparse.Namespace) -> None:
    from scalingdown.stages.distill import distill

    distill(args.spec, args.data, args.init, args.logits, args.out, args.history, args.checkpoints)


def _run_evaluate(args: argparse.Namespace) -> None:
    from scalingdown.stages.evaluate import evaluate

    evaluate(args.spec, args.data, args.model, args.out)


def _run_report(args: argparse.Namespace) -> None:
    from scalingdown.stages.report import report

    report(args.spec, args.evals, args.histories, args.out, args.cached, args.workflow_dir, args.ensembles)


def _run_data_inspect(args: argparse.Namespace) -> None:
    from scalingdown.data.inspect import inspect_data
    from scalingdown.data.registry import DataConfigError

    options = dict(args.options)
    if args.path:
        options["path"] = args.path
    if args.labels:
        options["labels_path"] = args.labels
    try:
        result = inspect_data(args.loader, options, args.type, args.seed)
    except DataConfigError as error:
        argument = _INSPECT_ARGUMENTS.get(error.key, f"--options {error.key.removeprefix('data.options.')}")
        raise UserError(f"{argument}: {error.problem}") from None
    print(json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False))


def _data_commands(subparsers: Any) -> None:
    data = subparsers.add_parser("data", help="look at a dataset before an experiment uses it")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    description = "load a dataset as `prepare` does; print its row, duplicate and label counts as JSON"
    inspect = commands.add_parser("inspect", help=description, description=description)
    inspect.add_argument("--loader", required=True, help="a registered loader (see config/README.md)")
    inspect.add_argument("--path", help="the data file (the loader's `path` option)")
    inspect.add_argument("--labels", help="a separate labels file (the loader's `labels_path` option)")
    inspect.add_argument(
        "--options", type=_spec, default={}, help="more loader options: JSON, or @file.json / @file.yaml"
    )
    inspect.add_argument("--type", choices=TASK_TYPES, help="the task type, for loaders that read several")
    inspect.add_argument("--seed", type=int, default=0, help="seed of generated data (synthetic_finance)")
    inspect.set_defaults(run=_run_data_inspect, torch_stage=False)


def _run_teacher_ensemble(args: argparse.Namespace) -> None:
    from scalingdown.stages.teacher_ensemble import teacher_ensemble

    teacher_ensemble(args.spec, args.data, args.logits, args.out)


def _stage(
    subparsers: Any,
    name: str,
    run: Callable[[argparse.Namespace], None],
    help_text: str,
    torch_stage: bool = True,
    shared: bool = False,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--spec", type=_spec, required=True, help="stage spec: JSON, or @file.json / @file.yaml")
    if shared:
        parser.add_argument(
            "--experiment",
            default=None,
            help="the experiment building this shared artefact (recorded in its provenance)",
        )
    if torch_stage:
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="torch CPU threads, shared by a launcher's processes (default: torch's)",
        )
    parser.set_defaults(run=run, torch_stage=torch_stage)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The `scalingdown` argument parser."""
    parser = argparse.ArgumentParser(prog="scalingdown", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    stages = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prepare = _stage(
        stages,
        "prepare",
        _run_prepare,
        "load, validate, de-duplicate and split a dataset",
        torch_stage=False,
        shared=True,
    )
    prepare.add_argument("--out", required=True, help="output directory of Parquet splits")

    finetune = _stage(stages, "finetune-teacher", _run_finetune_teacher, "fine-tune a teacher on the task", shared=True)
    finetune.add_argument("--data", required=True, help="prepared data directory")
    finetune.add_argument("--out", required=True, help="output model directory")
    finetune.add_argument("--history", required=True, help="output training history (JSON)")
    finetune.add_argument("--checkpoints", required=True, help="resumable checkpoint directory")

    logits = _stage(
        stages, "teacher-logits", _run_teacher_logits, "cache a teacher's logits on every split", shared=True
    )
    logits.add_argument("--data", required=True, help="prepared data directory")
    logits.add_argument("--out", required=True, help="output Parquet logit cache")
    logits.add_argument("--batch-size", type=int, default=64)

    init = _stage(stages, "init-student", _run_init_student, "build a student's initial weights", shared=True)
    init.add_argument("--out", required=True, help="output model directory")

    distill = _stage(stages, "distill", _run_distill, "train a student from cached teacher logits")
    distill.add_argument("--data", required=True, help="prepared data directory")
    distill.add_argument("--init", required=True, help="initial student directory")
    distill.add_argument("--logits", nargs="*", default=[], help="teacher logit caches, in the spec's teacher order")
    distill.add_argument("--out", required=True, help="output model directory")
    distill.add_argument("--history", required=True, help="output training history (JSON)")
    distill.add_argument("--checkpoints", required=True, help="resumable checkpoint directory")

    evaluate = _stage(stages, "evaluate", _run_evaluate, "score a model on the test split and time it")
    evaluate.add_argument("--data", required=True, help="prepared data directory")
    evaluate.add_argument("--model", required=True, help="model directory or reference")
    evaluate.add_argument("--out", required=True, help="output evaluation record (JSON)")

    ensemble = _stage(
        stages,
        "teacher-ensemble",
        _run_teacher_ensemble,
        "teachers' scores, ensembles and agreement from their logit caches",
        torch_stage=False,
    )
    ensemble.add_argument("--data", required=True, help="prepared data directory")
    ensemble.add_argument(
        "--logits", nargs="+", required=True, help="teacher logit caches, in the spec's teacher order"
    )
    ensemble.add_argument("--out", required=True, help="output record (JSON)")

    report = _stage(
        stages, "report", _run_report, "write metrics.csv, report.md, report.html and plots", torch_stage=False
    )
    report.add_argument("--evals", nargs="+", required=True, help="evaluation records")
    report.add_argument("--histories", nargs="*", default=[], help="training histories to plot")
    report.add_argument("--cached", nargs="*", default=[], help="shared artefacts used (their provenance is reported)")
    report.add_argument("--workflow-dir", default=None, help="workflow checkout whose git commit is reported")
    report.add_argument("--ensembles", nargs="*", default=[], help="teacher_ensemble records (Teachers section)")
    report.add_argument("--out", required=True, help="report directory")

    _data_commands(stages)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; user errors print one clear line and exit with status 2."""
    args = build_parser().parse_args(argv)
    rank = f"[rank {os.environ['RANK']}] " if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"%(asctime)s {rank}%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if getattr(args, "torch_stage", False) and args.threads:
        import torch

        # Under a launcher (torchrun) the job's threads are shared by the processes on this node.
        torch.set_num_threads(max(1, args.threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    try:
        if isinstance(getattr(args, "spec", None), dict):
            from scalingdown.models import allow_remote_code

            allow_remote_code(args.spec.get("trust_remote_code", False))
        args.run(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
