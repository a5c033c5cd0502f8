"""`synthetic_finance_qa`: the built-in generator of questions about financial sentences (no official split)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scalingdown.data.generators.financial_qa import generate_financial_qa
from scalingdown.data.schema import COLUMNS

DEFAULT_ROWS = 2000
DEFAULT_CHOICES = 4


def load(options: dict[str, Any], seed: int, task_type: str) -> dict[str, pd.DataFrame]:
    """Generate the rows in the task type's form; the generator's own seed defaults to the experiment seed."""
    frame = generate_financial_qa(
        rows=options.get("rows", DEFAULT_ROWS),
        seed=options.get("seed", seed),
        form=task_type,
        choices=options.get("choices", DEFAULT_CHOICES),
    )
    return {"all": frame[list(COLUMNS[task_type])]}
