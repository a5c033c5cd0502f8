"""Reading and fingerprinting the Parquet splits that `prepare` writes.

Every read is verified: a split whose content no longer hashes to what the manifest recorded (a file
edited, replaced or truncated after `prepare` wrote it) is refused, so no stage trains or scores on data
that is not the data its caches and records were made from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scalingdown.data.content_hash import table_sha256
from scalingdown.pipeline.errors import UserError

SPLITS = ("train", "validation", "test")
MANIFEST = "manifest.json"


class PreparedDataError(UserError, ValueError):
    """A prepared-data directory is missing, incomplete, or changed since `prepare` wrote it."""


def split_path(data_dir: str | Path, split: str) -> Path:
    """The Parquet file of one split inside a prepared-data directory."""
    return Path(data_dir) / f"{split}.parquet"


def read_split(data_dir: str | Path, split: str) -> pd.DataFrame:
    """Load one prepared split after checking it against the manifest's content hash."""
    expected = _manifest_hash(data_dir, split)
    path = split_path(data_dir, split)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise PreparedDataError(f"{path}: cannot read the {split} split ({error}); {_REDO.format(data_dir)}") from None
    actual = table_sha256(table)
    if actual != expected:
        raise PreparedDataError(
            f"{path}: content hash {actual[:12]}… differs from the manifest's {expected[:12]}…: the {split} split "
            f"changed after prepare wrote it; {_REDO.format(data_dir)}"
        )
    return table.to_pandas()


_REDO = "delete {} and rerun prepare"


def _manifest_hash(data_dir: str | Path, split: str) -> str:
    entry = read_manifest(data_dir).get("splits", {}).get(split)
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise PreparedDataError(
            f"{Path(data_dir) / MANIFEST}: records no content hash of the {split} split; {_REDO.format(data_dir)}"
        )
    return str(entry["sha256"])


def read_manifest(data_dir: str | Path) -> dict[str, Any]:
    """The manifest `prepare` wrote: labels, counts, per-split content hashes."""
    path = Path(data_dir) / MANIFEST
    if not Path(data_dir).is_dir():
        raise PreparedDataError(f"{data_dir}: no such directory (expected prepared data, as `prepare --out` writes)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PreparedDataError(f"{data_dir}: holds no {MANIFEST}; it is not a directory written by prepare") from None
    except (OSError, ValueError) as error:
        raise PreparedDataError(f"{path}: not a readable manifest ({error}); {_REDO.format(data_dir)}") from None
    if not isinstance(manifest, dict):
        raise PreparedDataError(f"{path}: expected a JSON object; {_REDO.format(data_dir)}")
    return manifest


def write_split(data_dir: str | Path, split: str, frame: pd.DataFrame) -> str:
    """Write one split to Parquet; returns the content hash of the file as written (what the manifest records)."""
    path = split_path(data_dir, split)
    frame.to_parquet(path, index=False)
    return table_sha256(pq.read_table(path))


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """The content hash of a split as it is written to Parquet (see `data.content_hash`)."""
    return table_sha256(pa.Table.from_pandas(frame, preserve_index=False))
