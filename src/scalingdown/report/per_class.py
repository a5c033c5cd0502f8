"""Per-class scores: each label's precision, recall, F1 and support (its gold test rows), as columns of the metrics
table (`<score>_<label>`, e.g. `recall_negative`) and as a table per task in the report (mean ± sd over seeds).

The evaluation records hold them under `metrics.per_class` (`evaluation.metrics.per_class_scores`); records written
before that (or of text-to-text tasks) have none, and their models get empty cells.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scalingdown.report.document import Block, Heading, Paragraph, Table

# The scores of each class, in the order of the columns.
SCORES = ("precision", "recall", "f1", "support")
_TITLES = {"precision": "Precision", "recall": "Recall", "f1": "F1", "support": "Support"}


def column(score: str, label: str) -> str:
    """The metrics-table column of one class's score: `recall_negative`."""
    return f"{score}_{label}"


def per_class_columns(metrics: dict[str, Any]) -> dict[str, float]:
    """A record's per-class scores as metrics-table columns (none when the record has no `per_class`)."""
    per_class: dict[str, dict[str, float]] = metrics.get("per_class") or {}
    return {column(score, label): float(scores[score]) for label, scores in per_class.items() for score in SCORES}


def class_labels(rows: pd.DataFrame) -> list[str]:
    """The labels the rows have per-class scores for, in the task's label order (that of the columns); a summarised
    table's spreads (`support_<label>_sd`, beside `support_<label>`) are not labels."""
    prefix = column("support", "")
    found = [name for name in rows.columns if name.startswith(prefix) and rows[name].notna().any()]
    spreads = {f"{name}_sd" for name in found}
    return [name[len(prefix) :] for name in found if name not in spreads]


def _cell(row: pd.Series, key: str, pattern: str, spread: bool) -> str:
    value, sd = row.get(key), row.get(f"{key}_sd")
    if value is None or pd.isna(value):
        return "–"
    if not spread or sd is None or pd.isna(sd):
        return pattern.format(value)
    return f"{pattern.format(value)} ± {pattern.format(sd)}"


def per_class_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One task's per-class scores: Model | Class | Support | Precision | Recall | F1, one row per model and class
    (summarised rows: mean ± sd over seeds; the support, the class's test rows, as its mean)."""
    labels = class_labels(rows)
    lines = []
    for _, row in rows.iterrows():
        if pd.isna(row.get(column("support", labels[0]) if labels else "")):
            continue
        for label in labels:
            lines.append(
                [
                    row["label"],
                    label,
                    _cell(row, column("support", label), "{:.0f}", spread=False),
                    *(_cell(row, column(score, label), "{:.4f}", spread=True) for score in SCORES[:-1]),
                ]
            )
    titles = ["Model", "Class", _TITLES["support"], *(_TITLES[score] for score in SCORES[:-1])]
    return pd.DataFrame(lines, columns=titles)


def per_class_blocks(task: str, rows: pd.DataFrame) -> list[Block]:
    """The per-class section of a task (nothing when no model of it has per-class scores)."""
    if not class_labels(rows):
        return []
    return [
        Heading(f"Per class: {task}", 3),
        Paragraph(
            "Each class's scores on the test split: precision (of the rows predicted as the class, the share that "
            "are), recall (of the class's rows, the share found) and F1; support is the class's test rows. A "
            "model whose recall on a class is below half of the best teacher's, or below chance, is flagged under "
            "Diagnostics."
        ),
        Table(per_class_table(rows)),
    ]
