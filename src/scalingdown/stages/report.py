"""The `report` stage: metrics.csv, the plots, report.md and a self-contained report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scalingdown.atomic import atomic_path, write_json, write_text
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
    spec: dict[str, Any],
    evals: list[str],
    histories: list[str],
    out_dir: str,
    cached: list[str] | None = None,
    workflow_dir: str | None = None,
    ensembles: list[str] | None = None,
) -> None:
    """Write the report files into `out_dir`.

    `cached` are the shared artefacts the experiment used (their provenance is reported);
    `workflow_dir` is the workflow checkout whose git commit is reported; `ensembles` are the
    `teacher_ensemble` records (one per multi-teacher task) for the Teachers section.
    """
    config = spec["config"]
    experiment = spec["experiment"]
    records = [_read_json(path) for path in evals]
    task_types = {name: task["type"] for name, task in config["tasks"].items()}
    table = metrics_table(experiment, records, task_types)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "metrics.csv") as temporary:
        table.to_csv(temporary, index=False)

    logs = {history_name(path): _read_json(path) for path in histories}
    plots.training_curves(logs, out / "training_curves.png")
    plots.validation_curves(logs, out / "validation_curves.png")
    plots.score_latency(table, out / "score_latency.png")
    plots.confusion_matrices(records, out / "confusion_matrices.png")

    repro = reproducibility(config, records, cached or [], workflow_dir)
    write_json(out / "reproducibility.json", repro)
    teachers = teacher_blocks([_read_json(path) for path in ensembles or []])
    blocks = report_blocks(experiment, table, metric_names(records), repro, teachers)
    write_text(out / "report.md", to_markdown(blocks))
    write_text(out / "report.html", to_html(blocks, f"ScalingDown report: {experiment}", out))
