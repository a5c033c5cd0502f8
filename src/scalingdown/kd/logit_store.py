"""The teacher-logit store: one Parquet file per teacher with a fingerprint in its metadata.

Rows: `split`, `row_id`, then one list column per stored quantity. Classification caches hold
`logits` (float32, in the order of the fingerprint's `label_names`) and, for each hidden layer in
the fingerprint's `hidden_layers`, `hidden_<layer>`: the teacher's attention-mask mean of that
layer's token states. Seq2seq caches hold per-token top-k lists (see `scalingdown.seq2seq.topk`).
Lists of equal length are stored as fixed-size lists, ragged ones (one entry per target token) as
variable lists; every list keeps its dtype (int32, float16, float32; float64 is stored as float32).
The fingerprint records what produced the cache (teacher, tokenizer, max length, data version per
split); consumers refuse a cache whose fingerprint or row ids do not match the data they train on,
so teacher outputs are never silently misaligned.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scalingdown.pipeline.atomic import atomic_path
from scalingdown.pipeline.errors import UserError

FINGERPRINT_KEY = b"scalingdown.fingerprint"
# Who built the cache (see scalingdown.provenance); kept apart from the fingerprint on purpose.
PROVENANCE_KEY = b"scalingdown.provenance"
STORE_FORMAT = 1


class CacheMismatch(UserError, ValueError):
    """A teacher cache does not match what the consumer expects; the message says what differs."""


def write_logits(
    path: str | Path, rows: pd.DataFrame, fingerprint: dict[str, Any], provenance: dict[str, Any] | None = None
) -> None:
    """Write `rows` (split, row_id, logits) with `fingerprint` (and `provenance`) to `path`, atomically."""
    columns = {
        "split": pa.array(rows["split"].astype(str).tolist(), pa.string()),
        "row_id": pa.array(rows["row_id"].astype(str).tolist(), pa.string()),
    }
    for name in rows.columns:
        if name not in columns:
            columns[name] = _list_column(rows[name].tolist())
    table = pa.table(columns)
    metadata = {FINGERPRINT_KEY: json.dumps({"format": STORE_FORMAT, **fingerprint}, sort_keys=True).encode()}
    if provenance is not None:
        metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    table = table.replace_schema_metadata(metadata)
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)


def _list_column(values: list[Any]) -> pa.Array:
    """One list per row (flattened), as a fixed-size list when all are equally long, else a variable list."""
    arrays = [np.asarray(value).reshape(-1) for value in values]
    dtype = np.result_type(*arrays) if arrays else np.dtype(np.float32)
    if dtype == np.float64:
        dtype = np.dtype(np.float32)
    flat = pa.array(np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype))
    lengths = {array.size for array in arrays}
    if len(lengths) == 1:
        return pa.FixedSizeListArray.from_arrays(flat, lengths.pop())
    offsets = np.concatenate([[0], np.cumsum([array.size for array in arrays])]).astype(np.int64)
    return pa.LargeListArray.from_arrays(pa.array(offsets), flat)


def _numpy_rows(column: pa.ChunkedArray, rows: int) -> list[np.ndarray]:
    """A list column back as one numpy array per row (dtype as stored)."""
    column = column.combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False)
    if pa.types.is_fixed_size_list(column.type):
        return list(values.reshape(rows, column.type.list_size))
    offsets = column.offsets.to_numpy()
    offsets = offsets - offsets[0]
    return [values[start:end] for start, end in itertools.pairwise(offsets)]


def read_fingerprint(path: str | Path) -> dict[str, Any]:
    """Only the fingerprint, without reading the rows."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as error:
        raise CacheMismatch(f"{path}: not a readable Parquet logit cache ({error})") from error
    if FINGERPRINT_KEY not in metadata:
        raise CacheMismatch(f"{path}: has no ScalingDown fingerprint; it was not written by teacher_logits")
    return json.loads(metadata[FINGERPRINT_KEY])


def read_provenance_metadata(path: str | Path) -> dict[str, Any] | None:
    """The provenance record stored with a cache, or None (a cache written without one)."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[PROVENANCE_KEY]) if PROVENANCE_KEY in metadata else None


def read_logits(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows (list columns as numpy arrays) and the fingerprint of a cache."""
    fingerprint = read_fingerprint(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise CacheMismatch(f"{path}: the Parquet data cannot be read ({error})") from error
    frame = pd.DataFrame({"split": table["split"].to_pylist(), "row_id": table["row_id"].to_pylist()})
    for name in table.column_names:
        if name not in frame:
            frame[name] = _numpy_rows(table[name], len(frame))
    return frame, fingerprint


def hidden_column(layer: int) -> str:
    """The column holding the pooled states of hidden layer `layer`."""
    return f"hidden_{layer}"


def check_hidden_layers(path: str | Path, fingerprint: dict[str, Any], layers: list[int]) -> None:
    """Refuse a cache that lacks pooled states of some of `layers`."""
    missing = sorted(set(layers) - set(fingerprint.get("hidden_layers", [])))
    if missing:
        raise CacheMismatch(
            f"{path}: holds pooled states of hidden layers {fingerprint.get('hidden_layers', [])}, "
            f"not of {missing} that the hidden map needs (rerun teacher_logits)"
        )


def split_matrix(frame: pd.DataFrame, split: str, column: str = "logits") -> np.ndarray:
    """The rows of one split as a 2-D float32 matrix, in stored order."""
    rows = frame.loc[frame["split"] == split, column]
    return np.stack(rows.to_numpy()).astype(np.float32, copy=False)


def check_cache(
    path: str | Path,
    fingerprint: dict[str, Any],
    frame: pd.DataFrame,
    expected: dict[str, Any],
    data: dict[str, pd.DataFrame],
    data_hashes: dict[str, str],
) -> None:
    """Refuse a cache that does not belong to `expected` teacher settings and this data.

    `expected` holds fingerprint fields that must be equal (e.g. teacher_key, max_length);
    `data` the consumer's splits (for row ids) and `data_hashes` their content hashes.
    """
    for key, value in expected.items():
        if fingerprint.get(key) != value:
            raise CacheMismatch(
                f"{path}: fingerprint field `{key}` is {fingerprint.get(key)!r}, expected {value!r} "
                "(the cache was produced for another teacher or settings; rerun teacher_logits)"
            )
    for split, rows in data.items():
        cached = fingerprint.get("splits", {}).get(split)
        if cached is None:
            raise CacheMismatch(f"{path}: holds no logits for the {split} split")
        if cached["sha256"] != data_hashes[split]:
            raise CacheMismatch(
                f"{path}: fingerprint of the {split} data differs (cache {cached['sha256'][:12]}…, "
                f"data {data_hashes[split][:12]}…): the data changed since the logits were computed"
            )
        _check_row_ids(path, split, frame.loc[frame["split"] == split, "row_id"].tolist(), rows["row_id"].tolist())


def _check_row_ids(path: str | Path, split: str, cached: list[str], wanted: list[str]) -> None:
    duplicates = sorted(row for row, count in Counter(cached).items() if count > 1)
    if duplicates:
        raise CacheMismatch(f"{path}: duplicate row ids in the {split} split: {_few(duplicates)}")
    missing = sorted(set(wanted) - set(cached))
    if missing:
        raise CacheMismatch(f"{path}: {len(missing)} row ids of the {split} data are missing: {_few(missing)}")
    extra = sorted(set(cached) - set(wanted))
    if extra:
        raise CacheMismatch(f"{path}: {len(extra)} row ids in the {split} split are not in the data: {_few(extra)}")
    if cached != wanted:
        first = next(i for i, (a, b) in enumerate(zip(cached, wanted)) if a != b)
        raise CacheMismatch(
            f"{path}: row ids of the {split} split are reordered (position {first}: cache {cached[first]!r}, "
            f"data {wanted[first]!r})"
        )


def _few(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
