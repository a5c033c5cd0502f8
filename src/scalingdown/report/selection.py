"""The report's teacher selection tables: for each teacher whose `finetune` listed candidates, every candidate's
varying hyper-parameters, its validation score (mean ± sd over the task's seeds) and how often it was kept."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scalingdown.report.document import Block, Heading, Paragraph, Table
from scalingdown.report.teachers import mean_sd

Record = dict[str, Any]

# How the selection metrics (training-history keys) are titled.
_METRIC_TITLES = {"eval_accuracy": "Validation accuracy", "eval_loss": "Validation loss (lower is better)"}


def _candidates_frame(records: list[Record]) -> pd.DataFrame:
    """One row per candidate (in selection order): its settings, validation score and how often it was kept."""
    first = records[0]
    title = _METRIC_TITLES.get(first["metric"], first["metric"])
    rows = []
    for index, candidate in enumerate(first["candidates"]):
        scores = [record["candidates"][index]["validation_score"] for record in records]
        kept = sum(record["selected"] == record["candidates"][index]["key"] for record in records)
        row = {key: str(value) for key, value in candidate["settings"].items()}
        row[title] = mean_sd(scores)
        row["Kept"] = ("✓" if kept else "") if len(records) == 1 else f"{kept} of {len(records)} seeds"
        rows.append(row)
    return pd.DataFrame(rows)


def selection_blocks(records: list[Record]) -> list[Block]:
    """Report blocks for the `select_teacher` records (one per task, teacher and seed); none without records."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        groups.setdefault((record["task"], record["teacher"]), []).append(record)
    blocks: list[Block] = []
    for (task, teacher), seeds in groups.items():
        over = f", mean ± sd over {len(seeds)} seeds" if len(seeds) > 1 else ""
        blocks += [
            Heading(f"Teacher selection: {task}, teacher {teacher}"),
            Paragraph(
                f"Teacher `{teacher}` was fine-tuned once per candidate below; the one whose saved model scored best "
                f"on the validation split (ties: the earlier one) is the teacher every student and evaluation "
                f"uses{over}."
            ),
            Table(_candidates_frame(seeds)),
        ]
    return blocks
