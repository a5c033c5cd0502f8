"""Prepared text-to-text splits as source/target texts and token ids."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.budget import LABELLED, labelled_rows
from scalingdown.data.store import read_split
from scalingdown.families.text2text.formats import source_text, target_text
from scalingdown.pipeline.names.tasks import prompt_for

log = logging.getLogger(__name__)


def split_texts(
    frame: pd.DataFrame, task_type: str, prompt: dict[str, str] | None
) -> tuple[list[str], list[str | None]]:
    """The source and gold target text of every row of a split, in row order (None for a transfer row of a
    training split with a label budget: it has no gold target)."""
    prompt = prompt_for(task_type, prompt)
    rows = frame.to_dict("records")
    return (
        [source_text(task_type, prompt, row) for row in rows],
        [target_text(task_type, prompt, row) if row.get(LABELLED, True) else None for row in rows],
    )


def encode(tokenizer: Any, texts: list[str], max_length: int, what: str, target: bool = False) -> list[list[int]]:
    """Token ids of `texts` (ending with EOS), truncated to `max_length`; logs how many were truncated.

    Targets of a BERT-style tokenizer (a `[CLS]` that is no begin-of-sequence token) lose their leading
    `[CLS]`: a BERT2BERT decoder starts from `[CLS]` itself, so a target is `answer [SEP]`.
    """
    key = "text_target" if target else "text"
    drop = int(target and tokenizer.cls_token_id is not None and tokenizer.cls_token_id != tokenizer.bos_token_id)
    full = tokenizer(**{key: texts})["input_ids"]
    truncated = sum(len(ids) - drop > max_length for ids in full)
    if truncated:
        log.warning("%d of %d %s are longer than %d tokens and were truncated", truncated, len(texts), what, max_length)
    encoded = tokenizer(**{key: texts}, truncation=True, max_length=max_length + drop)["input_ids"]
    return [list(ids[drop:]) if drop and ids[:1] == [tokenizer.cls_token_id] else list(ids) for ids in encoded]


def encoded_split(
    data_dir: str | Path,
    split: str,
    task_type: str,
    prompt: dict[str, str] | None,
    tokenizer: Any,
    max_length: int,
    max_target_length: int,
    labelled_only: bool = False,
) -> tuple[pd.DataFrame, list[list[int]], list[list[int] | None]]:
    """One split of a task: its rows, source ids and gold target ids (None for a transfer row, see `split_texts`;
    with `labelled_only` the transfer rows are left out)."""
    frame = read_split(data_dir, split)
    if labelled_only:
        frame = labelled_rows(frame)
    sources, targets = split_texts(frame, task_type, prompt)
    gold = [index for index, target in enumerate(targets) if target is not None]
    texts = [target for target in targets if target is not None]
    encoded = encode(tokenizer, texts, max_target_length, f"{split} targets", target=True)
    target_ids: list[list[int] | None] = [None] * len(targets)
    for index, ids in zip(gold, encoded, strict=True):
        target_ids[index] = ids
    return frame, encode(tokenizer, sources, max_length, f"{split} sources"), target_ids
