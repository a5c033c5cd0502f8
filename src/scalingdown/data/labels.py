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
