"""Checked access to the fields of one record (a parsed line, a JSON object, a Hub row).

Every accessor raises `RecordError` saying what was expected; the reader adds the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scalingdown.data.data_errors import RecordError

ANSWER_LETTERS = "ABCDE"


def field(record: dict[str, Any], *path: str) -> Any:
    """The value at `path` (nested keys) of `record`; a missing field is an error naming its dotted path."""
    value: Any = record
    for depth, name in enumerate(path):
        dotted = ".".join(path[: depth + 1])
        if not isinstance(value, dict) or name not in value:
            raise RecordError(f"missing field {dotted!r}")
        value = value[name]
        if value is None:
            raise RecordError(f"empty {dotted!r}; expected a value")
    return value


def text(record: dict[str, Any], *path: str) -> str:
    """A non-empty string field, stripped of surrounding whitespace."""
    return nonempty(field(record, *path), ".".join(path))


def nonempty(value: Any, name: str) -> str:
    """`value` as a stripped, non-empty string; `name` says which field it is in errors."""
    if not isinstance(value, str):
        raise RecordError(f"field {name!r}: expected a string, found {type(value).__name__} {value!r}")
    stripped = value.strip()
    if not stripped:
        raise RecordError(f"empty {name!r}; expected text")
    return stripped


def string(record: dict[str, Any], *path: str) -> str:
    """A string field that may be empty (a rationale), stripped of surrounding whitespace."""
    value = field(record, *path)
    if not isinstance(value, str):
        raise RecordError(f"field {'.'.join(path)!r}: expected a string, found {type(value).__name__} {value!r}")
    return value.strip()


def text_list(record: dict[str, Any], *path: str) -> list[str]:
    """A list field of non-empty strings."""
    value = field(record, *path)
    name = ".".join(path)
    if not isinstance(value, list):
        raise RecordError(f"field {name!r}: expected a list of strings, found {type(value).__name__}")
    return [nonempty(item, f"{name}[{index}]") for index, item in enumerate(value)]


def whole(value: Any) -> Any:
    """Integral floats (CSV columns with gaps are read as floats) and digit strings as ints; else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def choice_index(value: Any, count: int, base: int, name: str) -> int:
    """A 0-based option index from a label written `base`-based (an int or a digit string)."""
    raw = whole(value)
    if isinstance(raw, bool) or not isinstance(raw, int) or not base <= raw < count + base:
        allowed = ", ".join(str(i + base) for i in range(count))
        raise RecordError(f"unknown label {value!r} in {name!r}; expected one of {allowed}")
    return raw - base


def answer_letter(value: Any, count: int, name: str) -> str:
    """An answer letter among the first `count` of A–E."""
    letters = ANSWER_LETTERS[:count]
    if not isinstance(value, str) or value.strip() not in tuple(letters):
        raise RecordError(f"option letter {value!r} in {name!r} is outside {letters[0]}–{letters[-1]}")
    return value.strip()


def option_count(options: list[str], name: str, most: int | None = None) -> list[str]:
    """`options` when there are at least two (and at most `most`) of them."""
    if len(options) < 2 or (most is not None and len(options) > most):
        expected = f"2 to {most}" if most else "at least 2"
        raise RecordError(f"field {name!r}: expected {expected} options, found {len(options)}")
    return options


def with_answer(answer: str, aliases: Iterable[str]) -> list[str]:
    """The answer followed by its other aliases, each once, in their first order."""
    return list(dict.fromkeys([answer, *aliases]))
