"""`synthetic_finance`: the built-in generator of financial-news sentiment sentences (no official split)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scalingdown.data.generators.financial_sentiment import generate_financial_sentiment


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Generate the frame; the generator's own seed defaults to the experiment seed."""
    frame = generate_financial_sentiment(
        rows=options.get("rows", 1500),
        seed=options.get("seed", seed),
        label_mix=options.get("label_mix"),
        label_noise=options.get("label_noise", 0.08),
    )
    return {"all": frame[["row_id", "text", "label"]]}
