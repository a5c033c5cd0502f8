"""Label names: each row's label index, and a model's output columns put in the task's label order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalingdown.pipeline.errors import UserError


class LabelMismatch(UserError, ValueError):
    """A model's label names cannot be mapped onto the task's labels."""


def label_ids(frame: pd.DataFrame, labels: list[str]) -> list[int]:
    """The index of each row's label in `labels`."""
    index = {label: position for position, label in enumerate(labels)}
    return [index[label] for label in frame["label"]]


# The label id of a row whose label a model may not learn from (a transfer row): the loss ignores it.
UNLABELLED = -100


def training_label_ids(frame: pd.DataFrame, labels: list[str]) -> list[int]:
    """Each training row's label index, or `UNLABELLED` for a transfer row (no label, or `labelled` false)."""
    index = {label: position for position, label in enumerate(labels)}
    flags = frame["labelled"] if "labelled" in frame.columns else [True] * len(frame)
    return [index[label] if flag else UNLABELLED for label, flag in zip(frame["label"], flags)]


def align_columns(matrix: np.ndarray, source: list[str], target: list[str], who: str, hint: str = "") -> np.ndarray:
    """Reorder the columns of `matrix` from `source` label order to `target` order, by name.

    Names compare case-insensitively. Raises `LabelMismatch` naming `who`, both label lists and,
    when given, `hint` (how to fix it).
    """
    position = {name.lower(): index for index, name in enumerate(source)}
    missing = [name for name in target if name.lower() not in position]
    if missing or len(source) != len(target) or len(position) != len(source):
        raise LabelMismatch(
            f"{who}: its labels {source} cannot be mapped onto the task's labels {target}"
            + (f" (no match for {missing})" if missing else "")
            + (f"; {hint}" if hint else "")
        )
    return matrix[:, [position[name.lower()] for name in target]]
