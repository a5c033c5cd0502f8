"""The teacher-logit store: one Parquet file per teacher with a fingerprint in its metadata.

Rows: `split`, `row_id`, then one list column per stored quantity. Classification caches hold
`logits` (float32, in the order of the fingerprint's `label_names`) and, for each hidden layer in
the fingerprint's `hidden_layers`, `hidden_<layer>`: the teacher's attention-mask mean of that
layer's token states. Text-to-text caches hold per-token top-k lists (see `families.text2text.topk`).
Lists of equal length are stored as fixed-size lists, ragged ones (one entry per target token) as
variable lists; every list keeps its dtype (int32, float16, float32; float64 is stored as float32).
The fingerprint records what produced the cache (teacher, tokenizer, max length, data version per
split) and, under `content`, hashes of what the cache holds: the row ids (with their splits), every
value column and the label order. Reading a cache recomputes them, so a cache edited after
`teacher_logits` wrote it (values changed, columns swapped, label names reordered) is refused with
the part that differs; consumers then refuse a cache whose fingerprint, layout or row ids do not
match the data they train on, so teacher outputs are never silently misaligned.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scalingdown.data.content_hash import column_sha256, table_sha256
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import atomic_path

FINGERPRINT_KEY = b"scalingdown.fingerprint"
# Who built the cache (see scalingdown.provenance); kept apart from the fingerprint on purpose.
PROVENANCE_KEY = b"scalingdown.provenance"
STORE_FORMAT = 2
KEY_COLUMNS = ("split", "row_id")
CONTENT = "content"
_RERUN = "rerun teacher_logits"


class CacheMismatch(UserError, ValueError):
    """A teacher cache does not match what the consumer expects; the message says what differs."""


def write_logits(
    path: str | Path,
    rows: pd.DataFrame,
    fingerprint: dict[str, Any],
    provenance: dict[str, Any] | None = None,
    compression: str = "snappy",
) -> None:
    """Write `rows` (split, row_id, logits) with `fingerprint` (and `provenance`) to `path`, atomically, with
    Parquet's `compression` (its default, snappy, unless a cache's layout compresses better otherwise)."""
    columns = {
        "split": pa.array(rows["split"].astype(str).tolist(), pa.string()),
        "row_id": pa.array(rows["row_id"].astype(str).tolist(), pa.string()),
    }
    for name in rows.columns:
        if name not in columns:
            columns[name] = _list_column(rows[name].tolist())
    table = pa.table(columns)
    described = {**fingerprint, "format": STORE_FORMAT}
    described[CONTENT] = content_hashes(table, described.get("label_names"))
    metadata = {FINGERPRINT_KEY: json.dumps(described, sort_keys=True).encode()}
    if provenance is not None:
        metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    table = table.replace_schema_metadata(metadata)
    with atomic_path(path, "teacher_logits", is_logit_cache) as temporary:
        pq.write_table(table, temporary, compression=compression)


def is_logit_cache(path: Path) -> bool:
    """Whether `path` is a logit cache (a Parquet file with the fingerprint): what `write_logits` may replace."""
    try:
        return FINGERPRINT_KEY in (pq.read_schema(path).metadata or {})
    except (pa.ArrowInvalid, OSError):
        return False


def content_hashes(table: pa.Table, label_names: Any = None) -> dict[str, Any]:
    """Hashes of a cache table's row ids (with their splits), of each value column and of the label order."""
    hashes: dict[str, Any] = {
        "row_ids": table_sha256(table.select(list(KEY_COLUMNS))),
        "columns": {name: column_sha256(table[name]) for name in table.column_names if name not in KEY_COLUMNS},
    }
    if label_names is not None:
        hashes["label_names"] = hashlib.sha256(json.dumps(label_names).encode("utf-8")).hexdigest()
    return hashes


def verify_content(path: str | Path, fingerprint: dict[str, Any], table: pa.Table) -> None:
    """Refuse a cache whose row ids, value columns or label order no longer hash to its fingerprint's `content`."""
    missing = [name for name in KEY_COLUMNS if name not in table.column_names]
    if missing:
        raise CacheMismatch(f"{path}: malformed logit cache: no column {missing[0]!r}; {_RERUN}")
    recorded = fingerprint[CONTENT]
    actual = content_hashes(table, fingerprint.get("label_names"))
    if set(actual["columns"]) != set(recorded.get("columns", {})):
        raise CacheMismatch(
            f"{path}: holds the columns {sorted(actual['columns'])}, its fingerprint {sorted(recorded['columns'])}: "
            f"the cache was changed after teacher_logits wrote it; {_RERUN}"
        )
    if actual["row_ids"] != recorded.get("row_ids"):
        raise CacheMismatch(
            f"{path}: the row ids (or their splits) differ from those hashed in its fingerprint: "
            f"rows were edited, dropped or reordered after teacher_logits wrote it; {_RERUN}"
        )
    for name, digest in sorted(actual["columns"].items()):
        if digest != recorded["columns"][name]:
            raise CacheMismatch(
                f"{path}: the values of column `{name}` differ from those hashed in its fingerprint: "
                f"edited or permuted after teacher_logits wrote it; {_RERUN}"
            )
    if actual.get("label_names") != recorded.get("label_names"):
        raise CacheMismatch(
            f"{path}: fingerprint field `label_names` {fingerprint.get('label_names')} is not the label order the "
            f"logits were written in (reordered or renamed after teacher_logits wrote it); {_RERUN}"
        )


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
    try:
        fingerprint = json.loads(metadata[FINGERPRINT_KEY])
    except ValueError as error:
        raise CacheMismatch(f"{path}: malformed logit cache: its fingerprint is not JSON ({error}); {_RERUN}") from None
    if not isinstance(fingerprint, dict):
        raise CacheMismatch(f"{path}: malformed logit cache: its fingerprint is not a JSON object; {_RERUN}")
    if fingerprint.get("format") != STORE_FORMAT:
        raise CacheMismatch(
            f"{path}: fingerprint field `format` is {fingerprint.get('format')!r}, expected {STORE_FORMAT} "
            f"(written by another version of ScalingDown); {_RERUN}"
        )
    content = fingerprint.get(CONTENT)
    if not isinstance(content, dict) or not isinstance(content.get("columns"), dict):
        raise CacheMismatch(f"{path}: malformed logit cache: fingerprint field `{CONTENT}` is missing; {_RERUN}")
    return fingerprint


def read_provenance_metadata(path: str | Path) -> dict[str, Any] | None:
    """The provenance record stored with a cache, or None (a cache written without one)."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[PROVENANCE_KEY]) if PROVENANCE_KEY in metadata else None


def read_logits(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows (list columns as numpy arrays) and the fingerprint of a cache, after checking its content
    against the fingerprint's hashes."""
    fingerprint = read_fingerprint(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise CacheMismatch(f"{path}: the Parquet data cannot be read ({error})") from error
    verify_content(path, fingerprint, table)
    frame = pd.DataFrame({"split": table["split"].to_pylist(), "row_id": table["row_id"].to_pylist()})
    for name in table.column_names:
        if name not in frame:
            frame[name] = _numpy_rows(table[name], len(frame))
    return frame, fingerprint


def hidden_column(layer: int) -> str:
    """The column holding the pooled states of hidden layer `layer`."""
    return f"hidden_{layer}"


def check_cached_layers(path: str | Path, fingerprint: dict[str, Any], layers: list[int]) -> None:
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
    splits = fingerprint.get("splits")
    if not isinstance(splits, dict):
        raise CacheMismatch(f"{path}: malformed logit cache: fingerprint field `splits` is missing; {_RERUN}")
    for split, rows in data.items():
        cached = splits.get(split)
        if cached is None:
            raise CacheMismatch(f"{path}: holds no logits for the {split} split")
        if not isinstance(cached, dict) or not isinstance(cached.get("sha256"), str):
            raise CacheMismatch(f"{path}: malformed logit cache: fingerprint field `splits.{split}`; {_RERUN}")
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


def _require(path: str | Path, fingerprint: dict[str, Any], fields: dict[str, type | tuple[type, ...]]) -> None:
    for name, kind in fields.items():
        if not isinstance(fingerprint.get(name), kind) or isinstance(fingerprint.get(name), bool):
            raise CacheMismatch(
                f"{path}: malformed logit cache: fingerprint field `{name}` is missing or not of type "
                f"{getattr(kind, '__name__', kind)}; {_RERUN}"
            )


def _check_widths(path: str | Path, frame: pd.DataFrame, column: str, expected: np.ndarray | int, what: str) -> None:
    """Every row of `column` holds `expected` values (one number, or one per row)."""
    if column not in frame:
        raise CacheMismatch(f"{path}: malformed logit cache: no column {column!r}; {_RERUN}")
    widths = np.fromiter((value.size for value in frame[column]), dtype=np.int64, count=len(frame))
    wrong = np.flatnonzero(widths != expected)
    if wrong.size:
        row = int(wrong[0])
        wanted = expected if isinstance(expected, int) else int(expected[row])
        raise CacheMismatch(
            f"{path}: malformed logit cache: column `{column}` holds {widths[row]} values in row "
            f"{frame['row_id'].iloc[row]!r}, expected {wanted} ({what}); {_RERUN}"
        )


def check_classification_layout(path: str | Path, fingerprint: dict[str, Any], frame: pd.DataFrame) -> None:
    """A classification cache: label names, one logit per label and `hidden_size` values per pooled layer."""
    _require(path, fingerprint, {"teacher_key": str, "label_names": list, "hidden_layers": list, "hidden_size": int})
    labels = fingerprint["label_names"]
    _check_widths(path, frame, "logits", len(labels), f"one per label of {labels}")
    for layer in fingerprint["hidden_layers"]:
        _check_widths(path, frame, hidden_column(layer), fingerprint["hidden_size"], "the teacher's hidden size")


def check_topk_layout(path: str | Path, fingerprint: dict[str, Any], frame: pd.DataFrame) -> None:
    """A text-to-text top-k cache: per row, `top_k` ids and log-probabilities per target token and one tail mass."""
    _require(path, fingerprint, {"teacher_key": str, "top_k": int, "targets": str, "model": str, "vocabulary": dict})
    _require(path, fingerprint["vocabulary"], {"config_vocab_size": int, "vocab_size": int, "vocab_sha256": str})
    if "target_ids" not in frame:
        raise CacheMismatch(f"{path}: malformed logit cache: no column 'target_ids'; {_RERUN}")
    tokens = np.fromiter((value.size for value in frame["target_ids"]), dtype=np.int64, count=len(frame))
    k = fingerprint["top_k"]
    _check_widths(path, frame, "topk_ids", tokens * k, f"top_k={k} per target token")
    _check_widths(path, frame, "topk_logprobs", tokens * k, f"top_k={k} per target token")
    _check_widths(path, frame, "tail_mass", tokens, "one per target token")
