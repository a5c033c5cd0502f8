"""The checkpoint each trained model was kept at: the best on the validation split, by the task's primary validation
metric.

Training writes it as `best-checkpoint.json` beside the model and the `evaluate` stage copies it into the model's
record under `checkpoint`, e.g. `{"metric": "eval_accuracy", "greater_is_better": true, "step": 120, "score": 0.83,
"last_step": 160, "evaluations": 8, "early_stopped": false, "patience": null, "validation_rows": 60}`; untrained
models and exports (which inherit their student's) have none. The report shows it as columns of metrics.csv, a
"Chosen step" column in each task's score table, markers on the validation curves and, with label budgets, the
validation rows the selection used (Training data).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# A checkpoint record's fields -> their metrics-table columns.
COLUMNS = {
    "step": "checkpoint_step",
    "last_step": "checkpoint_last_step",
    "score": "checkpoint_score",
    "metric": "checkpoint_metric",
    "early_stopped": "early_stopped",
    "validation_rows": "validation_rows",
}
# The columns that count (steps, rows): whole numbers in metrics.csv.
COUNT_COLUMNS = (COLUMNS["step"], COLUMNS["last_step"], COLUMNS["validation_rows"])
# Marks a seed whose training stopped early (`training.early_stopping`) in the "Chosen step" column.
EARLY_STOP_MARK = "†"


def checkpoint_columns(record: dict[str, Any]) -> dict[str, Any]:
    """An evaluation record's checkpoint as metrics-table columns (none without a `checkpoint`)."""
    checkpoint = record.get("checkpoint")
    if not checkpoint:
        return {}
    return {column: checkpoint.get(field) for field, column in COLUMNS.items()}


def span(values: pd.Series) -> str:
    """Whole numbers over seeds: `120`, or `80–120` when the seeds differ."""
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}–{high}"


def steps_text(rows: pd.DataFrame) -> str | None:
    """One model's chosen step over its seeds (its rows of the metrics table) and the last step trained: `120 / 160`,
    a range when the seeds differ (`80–120 / 160`), marked (`EARLY_STOP_MARK`) when some seed stopped early. None for
    a model without checkpoints (untrained, an export)."""
    if COLUMNS["step"] not in rows:
        return None
    rows = rows[rows[COLUMNS["step"]].notna()]
    if rows.empty:
        return None
    stopped = rows[COLUMNS["early_stopped"]].fillna(False).astype(bool).any()
    text = f"{span(rows[COLUMNS['step']])} / {span(rows[COLUMNS['last_step']])}"
    return text + (EARLY_STOP_MARK if stopped else "")
