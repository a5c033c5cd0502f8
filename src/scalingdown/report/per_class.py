"""Per-class scores: each label's precision, recall, F1 and support (its gold test rows), as columns of the metrics
table (`<score>_<label>`, e.g. `recall_negative`), which the report's per-class table (`tables.per_class_table`) and
the diagnostics read.

The evaluation records hold them under `metrics.per_class` (`evaluation.metrics.per_class_scores`); records written
before that (or of text-to-text tasks) have none, and their models get empty cells.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# The scores of each class, in the order of the columns.
SCORES = ("precision", "recall", "f1", "support")


def class_column(score: str, label: str) -> str:
    """The metrics-table column of one class's score: `recall_negative`."""
    return f"{score}_{label}"


def per_class_columns(metrics: dict[str, Any]) -> dict[str, float]:
    """A record's per-class scores as metrics-table columns (none when the record has no `per_class`)."""
    per_class: dict[str, dict[str, float]] = metrics.get("per_class") or {}
    return {class_column(score, label): float(scores[score]) for label, scores in per_class.items() for score in SCORES}


def class_labels(rows: pd.DataFrame) -> list[str]:
    """The labels the rows have per-class scores for, in the task's label order (that of the columns); a summarised
    table's spreads (`support_<label>_sd`, beside `support_<label>`) are not labels."""
    prefix = class_column("support", "")
    found = [name for name in rows.columns if name.startswith(prefix) and rows[name].notna().any()]
    spreads = {f"{name}_sd" for name in found}
    return [name[len(prefix) :] for name in found if name not in spreads]
