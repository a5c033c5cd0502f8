"""The label-budget sweep in the report: which budget each row of the metrics table belongs to, and how many
labelled training rows its students had (the x axis of `plots.budget_curve`).

In a sweep (`data.label_budget` as a list, `config.label_budgets`) the table's `task` column holds the budget cell
(`<task>/budget-<label>`), so tables, seeds and paired tests stay within one budget; `budget` (`0.05`, `200`,
`all`) and `budget_rows` (the labelled rows of the cell's prepared data, from its manifest) say where on the curve a
row lies. A table of an experiment without a sweep is left as it is.
"""

from __future__ import annotations

import pandas as pd

from scalingdown.pipeline.config.label_budgets import folder_label
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.report.training_data import row_counts

BUDGET = "budget"
BUDGET_ROWS = "budget_rows"


def swept_cells(plan: Plan) -> dict[str, str]:
    """Budget cell → its task's name, for every task that sweeps label budgets (empty when none does)."""
    return {task.cell: task.name for task in plan.tasks.values() if task.cell != task.name}


def add_budget_columns(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The metrics table with `budget` and `budget_rows` for the rows of swept tasks (the others get empty cells);
    unchanged when no task sweeps budgets. A cell whose manifest cannot be read gets no `budget_rows`."""
    cells = {(task.cell, task.seed): task for task in plan.tasks.values() if task.cell != task.name}
    if not cells:
        return table
    budgets: list[str | None] = []
    rows: list[float] = []
    for cell, seed in zip(table["task"], table["seed"]):
        task = cells.get((cell, seed))
        counts = row_counts(task.data_dir) if task is not None else None
        budgets.append(folder_label(task.budget) if task is not None else None)
        rows.append(float(counts[0]) if counts is not None else float("nan"))
    return table.assign(**{BUDGET: budgets, BUDGET_ROWS: rows})


def curve_tasks(summary: pd.DataFrame, cells: dict[str, str]) -> list[str]:
    """The tasks with at least two budget cells that have rows in the (summarised) table: the curve's panels."""
    present = summary[summary["task"].isin(list(cells))]
    if BUDGET_ROWS not in present:
        return []
    present = present[present[BUDGET_ROWS].notna()]
    by_task: dict[str, set[str]] = {}
    for cell in present["task"]:
        by_task.setdefault(cells[str(cell)], set()).add(str(cell))
    return [task for task, found in by_task.items() if len(found) >= 2]
