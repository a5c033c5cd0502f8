"""Reading release files into numbered records: decoded text, numbered lines, JSON Lines and JSON documents.

The primitives every source (a local file or a Hub split) and every format module share.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalingdown.data.data_errors import DataError

Records = list[tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Batch:
    """The records of one source: `name` is shown in errors, row ids are `<id_prefix>:<number>`."""

    name: str
    id_prefix: str
    unit: str
    records: Records


# Byte-order marks and the encodings they announce (UTF-32 first: its little-endian mark starts with UTF-16's).
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def marked_encoding(path: str | Path) -> str | None:
    """The encoding a file's byte-order mark announces (the mark dropped when decoding), or None without one."""
    with Path(path).open("rb") as handle:
        start = handle.read(4)
    return next((name for mark, name in _BYTE_ORDER_MARKS if start.startswith(mark)), None)


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The decoded text of `path`; undecodable bytes are a `DataError` naming their line.

    A byte-order mark decides the encoding (and is dropped). Text that is valid UTF-8 with non-ASCII characters
    is refused when `encoding` (the loader's assumption or its `encoding` option) is not a Unicode encoding:
    read that way, every such character would turn into mojibake (`é` into `Ã©`).
    """
    data = Path(path).read_bytes()
    marked = next((name for mark, name in _BYTE_ORDER_MARKS if data.startswith(mark)), None)
    if marked is None and not codecs.lookup(encoding).name.startswith("utf"):
        _refuse_utf8(path, data, encoding)
    try:
        return data.decode(marked or encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(path, line, f"bytes that are not valid {marked or encoding}: {error.reason}") from None


def _refuse_utf8(path: str | Path, data: bytes, encoding: str) -> None:
    """`DataError` when `data` is UTF-8 with non-ASCII characters (which `encoding` would misread)."""
    first = next((index for index, byte in enumerate(data) if byte > 0x7F), None)
    if first is None:
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return
    start = max(data.rfind(space, 0, first) for space in (b" ", b"\t", b"\n")) + 1
    after = re.search(rb"\s", data[first:])
    word = data[start : first + after.start() if after else len(data)][:40]
    meant, misread = word.decode("utf-8", errors="replace"), word.decode(encoding, errors="replace")
    raise DataError(
        path,
        data[:first].count(b"\n") + 1,
        f"the file is UTF-8 ({meant!r}) but is read as {encoding}, which would make it {misread!r}; "
        "set the loader's option data.options.encoding: utf-8",
    )


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    r"""Non-blank lines with their 1-based numbers, split on '\n' only (U+0085 may occur inside a line)."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line.rstrip("\r")


def jsonl_records(path: Path) -> Records:
    """JSON Lines: one JSON object per non-blank line."""
    return [(number, json_object(path, number, line)) for number, line in numbered_lines(read_text(path))]


def json_object(path: str | Path, number: int, line: str) -> dict[str, Any]:
    """Line `number` of a JSON Lines file as the object it holds; a `DataError` naming the line otherwise."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(
            path, number, f"invalid JSON ({error.msg} at column {error.colno}); expected one JSON object per line"
        ) from None
    except RecursionError:
        raise DataError(path, number, "invalid JSON (nested too deeply); expected one JSON object per line") from None
    if not isinstance(record, dict):
        raise DataError(path, number, f"expected a JSON object, found {type(record).__name__}")
    return record


def json_document(path: Path) -> Any:
    """A file holding one JSON document."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(path, error.lineno, f"invalid JSON ({error.msg} at column {error.colno})") from None
