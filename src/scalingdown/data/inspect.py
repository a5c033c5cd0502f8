"""`scalingdown data inspect`: load a dataset the way `prepare` does and count what it holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from scalingdown.data.loaders import load
from scalingdown.data.schema import label_counts
from scalingdown.data.splits import drop_duplicates
from scalingdown.pipeline.names.loader_registry import DataConfigError, loader_info


def inspect_data(
    loader: str, options: Mapping[str, Any], task_type: str | None = None, seed: int = 0
) -> dict[str, Any]:
    """Counts of the rows as loaded (`rows`, `label_counts`, per source split) and of what de-duplication
    keeps (`unique_rows`, `duplicates_dropped`, `label_conflicts_dropped`, `conflicting_texts`, `rows_kept`).

    `task_type` may be left out for loaders that produce one type only.
    """
    types = loader_info(loader).task_types
    if task_type is None:
        if len(types) > 1:
            raise DataConfigError("type", f"loader {loader!r} reads {', '.join(types)} data; say which")
        task_type = types[0]
    parts = load(loader, options, seed, task_type)
    _, cleaning = drop_duplicates(parts, task_type)
    counts = cleaning.counts()
    result: dict[str, Any] = {
        "loader": loader,
        "type": task_type,
        "rows": counts.pop("rows_loaded"),
        **counts,
        "splits": {
            name: {"rows": len(frame), "label_counts": label_counts(frame, task_type)} for name, frame in parts.items()
        },
    }
    loaded_labels = label_counts(pd.concat(parts.values(), ignore_index=True), task_type)
    if loaded_labels is not None:
        result["label_counts"] = loaded_labels
    return result
