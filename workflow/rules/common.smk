"""Shared setup: config validation, the experiment plan, and how every job runs the package."""

import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version
from snakemake_interface_executor_plugins.settings import DeploymentMethod

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from scalingdown.pipeline import paths  # noqa: E402
from scalingdown.pipeline.config.validation import validate_config  # noqa: E402
from scalingdown.pipeline.errors import ConfigError  # noqa: E402
from scalingdown.pipeline.outputs.input_fingerprints import changed_inputs, mark_older  # noqa: E402
from scalingdown.pipeline.plan.experiment import Plan, local_model  # noqa: E402
from scalingdown.pipeline.plan.stage_specs import StageSpecs  # noqa: E402
from scalingdown.pipeline.specs.stage_table import STAGES  # noqa: E402

try:
    validate_config(config, Path.cwd(), Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(f"Invalid config: {error}") from None

PLAN = Plan(config)
SPECS = StageSpecs(PLAN)
# A data file whose content changed since `prepare` read it, though its modification time was kept (cp -p, tar x,
# rsync -t): its prepared directory is dated before it, so that Snakemake reruns `prepare`
# (pipeline.outputs.input_fingerprints).
for data in PLAN.data_plans():
    changed = changed_inputs(Path(data.dir) / "manifest.json", PLAN.data_files(data.key))
    if changed:
        mark_older(Path(data.dir), changed)
        logger.warning(
            f"{', '.join(changed)}: changed since prepare read it (the modification time was kept); "
            f"{data.dir} is prepared again"
        )
THREADS = PLAN.threads
# The cores of a local run (`--cores`); None on a cluster, where each job has an allocation of its own (and
# inside a cluster job, whose Snakemake must ask for what the allocation holds).
LOCAL_CORES = (
    workflow.resource_settings.cores
    if workflow.local_exec and not (workflow.remote_exec or workflow.subprocess_exec)
    else None
)
ENV = "../../envs/scalingdown.yaml"


# Each report file shown in Snakemake's own report (`snakemake --report`): its category and caption.
SNAKEMAKE_REPORT = {
    "metrics": ("Tables", "../report/metrics.rst"),
    "html": ("Report", "../report/report_html.rst"),
    "training_curves": ("Training", "../report/training_curves.rst"),
    "validation_curves": ("Training", "../report/validation_curves.rst"),
    "score_latency": ("Quality and speed", "../report/score_latency.rst"),
    "confusion_matrices": ("Quality and speed", "../report/confusion_matrices.rst"),
    "budget_curve": ("Quality and speed", "../report/budget_curve.rst"),
}


def report_outputs():
    """The report files the experiment writes (`Plan.report_files`: the budget curve only with a sweep of two or
    more label budgets), by output name, those of Snakemake's report with their category and caption."""
    outputs = {}
    for name, path in PLAN.report_files().items():
        if name in SNAKEMAKE_REPORT:
            category, caption = SNAKEMAKE_REPORT[name]
            path = report(path, category=category, caption=caption)
        outputs[name] = path
    return outputs


def builder(wildcards, output):
    """The experiment that builds a shared artefact, for the artefact's provenance record.

    A param function that takes `output` is not a rerun trigger: another experiment reusing the
    artefact must not rebuild it just because it did not build it.
    """
    return PLAN.experiment


# Jobs run `python -m scalingdown …`. With --sdm conda the rule's environment provides `python`;
# otherwise it is the interpreter Snakemake itself runs in (where `make` installed the package).
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    shell.prefix(f'set -euo pipefail; PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; ')


wildcard_constraints:
    data_key=r"[^/]+",
    teacher_key=r"[^/]+",
    logits_key=r"[^/]+",
    init_key=r"[^/]+",
    task=paths.TASK_FOLDER_PATTERN,  # `<task>`, with `/budget-<b>` in a budget sweep, `/seed-<seed>` with `seeds`
    student=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    name=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    kind=r"teacher|student",
    variant=r"onnx-fp32|onnx-int8|torch-int8",
