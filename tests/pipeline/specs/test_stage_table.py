"""The table of stages: the rules' shell lines it generates, the command line built from it, and the stage
functions it calls."""

from __future__ import annotations

import importlib
import inspect
import re
import shlex
import typing

import pytest

from scalingdown.cli import build_parser
from scalingdown.pipeline.specs.stage_table import STAGES

# The rules' shell lines (for the stages that predate it, as workflow/rules/*.smk had them before the table
# generated them). A changed line changes the rule's code, so Snakemake would rerun every job of that rule.
SHELL_LINES = {
    "prepare": "python -m scalingdown prepare --spec {params.spec:q} --out {output:q}"
    " --experiment {params.experiment:q} > {log:q} 2>&1",
    "finetune_teacher": "{params.launcher} finetune-teacher --spec {params.spec:q} --data {input.data:q}"
    " --out {output.model:q} --history {output.history:q} --checkpoints {params.checkpoints:q}"
    " --experiment {params.experiment:q} --threads {threads} > {log:q} 2>&1",
    "teacher_logits": "python -m scalingdown teacher-logits --spec {params.spec:q} --data {input.data:q}"
    " --out {output:q} --experiment {params.experiment:q} --threads {threads} > {log:q} 2>&1",
    "init_student": "python -m scalingdown init-student --spec {params.spec:q} --out {output:q}"
    " --experiment {params.experiment:q} --threads {threads} > {log:q} 2>&1",
    "distill": "{params.launcher} distill --spec {params.spec:q} --data {input.data:q} --init {input.init:q}"
    " --logits {input.logits:q} --out {output.model:q} --history {output.history:q}"
    " --checkpoints {params.checkpoints:q} --threads {threads} > {log:q} 2>&1",
    "evaluate": "python -m scalingdown evaluate --spec {params.spec:q} --data {input.data:q} --model {params.model:q}"
    " --out {output:q} --threads {threads} > {log:q} 2>&1",
    "teacher_ensemble": "python -m scalingdown teacher-ensemble --spec {params.spec:q} --data {input.data:q}"
    " --logits {input.logits:q} --out {output:q} > {log:q} 2>&1",
    # Changed deliberately with the benchmark stage (issue 13): the report reads the tasks' timing records; and with
    # teacher selection (issue 14 item 4): the candidates' records.
    "report": "python -m scalingdown report --spec {params.spec:q} --evals {input.evals:q}"
    " --histories {input.histories:q} --cached {input.cached:q} --ensembles {input.ensembles:q}"
    " --benchmarks {input.benchmarks:q} --workflow-dir {params.workflow_dir:q} --out {params.out:q}"
    " --selections {input.selections:q} > {log:q} 2>&1",
    "export": "python -m scalingdown export --spec {params.spec:q} --model {input.model:q} --out {output:q}"
    " --threads {threads} > {log:q} 2>&1",
    "select_teacher": "python -m scalingdown select-teacher --spec {params.spec:q} --models {input.models:q}"
    " --histories {input.histories:q} --out {output.model:q} --history {output.history:q}"
    " --selection {output.selection:q} --experiment {params.experiment:q} > {log:q} 2>&1",
    # Added with issue 27: the check that runs before every distill (a refused input keeps the previous student).
    "check_distill_inputs": "python -m scalingdown check-distill-inputs --spec {params.spec:q} --data {input.data:q}"
    " --init {input.init:q} --logits {input.logits:q} --out {output:q} > {log:q} 2>&1",
    "benchmark": "python -m scalingdown benchmark --spec {params.spec:q} --data {input.data:q}"
    " --models {params.models:q} --evals {input.evals:q} --out {output:q} > {log:q} 2>&1",
}


def test_every_stage_of_the_workflow_is_in_the_table():
    assert sorted(STAGES) == sorted(SHELL_LINES)
    assert all(name == stage.name for name, stage in STAGES.items())


@pytest.mark.parametrize("name", SHELL_LINES)
def test_the_generated_shell_line_is_the_one_the_rule_runs(name: str):
    assert STAGES[name].shell() == SHELL_LINES[name]


def _function(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", list(STAGES))
def test_the_stage_function_takes_the_spec_and_one_parameter_per_argument(name: str):
    stage = STAGES[name]
    function = _function(stage.function)
    parameters = inspect.signature(function).parameters
    assert list(parameters) == ["spec", *(argument.parameter for argument in stage.arguments)]
    hint = typing.get_type_hints(function)["spec"]
    assert set(typing.get_args(hint) or (hint,)) == set(stage.spec), "the spec classes the table parses"
    for argument in stage.arguments:
        if argument.default is not None:
            assert parameters[argument.parameter].default == argument.default, argument.flag


def _filled(shell: str) -> list[str]:
    """The command line a rule's shell runs, with every placeholder filled and without the launcher and the log."""
    command = shell.split(" > {log:q}")[0]
    command = command.replace("{params.spec:q}", shlex.quote("{}")).replace("{threads}", "2")
    command = re.sub(r"\{[a-z_.]+(:q)?\}", "value", command)
    words = shlex.split(command)
    return words[words.index("scalingdown") + 1 :] if "scalingdown" in words else words[1:]


@pytest.mark.parametrize("name", list(STAGES))
def test_the_command_line_accepts_the_rules_shell_line(name: str):
    stage = STAGES[name]
    args = build_parser().parse_args(_filled(stage.shell()))
    assert args.stage is stage and args.spec == {}
    for argument in stage.arguments:
        if argument.source is not None:
            value = getattr(args, argument.parameter)
            assert value == (["value"] if argument.many else "value"), argument.flag
    assert (getattr(args, "threads", None) == 2) is stage.torch
