"""Run a registered loader (see `registry.py` for the names, task types and options).

A loader returns the splits its source provides, each a DataFrame in the task type's schema
(`schema.COLUMNS`); `{"all": frame}` means the source has no official split and `prepare` splits it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import pandas as pd

from scalingdown.pipeline.names.loader_registry import check_data


def load(loader: str, options: Mapping[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Check the loader, task type and options (`DataConfigError`), then load (`DataError` on bad data)."""
    info = check_data(loader, task_type, options)
    module = importlib.import_module(info.module)
    splits: dict[str, pd.DataFrame] = module.load(dict(options), seed, task_type)
    return splits
