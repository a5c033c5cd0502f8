"""The metrics table: one row per (task, model), with retention and speed-up against the best teacher."""

from __future__ import annotations

from typing import Any

import pandas as pd

# The score each task type ranks models by.
PRIMARY_METRIC = {"classification": "accuracy", "multiple_choice": "accuracy", "math": "accuracy",
                  "generative_qa": "f1"}
METRIC_COLUMNS = ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro",
                  "exact_match", "f1", "precision", "recall")


def metrics_table(experiment: str, records: list[dict[str, Any]], task_types: dict[str, str]) -> pd.DataFrame:
    """Flatten evaluation records into the report's table (columns of the metrics.csv contract)."""
    rows = []
    for record in records:
        row = {
            "experiment": experiment,
            "task": record["task"],
            "kind": record["kind"],
            "role": record["role"],
            "model": record["name"],
            "params": int(record["params"]),
            "size_mb": record.get("size_mb"),
        }
        row.update({name: record["metrics"].get(name) for name in METRIC_COLUMNS if name in record["metrics"]})
        speed = record["speed"]
        row.update({
            "latency_ms_per_sample": speed["latency_ms_per_sample"],
            "throughput_per_s": speed["throughput_per_s"],
            "threads": speed["threads"],
            "device": speed["device"],
        })
        rows.append(row)
    table = pd.DataFrame(rows)
    return add_retention(table, task_types)


def add_retention(table: pd.DataFrame, task_types: dict[str, str]) -> pd.DataFrame:
    """Add `retention_pct` (score as % of the best teacher's) and `speedup` (× faster than that teacher).

    The reference is the teacher with the best primary score in each task; tasks without a
    teacher get empty cells.
    """
    table = table.copy()
    table["retention_pct"] = float("nan")
    table["speedup"] = float("nan")
    for task, rows in table.groupby("task"):
        metric = PRIMARY_METRIC[task_types[task]]
        teachers = rows[rows["kind"] == "teacher"]
        if teachers.empty or teachers[metric].isna().all():
            continue
        best = teachers.loc[teachers[metric].idxmax()]
        index = rows.index
        table.loc[index, "retention_pct"] = 100 * rows[metric] / best[metric]
        table.loc[index, "speedup"] = best["latency_ms_per_sample"] / rows["latency_ms_per_sample"]
    return table
