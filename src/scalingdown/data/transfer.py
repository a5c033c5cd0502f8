"""Transfer text: sentences without labels that distilled students learn from through their teachers.

`data.transfer` names any loader; its rows (every split it has) become transfer rows of the training split, their
labels (if the source has any) dropped. The generic loader then needs only the text column. A transfer text that is
also a validation or test text is dropped, and counted, so that nothing a model is scored on reaches training; so
are texts already in the training split and repeats within the source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import pandas as pd

from scalingdown.data.formats import generic
from scalingdown.data.loaders import load
from scalingdown.data.records import nonempty, text
from scalingdown.data.sources import load_splits
from scalingdown.pipeline.specs.definitions import TransferSpec

# Transfer rows' ids: the source's own ids under this prefix, so they never collide with the task's.
ID_PREFIX = "transfer/"
COLUMNS = ("row_id", "text")


@dataclass(frozen=True)
class TransferCounts:
    """What became of the transfer source's rows (the manifest's `transfer` entry)."""

    rows_loaded: int
    dropped_in_evaluation: int
    dropped_in_train: int
    repeats_dropped: int
    rows_kept: int

    def to_dict(self) -> dict[str, int]:
        """The counts as the manifest records them."""
        return asdict(self)


def _text_only(options: dict[str, Any]) -> Any:
    """The generic loader's parser for a file that need hold only the text column (and `id_column`)."""
    text_column = options.get("text_column", "text")
    id_column = options.get("id_column")

    def parse(record: dict[str, Any]) -> dict[str, Any]:
        row = {"text": text(record, text_column)}
        if id_column:
            row["row_id"] = nonempty(str(record.get(id_column, "")), id_column)
        return row

    return parse


def load_transfer(spec: TransferSpec, seed: int) -> pd.DataFrame:
    """Every row of the transfer source as (`row_id`, `text`), ids prefixed with `transfer/`."""
    options = dict(spec.options)
    if spec.loader == "generic":
        parts = load_splits(options, partial(generic.read_file, options=options), _text_only(options), COLUMNS)
    else:
        parts = load(spec.loader, options, seed, "classification")
    frame = pd.concat([part[list(COLUMNS)] for part in parts.values()], ignore_index=True)
    return frame.assign(row_id=ID_PREFIX + frame["row_id"].astype(str))


def transfer_rows(
    source: pd.DataFrame, train: pd.DataFrame, evaluation: list[pd.DataFrame]
) -> tuple[pd.DataFrame, TransferCounts]:
    """The transfer texts left after dropping those in `evaluation` (validation, test), those already in `train`
    and repeats; with the counts of each."""
    scored = set().union(*(set(frame["text"]) for frame in evaluation))
    in_evaluation = source["text"].isin(scored)
    in_train = ~in_evaluation & source["text"].isin(set(train["text"]))
    rest = source[~in_evaluation & ~in_train]
    repeats = rest["text"].duplicated(keep="first")
    kept = rest[~repeats].reset_index(drop=True)
    counts = TransferCounts(
        rows_loaded=len(source),
        dropped_in_evaluation=int(in_evaluation.sum()),
        dropped_in_train=int(in_train.sum()),
        repeats_dropped=int(repeats.sum()),
        rows_kept=len(kept),
    )
    return kept, counts
