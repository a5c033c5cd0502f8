"""What each model learned from: the labelled and the transfer rows it saw (label budgets, transfer text).

`prepare` records in each prepared dataset's manifest how many training rows keep their labels and how many are
transfer rows (`data.budget`). A teacher fine-tunes on the labelled rows of its own data; a gold-only student on
the labelled rows of its task's data; a student with teachers on all of them (CE on the labelled rows, KD on every
row).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.document import Block, Heading, Paragraph, Table

# What `prepare` writes beside the splits (`data.store.MANIFEST`).
MANIFEST = "manifest.json"
COLUMNS = ["task", "seed", "kind", "model", "labelled_rows", "transfer_rows"]


def row_counts(data_dir: str) -> tuple[int, int] | None:
    """(labelled, transfer) training rows of a prepared dataset; None when its manifest cannot be read."""
    try:
        manifest: dict[str, Any] = json.loads((Path(data_dir) / MANIFEST).read_text(encoding="utf-8"))
        train = int(manifest["splits"]["train"]["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(manifest.get("labelled_rows", train)), int(manifest.get("transfer_rows", 0))


def training_rows(plan: Plan) -> pd.DataFrame:
    """One row per trained model (teachers fine-tuned here, students trained here) and seed: the labelled and the
    transfer training rows it learned from."""
    rows = []
    for task in plan.tasks.values():
        students = row_counts(task.data_dir)
        for teacher in task.teachers.values():
            own = row_counts(teacher.data_dir) if teacher.finetuned else None
            if own is not None:
                rows.append((task.cell, task.seed, "teacher", teacher.name, own[0], 0))
        for student in task.students.values():
            if student.trained and students is not None:
                transfer = students[1] if student.teachers else 0
                rows.append((task.cell, task.seed, "student", student.name, students[0], transfer))
    return pd.DataFrame(rows, columns=COLUMNS)


def _spread(values: pd.Series) -> str:
    """`387`, or `385–389` when the seeds differ."""
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}–{high}"


def training_data_blocks(rows: pd.DataFrame) -> list[Block]:
    """The report's table of labelled and transfer rows per model, when some model saw transfer rows or labels
    that another model of its task and seed did not (a label budget or transfer text); nothing otherwise (tasks or
    seeds of different sizes alone are no reason)."""
    if rows.empty:
        return []
    differing = rows.groupby(["task", "seed"])["labelled_rows"].nunique().gt(1).any()
    if rows["transfer_rows"].eq(0).all() and not differing:
        return []
    table = (
        rows.groupby(["task", "kind", "model"], sort=False)
        .agg(labelled=("labelled_rows", _spread), transfer=("transfer_rows", _spread))
        .reset_index()
    )
    table.columns = pd.Index(["Task", "Kind", "Model", "Labelled rows", "Transfer rows"])
    return [
        Heading("Training data"),
        Paragraph(
            "The training rows each model learned from (a range when the seeds differ): labelled rows are "
            "trained on with their gold labels (or answers); transfer rows (training rows whose labels the "
            "students may not use, `data.label_budget`, and unlabelled text, `data.transfer`) only through the "
            "teachers' outputs (on a text-to-text task, the teacher's own answers). A gold-only student sees the "
            "labelled rows alone; a teacher fine-tunes on its own share of "
            "the labels (`teachers.<name>.label_budget`). No validation or test text is among them."
        ),
        Table(table),
    ]
