"""Student shape sweeps in the report: which shape each row of the metrics table is, and each task's front of score
against latency and size.

In a sweep (`config.shapes`: `init.layers` as a list of layer lists, `max_length` as a list) every shape is a student
of its own (`distilled-layers0_3-len64`); `add_shape_columns` gives each row of a swept student (and of its exports)
the configured student's name (`shape_of`), its depth (`layers`, the kept layers; empty for a student keeping its
model's depth) and `max_length`. `pareto_columns` marks, on the summarised rows (means over seeds), the models no
other model beats on score and latency (`front_latency`) and on score and size (`front_size`); `plots.shape_front`
draws both fronts, `shape_table` lists the shapes.
"""

from __future__ import annotations

import pandas as pd

from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.tables import METRIC_TITLES, pareto_front, primary_scores, value_text

SHAPE_OF = "shape_of"
LAYERS = "layers"
MAX_LENGTH = "max_length"


def swept_tasks(plan: Plan) -> list[str]:
    """The cells (tasks) with a student that sweeps shapes: the panels of the shape-front figure."""
    return list(
        dict.fromkeys(
            task.cell for task in plan.tasks.values() if any(s.shape is not None for s in task.students.values())
        )
    )


def add_shape_columns(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The metrics table with `shape_of`, `layers` and `max_length` for the rows of swept students and their exports
    (other rows: empty); unchanged when no student sweeps shapes."""
    shapes = {
        (task.cell, name): student
        for task in plan.tasks.values()
        for name, student in task.students.items()
        if student.shape is not None
    }
    if not shapes:
        return table
    found = [shapes.get((cell, model)) for cell, model in zip(table["task"], table["model"])]
    return table.assign(
        **{
            SHAPE_OF: [None if s is None or s.shape is None else s.shape.sweep for s in found],
            LAYERS: [
                None if s is None or not s.spec["init"].get("layers") else len(s.spec["init"]["layers"]) for s in found
            ],
            MAX_LENGTH: [None if s is None else int(s.spec["max_length"]) for s in found],
        }
    )


def pareto_columns(summary: pd.DataFrame) -> pd.DataFrame:
    """The summarised rows with `front_latency` and `front_size`: on the task's front of primary score against latency
    at batch size 1, and against size on disk (teachers, students and exports alike)."""
    summary = summary.copy()
    summary["front_latency"] = False
    summary["front_size"] = False
    for _, rows in summary.groupby("task", sort=False):
        scores = primary_scores(rows).tolist()
        summary.loc[rows.index, "front_latency"] = pareto_front(scores, rows["latency_ms_per_sample"].tolist())
        summary.loc[rows.index, "front_size"] = pareto_front(scores, rows["size_mb"].astype(float).tolist())
    return summary


def shape_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One task's swept students and their exports: Model | layers | length | score | latency | size | on which front
    (mean ± sd over seeds where there are several). Empty when the task sweeps no shape."""
    if SHAPE_OF not in rows:
        return pd.DataFrame()
    rows = pareto_columns(rows)
    swept = rows[rows[SHAPE_OF].notna()]
    if swept.empty:
        return pd.DataFrame()
    metric = str(rows["primary_metric"].iloc[0])

    def text(row: pd.Series, key: str, pattern: str) -> str:
        return value_text(row.get(key), pattern, row.get(f"{key}_sd"))

    lines = [
        (
            row["label"],
            "–" if pd.isna(row[LAYERS]) else f"{int(row[LAYERS])}",
            f"{int(row[MAX_LENGTH])}",
            text(row, metric, "{:.4f}"),
            text(row, "latency_ms_per_sample", "{:.2f}"),
            value_text(row.get("size_mb"), "{:.1f}"),
            ", ".join(name for name, flag in (("latency", row["front_latency"]), ("size", row["front_size"])) if flag)
            or "–",
        )
        for _, row in swept.iterrows()
    ]
    return pd.DataFrame(
        lines,
        columns=[
            "Model",
            "Layers",
            "Max length",
            METRIC_TITLES.get(metric, metric),
            "Latency (ms)",
            "Size (MiB)",
            "Pareto front",
        ],
    )
