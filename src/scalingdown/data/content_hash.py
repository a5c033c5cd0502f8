"""Content hashes of Arrow tables and columns, computed over their buffers (no Python object per row).

A hash depends on the values, their order, the column names and the kind of each value (text, integer,
float of a given width, boolean, list), not on how Arrow happens to store them: chunking, slicing offsets,
`string` vs `large_string`, the field name of a list's items or the width of an integer all hash alike, so
a table hashes the same before it is written to Parquet and after it is read back.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa


def table_sha256(table: pa.Table) -> str:
    """sha256 over every column of `table`, in column-name order (name, then values)."""
    digest = hashlib.sha256()
    for name in sorted(table.column_names):
        digest.update(b"column\0" + name.encode("utf-8") + b"\0")
        _update(digest, _single_array(table[name]))
    return digest.hexdigest()


def column_sha256(column: pa.ChunkedArray | pa.Array) -> str:
    """sha256 over the values of one column."""
    digest = hashlib.sha256()
    _update(digest, _single_array(column))
    return digest.hexdigest()


def _single_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _update(digest: Any, array: pa.Array) -> None:
    """Feed one array's kind, length, nulls and values into `digest`."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        _update(digest, array.dictionary_decode())
        return
    digest.update(f"{_kind(kind)}:{len(array)}:{array.null_count}\0".encode())
    if array.null_count:
        digest.update(np.ascontiguousarray(array.is_null().to_numpy(zero_copy_only=False)).tobytes())
    if pa.types.is_null(kind):
        return
    if _is_text(kind):
        offsets, data = _text_buffers(array)
        digest.update(offsets.tobytes())
        digest.update(data)
    elif pa.types.is_fixed_size_list(kind):
        _update(digest, array.flatten())
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        offsets = array.offsets.to_numpy().astype(np.int64)
        digest.update((offsets - offsets[0]).tobytes())
        _update(digest, array.flatten())
    elif pa.types.is_struct(kind):
        for index in range(kind.num_fields):
            digest.update(kind.field(index).name.encode("utf-8") + b"\0")
            _update(digest, array.field(index))
    elif pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        values = array.fill_null(0) if array.null_count else array
        digest.update(np.ascontiguousarray(values.to_numpy(zero_copy_only=False), dtype=np.int64).tobytes())
    elif pa.types.is_floating(kind):
        values = array.fill_null(0) if array.null_count else array
        digest.update(np.ascontiguousarray(values.to_numpy(zero_copy_only=False)).tobytes())
    else:  # rare types (dates, decimals): their text form
        _update(digest, array.cast(pa.large_string()))


def _kind(kind: pa.DataType) -> str:
    """What a value is, without how Arrow stores it (`string` and `large_string` are both text)."""
    if _is_text(kind):
        return "text" if pa.types.is_string(kind) or pa.types.is_large_string(kind) else "bytes"
    if pa.types.is_fixed_size_list(kind):
        return f"list[{kind.list_size}]"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "list"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return f"float{kind.bit_width}"
    return str(kind)


def _is_text(kind: pa.DataType) -> bool:
    return any(
        check(kind)
        for check in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
    )


def _text_buffers(array: pa.Array) -> tuple[np.ndarray, pa.Buffer | bytes]:
    """The offsets (from 0, as int64) and the bytes of a text or binary array, whatever its slice."""
    _, offsets_buffer, data_buffer = array.buffers()
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if large else np.int32)
    offsets = offsets[array.offset : array.offset + len(array) + 1].astype(np.int64)
    if data_buffer is None or len(offsets) < 2:
        return np.zeros(len(offsets), dtype=np.int64), b""
    start, end = int(offsets[0]), int(offsets[-1])
    return offsets - start, data_buffer.slice(start, end - start)
