"""What each model learned from: the labelled and the transfer rows it saw (label budgets, transfer text), and the
validation rows its checkpoint was chosen on.

`prepare` records in each prepared dataset's manifest how many training rows keep their labels and how many are
transfer rows (`data.budget`). A teacher fine-tunes on the labelled rows of its own data; a gold-only student on
the labelled rows of its task's data; a student with teachers on all of them (CE on the labelled rows, KD on every
row). The validation rows come from the model's evaluation record (`checkpoint.validation_rows`,
`report.chosen_checkpoints`): labelled data too, which a label budget must count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.chosen_checkpoints import span
from scalingdown.report.document import Block, Heading, Paragraph, Table

# What `prepare` writes beside the splits (`data.store.MANIFEST`).
MANIFEST = "manifest.json"
COLUMNS = ["task", "seed", "kind", "model", "labelled_rows", "transfer_rows", "validation_rows"]


def row_counts(data_dir: str) -> tuple[int, int] | None:
    """(labelled, transfer) training rows of a prepared dataset; None when its manifest cannot be read."""
    try:
        manifest: dict[str, Any] = json.loads((Path(data_dir) / MANIFEST).read_text(encoding="utf-8"))
        train = int(manifest["splits"]["train"]["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(manifest.get("labelled_rows", train)), int(manifest.get("transfer_rows", 0))


def _validation_rows(records: list[dict[str, Any]]) -> dict[tuple[str, int | None, str, str], int]:
    """(task cell, seed, kind, model) → the validation rows its checkpoint was chosen on, from the evaluation records
    that say (trained models evaluated after checkpoint selection)."""
    found: dict[tuple[str, int | None, str, str], int] = {}
    for record in records:
        rows = (record.get("checkpoint") or {}).get("validation_rows")
        if rows is not None and record.get("variant", ORIGINAL) == ORIGINAL:
            found[(record["task"], record.get("seed"), record["kind"], record["name"])] = int(rows)
    return found


def training_rows(plan: Plan, records: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per trained model (teachers fine-tuned here, students trained here) and seed: the labelled and the
    transfer training rows it learned from, and the validation rows its checkpoint was chosen on (None when its
    evaluation record, among `records` — with the task's cell as `task` and the seed —, does not say)."""
    validation = _validation_rows(records or [])
    rows = []
    for task in plan.tasks.values():
        students = row_counts(task.data_dir)
        for teacher in task.teachers.values():
            own = row_counts(teacher.data_dir) if teacher.finetuned else None
            if own is not None:
                chosen_on = validation.get((task.cell, task.seed, "teacher", teacher.name))
                rows.append((task.cell, task.seed, "teacher", teacher.name, own[0], 0, chosen_on))
        for student in task.students.values():
            if student.trained and students is not None:
                transfer = students[1] if student.teachers else 0
                chosen_on = validation.get((task.cell, task.seed, "student", student.name))
                rows.append((task.cell, task.seed, "student", student.name, students[0], transfer, chosen_on))
    return pd.DataFrame(rows, columns=COLUMNS)


def _span_or_none(values: pd.Series) -> str:
    """`span` of the values given, `–` when there are none."""
    values = values.dropna()
    return span(values) if len(values) else "–"


def training_data_blocks(rows: pd.DataFrame) -> list[Block]:
    """The report's table of labelled and transfer rows per model, when some model saw transfer rows or labels
    that another model of its task and seed did not (a label budget or transfer text); nothing otherwise (tasks or
    seeds of different sizes alone are no reason)."""
    if rows.empty:
        return []
    differing = rows.groupby(["task", "seed"])["labelled_rows"].nunique().gt(1).any()
    if rows["transfer_rows"].eq(0).all() and not differing:
        return []
    columns = {"labelled": ("labelled_rows", span), "transfer": ("transfer_rows", span)}
    titles = ["Task", "Kind", "Model", "Labelled rows", "Transfer rows"]
    selection = ""
    if rows["validation_rows"].notna().any():
        columns["validation"] = ("validation_rows", _span_or_none)
        titles.append("Validation rows (checkpoint choice)")
        selection = (
            " Validation rows are labelled data too, besides the training rows: each trained model's checkpoint "
            "was chosen by its score on them (`data.validation_budget` caps how many)."
        )
    table = rows.groupby(["task", "kind", "model"], sort=False).agg(**columns).reset_index()
    table.columns = pd.Index(titles)
    return [
        Heading("Training data"),
        Paragraph(
            "The training rows each model learned from (a range when the seeds differ): labelled rows are "
            "trained on with their gold labels (or answers); transfer rows (training rows whose labels the "
            "students may not use, `data.label_budget`, and unlabelled text, `data.transfer`) only through the "
            "teachers' outputs (on a text-to-text task, the teacher's own answers). A gold-only student sees the "
            "labelled rows alone; a teacher fine-tunes on its own share of "
            "the labels (`teachers.<name>.label_budget`). No validation or test text is among them." + selection
        ),
        Table(table),
    ]
