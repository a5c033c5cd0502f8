"""The `report` stage: metrics.csv, the plots, report.md and a self-contained report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scalingdown.pipeline.atomic import atomic_path, write_json, write_text
from scalingdown.pipeline.paths import REPORT_FILES
from scalingdown.pipeline.specs import ReportSpec
from scalingdown.report import plots
from scalingdown.report.compose import report_blocks
from scalingdown.report.document import to_html, to_markdown
from scalingdown.report.reproducibility import reproducibility
from scalingdown.report.tables import metric_names, metrics_table
from scalingdown.report.teachers import teacher_blocks


def _read_json(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def history_name(path: str) -> str:
    """A readable model name from a history path (`<task>/students/<name>/…` or a teacher's cache key)."""
    parts = Path(path).parts
    if "students" in parts:
        index = parts.index("students")
        return f"{parts[index - 1]}: {parts[index + 1]}"
    key = parts[-2].rsplit("-", 1)[0]  # <task>.<teacher>-<hash>
    task, _, teacher = key.partition(".")
    return f"{task}: teacher {teacher}" if teacher else f"teacher {key}"


def report(
    spec: ReportSpec,
    evals: list[str],
    histories: list[str],
    cached: list[str],
    ensembles: list[str],
    benchmarks: list[str],
    workflow_dir: str | None,
    out: str,
) -> None:
    """Write the report files (`paths.REPORT_FILES`) into the folder `out`.

    `cached` are the shared artefacts the experiment used (their provenance is reported);
    `workflow_dir` is the workflow checkout whose git commit is reported; `ensembles` are the
    `teacher_ensemble` records (one per multi-teacher task) for the Teachers section; `benchmarks` the
    tasks' timing records, where every speed column comes from.
    """
    config, experiment = spec.config, spec.experiment
    records = [_read_json(path) for path in evals]
    timings = [_read_json(path) for path in benchmarks]
    task_types = {name: task["type"] for name, task in config["tasks"].items()}
    table = metrics_table(experiment, records, task_types, timings)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / file for name, file in REPORT_FILES.items()}
    with atomic_path(files["metrics"]) as temporary:
        table.to_csv(temporary, index=False)

    logs = {history_name(path): _read_json(path) for path in histories}
    plots.training_curves(logs, files["training_curves"])
    plots.validation_curves(logs, files["validation_curves"])
    plots.score_latency(table, files["score_latency"])
    plots.confusion_matrices(records, files["confusion_matrices"])

    repro = reproducibility(config, timings, cached, workflow_dir)
    write_json(files["reproducibility"], repro)
    teachers = teacher_blocks([_read_json(path) for path in ensembles])
    blocks = report_blocks(experiment, table, metric_names(records), repro, teachers, timings)
    write_text(files["markdown"], to_markdown(blocks))
    write_text(files["html"], to_html(blocks, f"ScalingDown report: {experiment}", folder))
