"""The one table of stages: each stage's command, spec class, arguments and the function that runs it.

The command line (`scalingdown <stage> …`) is generated from this table, and so is each rule's shell line
(`STAGES["distill"].shell()`), so an argument is declared once: its flag, its help, where the rule takes it
from (`input.data`, `output.model`, `params.checkpoints`) and the parameter of the stage function it fills.
Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from scalingdown.pipeline.specs import definitions as specs
from scalingdown.pipeline.specs.codec import Spec


@dataclass(frozen=True)
class Argument:
    """One command-line argument of a stage.

    `source` is where the rule takes the value from (`input.data`, `output`, `params.out`, …); None for an
    argument only a person running the stage by hand sets. `many` is argparse's nargs (`*`, `+`). `exists` is
    what an input path must already be (`directory`, `file`, `model directory`: one holding a config.json),
    checked before the stage runs.
    """

    flag: str
    help: str
    source: str | None
    many: str | None = None
    required: bool = True
    integer: bool = False
    default: int | None = None
    exists: str | None = None

    @property
    def parameter(self) -> str:
        """The stage function's parameter this argument fills."""
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class Stage:
    """A workflow stage as a command: `python -m scalingdown <command> --spec <json> <arguments>`."""

    name: str
    command: str
    function: str
    spec: tuple[type[Spec], ...]
    help: str
    arguments: tuple[Argument, ...]
    torch: bool = True
    launched: bool = False

    def shell(self) -> str:
        """The rule's shell line: every argument from its source, `--threads` for torch stages, output to the log."""
        program = "{params.launcher}" if self.launched else "python -m scalingdown"
        parts = [program, self.command, "--spec {params.spec:q}"]
        parts += [f"{argument.flag} {{{argument.source}:q}}" for argument in self.arguments if argument.source]
        if self.torch:
            parts.append("--threads {threads}")
        return " ".join(parts) + " > {log:q} 2>&1"


def _data() -> Argument:
    return Argument("--data", "prepared data directory", "input.data", exists="directory")


def _init() -> Argument:
    return Argument("--init", "initial student directory", "input.init", exists="model directory")


def _logits() -> Argument:
    return Argument(
        "--logits",
        "teacher logit caches, in the spec's teacher order",
        "input.logits",
        many="*",
        required=False,
        exists="file",
    )


def _experiment() -> Argument:
    return Argument(
        "--experiment",
        "the experiment building this shared artefact (recorded in its provenance)",
        "params.experiment",
        required=False,
    )


def _history() -> Argument:
    return Argument("--history", "output training history (JSON)", "output.history")


def _checkpoints() -> Argument:
    return Argument("--checkpoints", "resumable checkpoint directory", "params.checkpoints")


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "prepare",
            "prepare",
            "scalingdown.stages.prepare:prepare",
            (specs.PrepareSpec,),
            "load, validate, de-duplicate and split a dataset",
            (Argument("--out", "output directory of Parquet splits", "output"), _experiment()),
            torch=False,
        ),
        Stage(
            "finetune_teacher",
            "finetune-teacher",
            "scalingdown.stages.finetune_teacher:finetune_teacher",
            (specs.FinetuneSpec,),
            "fine-tune a teacher on the task",
            (
                _data(),
                Argument("--out", "output model directory", "output.model"),
                _history(),
                _checkpoints(),
                _experiment(),
            ),
            launched=True,
        ),
        Stage(
            "select_teacher",
            "select-teacher",
            "scalingdown.stages.select_teacher:select_teacher",
            (specs.SelectTeacherSpec,),
            "keep the fine-tuning candidate of a teacher with the best validation score",
            (
                Argument(
                    "--models",
                    "the candidates' model directories, in the spec's candidate order",
                    "input.models",
                    many="+",
                    exists="model directory",
                ),
                Argument(
                    "--histories",
                    "the candidates' training histories, in the same order",
                    "input.histories",
                    many="+",
                    exists="file",
                ),
                Argument("--out", "output model directory (the selected candidate's files)", "output.model"),
                Argument("--history", "output training history (the selected candidate's)", "output.history"),
                Argument("--selection", "output record of every candidate's score (JSON)", "output.selection"),
                _experiment(),
            ),
            torch=False,
        ),
        Stage(
            "teacher_logits",
            "teacher-logits",
            "scalingdown.stages.teacher_logits:teacher_logits",
            (specs.LogitsSpec, specs.TopkLogitsSpec),
            "cache a teacher's logits on every split",
            (
                _data(),
                Argument("--out", "output Parquet logit cache", "output"),
                _experiment(),
                Argument("--batch-size", "inference batch size", None, required=False, integer=True, default=64),
            ),
        ),
        Stage(
            "init_student",
            "init-student",
            "scalingdown.stages.init_student:init_student",
            (specs.InitSpec,),
            "build a student's initial weights",
            (Argument("--out", "output model directory", "output"), _experiment()),
        ),
        Stage(
            "distill",
            "distill",
            "scalingdown.stages.distill:distill",
            (specs.DistillSpec,),
            "train a student from cached teacher logits",
            (
                _data(),
                _init(),
                _logits(),
                Argument("--out", "output model directory", "output.model"),
                _history(),
                _checkpoints(),
            ),
            launched=True,
        ),
        Stage(
            "check_distill_inputs",
            "check-distill-inputs",
            "scalingdown.stages.check_distill_inputs:check_distill_inputs",
            (specs.DistillSpec,),
            "check what distill reads (prepared data, initial student, teacher caches) before it replaces a student",
            (
                _data(),
                _init(),
                _logits(),
                Argument("--out", "output record of the check (JSON)", "output"),
            ),
            torch=False,
        ),
        Stage(
            "evaluate",
            "evaluate",
            "scalingdown.stages.evaluate:evaluate",
            (specs.EvaluateSpec,),
            "score a model on the test split",
            (
                _data(),
                Argument("--model", "model directory or reference", "params.model"),
                Argument("--out", "output evaluation record (JSON)", "output"),
            ),
        ),
        Stage(
            "export",
            "export",
            "scalingdown.stages.export:export",
            (specs.ExportSpec,),
            "write one shipping variant of a student: ONNX fp32, ONNX int8 or PyTorch int8",
            (
                Argument(
                    "--model",
                    "the student's model directory (for onnx-int8: its onnx-fp32 export)",
                    "input.model",
                    exists="directory",
                ),
                Argument("--out", "output export directory", "output"),
            ),
        ),
        Stage(
            "benchmark",
            "benchmark",
            "scalingdown.stages.benchmark:benchmark",
            (specs.BenchmarkSpec,),
            "time every model of a task interleaved in one process (CPU, the spec's threads)",
            (
                _data(),
                Argument(
                    "--models", "model directories or references, in the spec's model order", "params.models", many="+"
                ),
                Argument(
                    "--evals",
                    "the teachers' evaluation records (the best teacher is the speed-up reference)",
                    "input.evals",
                    many="*",
                    required=False,
                    exists="file",
                ),
                Argument("--out", "output timing record (JSON)", "output"),
            ),
            torch=False,
        ),
        Stage(
            "teacher_ensemble",
            "teacher-ensemble",
            "scalingdown.stages.teacher_ensemble:teacher_ensemble",
            (specs.EnsembleSpec,),
            "teachers' scores, ensembles and agreement from their logit caches",
            (
                _data(),
                Argument(
                    "--logits",
                    "teacher logit caches, in the spec's teacher order",
                    "input.logits",
                    many="+",
                    exists="file",
                ),
                Argument("--out", "output record (JSON)", "output"),
            ),
            torch=False,
        ),
        Stage(
            "report",
            "report",
            "scalingdown.stages.report:report",
            (specs.ReportSpec,),
            "write metrics.csv, report.md, report.html and plots",
            (
                Argument("--evals", "evaluation records", "input.evals", many="+"),
                Argument("--histories", "training histories to plot", "input.histories", many="*", required=False),
                Argument(
                    "--cached",
                    "shared artefacts used (their provenance is reported)",
                    "input.cached",
                    many="*",
                    required=False,
                ),
                Argument(
                    "--ensembles",
                    "teacher_ensemble records (Teachers section)",
                    "input.ensembles",
                    many="*",
                    required=False,
                ),
                Argument(
                    "--benchmarks",
                    "benchmark records, one per task and seed (every speed column)",
                    "input.benchmarks",
                    many="*",
                    required=False,
                    exists="file",
                ),
                Argument(
                    "--workflow-dir",
                    "workflow checkout whose git commit is reported",
                    "params.workflow_dir",
                    required=False,
                ),
                Argument("--out", "report directory", "params.out"),
                Argument(
                    "--selections",
                    "teacher selection records (Teachers section)",
                    "input.selections",
                    many="*",
                    required=False,
                    exists="file",
                ),
            ),
            torch=False,
        ),
    )
}
