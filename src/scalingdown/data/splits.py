"""De-duplication, seeded stratified splits and `data_portion`."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split


def drop_duplicate_texts(frame: pd.DataFrame, text_column: str = "text") -> tuple[pd.DataFrame, int]:
    """Keep the first row of every text; return the frame and how many rows were dropped."""
    kept = frame.drop_duplicates(subset=[text_column], keep="first")
    return kept.reset_index(drop=True), len(frame) - len(kept)


def _stratify(frame: pd.DataFrame, label_column: str | None) -> pd.Series | None:
    if label_column is None or label_column not in frame:
        return None
    counts = frame[label_column].value_counts()
    return frame[label_column] if counts.min() >= 2 else None


def split_off(
    frame: pd.DataFrame, fraction: float, seed: int, label_column: str | None = "label"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `frame` into (rest, part) with `part` holding `fraction` of the rows, stratified by label."""
    rest, part = train_test_split(
        frame, test_size=fraction, random_state=seed, shuffle=True, stratify=_stratify(frame, label_column)
    )
    return rest.reset_index(drop=True), part.reset_index(drop=True)


def take_portion(
    frame: pd.DataFrame, portion: float, seed: int, label_column: str | None = "label"
) -> pd.DataFrame:
    """A stratified `portion` (0 < portion <= 1) of `frame`; the whole frame at 1."""
    if portion >= 1:
        return frame
    _, part = split_off(frame, portion, seed, label_column)
    return part
