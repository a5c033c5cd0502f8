"""Reading and fingerprinting the Parquet splits that `prepare` writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

SPLITS = ("train", "validation", "test")
MANIFEST = "manifest.json"


def split_path(data_dir: str | Path, split: str) -> Path:
    """The Parquet file of one split inside a prepared-data directory."""
    return Path(data_dir) / f"{split}.parquet"


def read_split(data_dir: str | Path, split: str) -> pd.DataFrame:
    """Load one prepared split."""
    return pd.read_parquet(split_path(data_dir, split))


def read_manifest(data_dir: str | Path) -> dict[str, Any]:
    """The manifest `prepare` wrote: labels, counts, per-split content hashes."""
    return json.loads((Path(data_dir) / MANIFEST).read_text(encoding="utf-8"))


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over the rows in order (every column, canonical JSON per row)."""
    digest = hashlib.sha256()
    columns = sorted(frame.columns)
    for record in frame[columns].itertuples(index=False, name=None):
        row = [value.tolist() if hasattr(value, "tolist") else value for value in record]
        digest.update(json.dumps(row, ensure_ascii=False, default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
