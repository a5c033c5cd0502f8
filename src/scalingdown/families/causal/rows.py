"""Prepared splits as a causal LM reads them: prompt and response token ids per row.

The prompt and response texts are those of the text-to-text family (`families.text2text.rows.split_texts`: the task
type's prompt templates over a row's fields); the chat template and the one sequence are `chat`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.budget import labelled_rows
from scalingdown.data.store import read_split
from scalingdown.families.causal.chat import encode_rows
from scalingdown.families.text2text.rows import split_texts
from scalingdown.pipeline.specs.definitions import TextTask


def encoded_split(
    data_dir: str | Path,
    split: str,
    task_type: str,
    text: TextTask,
    tokenizer: Any,
    max_length: int,
    labelled_only: bool = False,
) -> tuple[pd.DataFrame, list[list[int]], list[list[int] | None]]:
    """One split of a task: its rows, prompt ids and gold response ids (None for a transfer row; with
    `labelled_only` the transfer rows are left out)."""
    frame = read_split(data_dir, split)
    if labelled_only:
        frame = labelled_rows(frame)
    prompts, responses = split_texts(frame, task_type, text.prompt)
    prompt_ids, response_ids = encode_rows(
        tokenizer, prompts, responses, max_length, text.max_target_length, f"{split} rows"
    )
    return frame, prompt_ids, response_ids
