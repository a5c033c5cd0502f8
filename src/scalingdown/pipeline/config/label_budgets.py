"""Label budgets: how many training labels the students (and each teacher) get.

`data.label_budget` is a fraction of the training split (a number in (0, 1]) or a count of rows (a whole number
above 1: `1` and `1.0` are both every label, so that a budget means the same after YAML, JSON and the canonical
form that turns 1.0 into 1); the rest of the training split becomes transfer text, which students with teachers
still learn from (KD only). A teacher learns from the students' labelled rows unless
`teachers.<name>.label_budget` gives it its own share. A budget of `1.0` is every label, which is the same
as no budget at all (same data, same cache keys).

A list of budgets (`data.label_budget: [0.05, 0.1, 0.25, 1.0]`) is a sweep: each budget is a cell of the
experiment with its own prepared data, teachers trained on the students' labels and students, in the folder
`<task>/budget-<label>` (`folder_label`: `budget-0.05`, `budget-200`, `budget-all`); a teacher with its own
`label_budget` is the same artefact in every cell, so it is trained once. Standard library only: the Snakefile
imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from scalingdown.pipeline.errors import ConfigError

Budget = float | int

log = logging.getLogger(__name__)

# The task types a label budget applies to. On a generative task (text-to-text: a free answer) a transfer row's
# target is its teacher's greedy generation (sequence-level KD), so each student with teachers has exactly one.
BUDGET_TYPES = ("classification", "generative_qa", "math")

# What `label_budget` may be, in words (the errors repeat it).
FORMS = "a fraction of the training rows in (0, 1] (e.g. 0.1) or a count of rows, a whole number above 1 (e.g. 200)"


def is_count(budget: Budget) -> bool:
    """A budget above 1 counts rows; one in (0, 1] is a fraction of the training rows."""
    return budget > 1


def normalised(budget: Budget | None) -> Budget | None:
    """The budget as the data and cache keys see it: None for every label (no budget, or 1), a count as an int."""
    if budget is None or budget == 1:
        return None
    return int(budget) if is_count(budget) else float(budget)


def budget_text(budget: Budget | None) -> str:
    """A budget in the report: `10 % of the labels`, `200 labelled rows`, `all labels`."""
    if budget is None or budget == 1:
        return "all labels"
    if is_count(budget):
        return f"{int(budget)} labelled rows"
    return f"{float(budget) * 100:g} % of the labels"


def check_budget(key: str, budget: Any, labels: list[str] | None, rows: int | None) -> None:
    """Refuse a budget ≤ 0, a count that is not a whole number, a count below the number of labels (some label
    would have no labelled row), or one above `rows` (the training rows, when known before `prepare`)."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise ConfigError(key, f"expected {FORMS}, found {budget!r}")
    if budget <= 0:
        raise ConfigError(key, f"{budget} is not a budget: expected {FORMS}")
    if not is_count(budget):
        if rows is not None and round(budget * rows) < 1:
            raise ConfigError(key, f"{budget} of the {rows} training rows is no row at all; raise it")
        return
    if budget != int(budget):
        raise ConfigError(key, f"{budget} is above 1, so it counts rows, and is not a whole number; expected {FORMS}")
    if labels and budget < len(labels):
        raise ConfigError(
            key,
            f"{int(budget)} labelled rows cannot cover the {len(labels)} labels {labels}; give at least {len(labels)}",
        )
    if rows is not None and budget > rows:
        raise ConfigError(key, f"{int(budget)} labelled rows is more than the {rows} training rows; lower it")


def check_budgets(prefix: str, task: Mapping[str, Any], train_rows: int | None) -> None:
    """`data.label_budget` and every teacher's `label_budget` (classification and generative tasks), and
    `data.transfer` (classification tasks); `train_rows` is the training split's size when known before any job."""
    data = task["data"]
    labels = task.get("labels")
    budgets = data.get("label_budget")
    uses = [f"{prefix}.data.label_budget"] if budgets is not None else []
    uses += [f"{prefix}.teachers.{n}.label_budget" for n, t in task["teachers"].items() if "label_budget" in t]
    if uses and task["type"] not in BUDGET_TYPES:
        raise ConfigError(
            uses[0],
            f"label budgets are for classification and generative tasks ({', '.join(BUDGET_TYPES)}), not "
            f"{task['type']} tasks: a transfer row's target would be a teacher's generation, which need not be one "
            "of the row's options",
        )
    if data.get("transfer") is not None and task["type"] != "classification":
        raise ConfigError(f"{prefix}.data.transfer", f"transfer text is for classification tasks, not {task['type']}")
    if data.get("validation_budget") is not None:
        check_budget(f"{prefix}.data.validation_budget", data["validation_budget"], labels, None)
    if isinstance(budgets, list):
        check_sweep(f"{prefix}.data.label_budget", budgets, labels, train_rows)
    elif budgets is not None:
        check_budget(f"{prefix}.data.label_budget", budgets, labels, train_rows)
    for name, teacher in task["teachers"].items():
        if "label_budget" not in teacher:
            continue
        key = f"{prefix}.teachers.{name}.label_budget"
        if teacher["finetune"] is False:
            raise ConfigError(key, "a teacher with finetune: false is not trained here, so it has no label budget")
        check_budget(key, teacher["label_budget"], labels, train_rows)


# -- sweeps: a list of budgets -----------------------------------------------------------------------------------
def check_sweep(key: str, budgets: list[Any], labels: list[str] | None, rows: int | None) -> None:
    """Refuse an empty list, a bad element (naming its index, `<key>[i]`) and a budget listed twice (1 and 1.0 are
    the same budget: every label)."""
    if not budgets:
        raise ConfigError(key, f"an empty list runs nothing: give one budget or a list of them, each {FORMS}")
    seen: dict[Budget | None, int] = {}
    for index, budget in enumerate(budgets):
        check_budget(f"{key}[{index}]", budget, labels, rows)
        same = normalised(budget)
        if same in seen:
            raise ConfigError(
                f"{key}[{index}]",
                f"{budget} is the budget of element [{seen[same]}] ({budget_text(same)}) again; list each budget once",
            )
        seen[same] = index
    if rows is not None:
        _note_equal_rows(key, budgets, rows)


def labelled_count(budget: Budget, rows: int) -> int:
    """How many of `rows` training rows a budget keeps labelled: a count as it is, a fraction rounded (at least 1),
    as `prepare` draws them."""
    return int(budget) if is_count(budget) else max(1, round(budget * rows))


def _note_equal_rows(key: str, budgets: list[Budget], rows: int) -> None:
    """Log a warning for budgets of a sweep that label the same number of the `rows` training rows: their cells
    train on the same rows (up to the draw), so the sweep runs that point twice."""
    first: dict[int, int] = {}
    for index, budget in enumerate(budgets):
        count = labelled_count(budget, rows)
        if count in first:
            log.warning(
                "config key `%s[%d]`: %s labels the same %d of about %d training rows as element [%d] (%s); the "
                "sweep runs that point twice",
                key,
                index,
                budget,
                count,
                rows,
                first[count],
                budgets[first[count]],
            )
        first.setdefault(count, index)


def has_budget(data: Mapping[str, Any]) -> bool:
    """Whether some cell of a task leaves training rows without their labels (a budget other than every label)."""
    return any(budget is not None for budget, _ in budget_cells(data))


def sweep(data: Mapping[str, Any]) -> list[Budget | None] | None:
    """The normalised budgets of a task's sweep, in the config's order; None when `data.label_budget` is not a
    list (one budget or none: the task keeps its folder)."""
    budgets = data.get("label_budget")
    return [normalised(budget) for budget in budgets] if isinstance(budgets, list) else None


def folder_label(budget: Budget | None) -> str:
    """A budget in a folder name: `all` for every label, a count as it is (`200`), a fraction in positional
    notation (`0.05`, never `5e-05`)."""
    budget = normalised(budget)
    if budget is None:
        return "all"
    if is_count(budget):
        return str(int(budget))
    return format(Decimal(repr(float(budget))), "f")


class BudgetCell(NamedTuple):
    """One cell of a task: the students' label budget (normalised; None: every label) and the folder label of a
    sweep's cell (None for a task that is not a sweep)."""

    budget: Budget | None
    label: str | None


def budget_cells(data: Mapping[str, Any]) -> list[BudgetCell]:
    """A task's cells, in the config's order."""
    budgets = sweep(data)
    if budgets is None:
        return [BudgetCell(normalised(data.get("label_budget")), None)]
    return [BudgetCell(budget, folder_label(budget)) for budget in budgets]
