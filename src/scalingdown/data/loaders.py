"""The registry of dataset loaders used by `prepare`.

A loader takes its `options` (from the config's `data.options`) and the experiment seed, and
returns the splits the source provides, each a DataFrame in the task type's schema:

- classification: `row_id` (str), `text` (str), `label` (str)

`{"all": frame}` means the source has no official split; `prepare` then splits it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.errors import DataError
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


PHRASEBANK_LABELS = ("negative", "neutral", "positive")


def read_phrasebank(path: str | Path, encoding: str = "latin-1") -> pd.DataFrame:
    """Financial PhraseBank v1.0 (`sentence@label` per line, latin-1); row ids are `<file stem>:<line>`.

    Raises `DataError` naming the file and line for undecodable bytes, a missing `@`, an empty
    sentence or a label other than negative/neutral/positive.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise DataError(path, line, f"bytes that are not valid {encoding}: {error.reason}") from error
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        sentence, separator, label = line.rstrip("\r").rpartition("@")
        if not separator:
            raise DataError(path, number, "expected 'sentence@label', found no '@'")
        if label not in PHRASEBANK_LABELS:
            raise DataError(path, number, f"unknown label {label!r}; expected one of {', '.join(PHRASEBANK_LABELS)}")
        if not sentence.strip():
            raise DataError(path, number, "empty sentence before '@'")
        rows.append((f"{path.stem}:{number}", sentence.strip(), label))
    return pd.DataFrame(rows, columns=["row_id", "text", "label"])


def load_phrasebank(options: dict[str, Any], seed: int) -> dict[str, pd.DataFrame]:
    """Financial PhraseBank from one of its release files (`options.path`); no official split."""
    return {"all": read_phrasebank(options["path"], options.get("encoding", "latin-1"))}


LOADERS: dict[str, Loader] = {
    "synthetic_finance": load_synthetic_finance,
    "phrasebank": load_phrasebank,
}


def get_loader(name: str) -> Loader:
    """Look a loader up by name, with an error listing the known ones."""
    if name not in LOADERS:
        known = ", ".join(sorted(LOADERS))
        raise KeyError(f"unknown data loader {name!r}; known loaders: {known}")
    return LOADERS[name]
