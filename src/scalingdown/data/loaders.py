"""The registry of dataset loaders used by `prepare`.

A loader takes its `options` (from the config's `data.options`) and the experiment seed, and
returns the splits the source provides, each a DataFrame in the task type's schema:

- classification: `row_id` (str), `text` (str), `label` (str)

`{"all": frame}` means the source has no official split; `prepare` then splits it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from scalingdown.data.synthetic import generate_financial_sentiment

Loader = Callable[[dict[str, Any], int], dict[str, pd.DataFrame]]


def load_synthetic_finance(options: dict[str, Any], seed: int) -> dict[str, pd.DataFrame]:
    """The built-in generator of financial-news sentiment sentences (no official split)."""
    frame = generate_financial_sentiment(
        rows=options.get("rows", 1500),
        seed=options.get("seed", seed),
        label_mix=options.get("label_mix"),
        label_noise=options.get("label_noise", 0.08),
    )
    return {"all": frame[["row_id", "text", "label"]]}


LOADERS: dict[str, Loader] = {
    "synthetic_finance": load_synthetic_finance,
}


def get_loader(name: str) -> Loader:
    """Look a loader up by name, with an error listing the known ones."""
    if name not in LOADERS:
        known = ", ".join(sorted(LOADERS))
        raise KeyError(f"unknown data loader {name!r}; known loaders: {known}")
    return LOADERS[name]
