"""The `report` stage: metrics.csv, report.md and the plots, from the evaluation records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scalingdown.atomic import atomic_path, write_text
from scalingdown.report.markdown import report_markdown
from scalingdown.report.plots import training_curves
from scalingdown.report.teachers import teachers_markdown
from scalingdown.report.tables import metrics_table


def _read_json(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _history_name(path: str) -> str:
    """A readable panel name from a history path (`<task>/students/<name>/…` or a teacher cache key)."""
    parts = Path(path).parts
    if "students" in parts:
        index = parts.index("students")
        return f"{parts[index - 1]}: student {parts[index + 1]}"
    return f"teacher {parts[-2]}"


def report(spec: dict[str, Any], evals: list[str], histories: list[str], out_dir: str,
           ensembles: list[str] | None = None) -> None:
    """Write the report files into `out_dir` (with a Teachers section per `teacher_ensemble` record)."""
    experiment = spec["experiment"]
    task_types = {name: task["type"] for name, task in spec["config"]["tasks"].items()}
    table = metrics_table(experiment, [_read_json(path) for path in evals], task_types)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "metrics.csv") as temporary:
        table.to_csv(temporary, index=False)
    training_curves({_history_name(path): _read_json(path) for path in histories}, out / "training_curves.png")
    teachers = teachers_markdown([_read_json(path) for path in ensembles or []])
    write_text(out / "report.md", report_markdown(experiment, table, ["training_curves.png"]) + "\n".join(teachers)
               + ("\n" if teachers else ""))
