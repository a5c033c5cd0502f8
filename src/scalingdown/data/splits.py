"""De-duplication, seeded stratified (or grouped) splits and `data_portion`."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from scalingdown.data.schema import TARGET, group_keys, input_keys

log = logging.getLogger(__name__)

# When a text occurs in several official splits, the evaluation split keeps it.
KEEP_PRIORITY = ("test", "validation", "train", "all")
_LOGGED_CONFLICTS = 20


@dataclass(frozen=True)
class Cleaning:
    """What de-duplication did: rows loaded, exact repeats dropped, rows dropped for conflicting labels."""

    rows_loaded: int
    duplicates_dropped: int
    label_conflicts_dropped: int
    conflicting_texts: int

    @property
    def unique_rows(self) -> int:
        """Rows left after dropping exact repeats (same text, same label)."""
        return self.rows_loaded - self.duplicates_dropped

    def counts(self) -> dict[str, int]:
        """The counts as the manifest and `data inspect` report them."""
        return {
            **asdict(self),
            "unique_rows": self.unique_rows,
            "rows_kept": self.unique_rows - self.label_conflicts_dropped,
        }


def drop_duplicates(parts: dict[str, pd.DataFrame], task_type: str) -> tuple[dict[str, pd.DataFrame], Cleaning]:
    """Make every text occur once across all splits.

    An exact repeat (same text and label) is dropped, the copy in the evaluation split kept first
    (test, then validation, then train). A text that carries different labels is ambiguous: all its
    rows are dropped, counted apart and logged.
    """
    order = [name for name in KEEP_PRIORITY if name in parts]
    tagged = pd.concat([parts[name].assign(_split=name) for name in order], ignore_index=True)
    keys = input_keys(tagged, task_type)
    targets = tagged[TARGET[task_type]].astype(str)
    repeat = pd.DataFrame({"key": keys, "target": targets}).duplicated(keep="first")
    kept, kept_keys = tagged[~repeat], keys[~repeat]
    conflicted = kept_keys.duplicated(keep=False)
    groups = kept[conflicted].groupby(kept_keys[conflicted], sort=False)
    for number, (key, group) in enumerate(groups):
        if number < _LOGGED_CONFLICTS:
            log.warning(
                "dropping %d rows (%s) of one text with different labels %s: %.100s",
                len(group),
                ", ".join(group["row_id"]),
                sorted(group[TARGET[task_type]].astype(str)),
                key,
            )
    if groups.ngroups > _LOGGED_CONFLICTS:
        log.warning("… and %d more texts with different labels", groups.ngroups - _LOGGED_CONFLICTS)
    clean = kept[~conflicted]
    report = Cleaning(
        rows_loaded=len(tagged),
        duplicates_dropped=int(repeat.sum()),
        label_conflicts_dropped=int(conflicted.sum()),
        conflicting_texts=groups.ngroups,
    )
    split_frames = {
        name: clean[clean["_split"] == name].drop(columns="_split").reset_index(drop=True) for name in order
    }
    return split_frames, report


def _stratify(frame: pd.DataFrame, fraction: float, label_column: str | None) -> pd.Series | None:
    """The labels to stratify by, or None when the frame is too small for every label on both sides."""
    if label_column is None or label_column not in frame:
        return None
    counts = frame[label_column].value_counts()
    part = math.ceil(fraction * len(frame))
    if counts.min() < 2 or part < len(counts) or len(frame) - part < len(counts):
        return None
    return frame[label_column]


def split_off(
    frame: pd.DataFrame, fraction: float, seed: int, label_column: str | None = "label", group_by: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `frame` into (rest, part) with `part` holding `fraction` of the rows, stratified by label; with
    `group_by`, `fraction` of the groups of rows with equal values of that column instead (a group never spans
    both sides; not stratified)."""
    if group_by is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        rest_rows, part_rows = next(splitter.split(frame, groups=group_keys(frame, group_by)))
        return frame.iloc[rest_rows].reset_index(drop=True), frame.iloc[part_rows].reset_index(drop=True)
    rest, part = train_test_split(
        frame,
        test_size=fraction,
        random_state=seed,
        shuffle=True,
        stratify=_stratify(frame, fraction, label_column),
    )
    return rest.reset_index(drop=True), part.reset_index(drop=True)


def take_portion(frame: pd.DataFrame, portion: float, seed: int, label_column: str | None = "label") -> pd.DataFrame:
    """A stratified `portion` (0 < portion <= 1) of `frame`; the whole frame at 1."""
    if portion >= 1:
        return frame
    _, part = split_off(frame, portion, seed, label_column)
    return part
