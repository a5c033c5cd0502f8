"""Label budgets: which rows of the training split keep their labels (the rest become transfer text).

The rows are put in one seeded, stratified order and a budget keeps a prefix of it: every label's rows are
shuffled, the j-th of a label's c rows gets the position (j + ½) / c, and the rows are sorted by position (ties in
a seeded random order). Any prefix then holds each label in proportion (within one row), and a smaller budget's
rows are always among a larger one's, so the cells of a budget sweep are nested (5 % ⊂ 10 % ⊂ 25 %), and a
teacher with its own larger budget has seen every label the students have.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalingdown.data.schema import LABEL_COLUMNS
from scalingdown.pipeline.config.label_budgets import is_count

# The column that marks the labelled rows of a training split with a budget or transfer text.
LABELLED = "labelled"
# Offsets of the budgets' random streams from the experiment seed (the splits use seed, seed + 1, seed + 2).
BUDGET_STREAM = 3
VALIDATION_STREAM = 4


def stratified_order(labels: pd.Series, seed: int, stream: int = BUDGET_STREAM) -> np.ndarray:
    """Row positions in the order a budget takes them: seeded, each prefix stratified by `labels`."""
    generator = np.random.default_rng([seed, stream])
    count = len(labels)
    position = np.zeros(count)
    groups = labels.astype(str).groupby(labels.astype(str), sort=True).indices if count else {}
    for rows in groups.values():
        shuffled = generator.permutation(rows)
        position[shuffled] = (np.arange(len(shuffled)) + 0.5) / len(shuffled)
    ties = generator.random(count)
    return np.lexsort((ties, position))


def budget_rows(budget: float, available: int) -> int:
    """How many rows a budget keeps labelled: a count as it is, a fraction of `available` rounded (at least 1)."""
    if is_count(budget):
        return int(budget)
    return max(1, round(budget * available))


def apply_budget(
    train: pd.DataFrame, budget: float | None, seed: int, stratify: str | None, task_type: str = "classification"
) -> pd.DataFrame:
    """The training split with a `labelled` column: the first `budget` rows of `stratified_order` keep their
    labels, the others become transfer rows (what the task type predicts emptied: a label, an answer). None keeps
    every label. Row order is unchanged."""
    frame = train.copy()
    frame[LABELLED] = True
    if budget is None:
        return frame
    kept = budget_rows(budget, len(frame))
    if kept > len(frame):
        raise ValueError(f"a budget of {kept} labelled rows exceeds the {len(frame)} training rows")
    labels = frame[stratify] if stratify is not None else pd.Series(["all"] * len(frame), index=frame.index)
    order = stratified_order(labels.reset_index(drop=True), seed)
    labelled = np.zeros(len(frame), dtype=bool)
    labelled[order[:kept]] = True
    frame[LABELLED] = labelled
    for column in LABEL_COLUMNS[task_type]:
        frame[column] = frame[column].astype(object).where(frame[LABELLED], None)
    return frame


def labelled_rows(train: pd.DataFrame) -> pd.DataFrame:
    """The rows of a training split whose labels a model may learn from (all of a split without the column)."""
    if LABELLED not in train.columns:
        return train
    return train[train[LABELLED]].reset_index(drop=True)


def cap_validation(validation: pd.DataFrame, budget: float | None, seed: int, stratify: str | None) -> pd.DataFrame:
    """The validation rows a `data.validation_budget` keeps: a stratified, seeded share (in their original order);
    all of them without a budget."""
    if budget is None:
        return validation
    kept = budget_rows(budget, len(validation))
    if kept >= len(validation):
        return validation
    frame = validation.reset_index(drop=True)
    labels = frame[stratify] if stratify is not None else pd.Series(["all"] * len(frame))
    rows = np.sort(stratified_order(labels, seed, VALIDATION_STREAM)[:kept])
    return frame.iloc[rows].reset_index(drop=True)
