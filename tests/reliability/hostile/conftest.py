"""Generated hostile inputs (hypothesis), for the suites of this folder, and the invariant every input surface must
keep: exit 0 with a correct result, or one line (a `UserError`, exit status 2) naming the key, file or row — never a
traceback, never a silent change, nothing deleted that ScalingDown did not write.

The number of examples comes from the hypothesis profile `tests/conftest.py` loads: `ci` (the default: few,
derandomized, so CI is fast and repeatable) or `nightly` (`SCALINGDOWN_HYPOTHESIS=nightly`: fifty times as many,
random). `examples(n)` is the decorator of a property: `n` examples in CI.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from scalingdown.pipeline.errors import UserError

PROFILE = os.environ.get("SCALINGDOWN_HYPOTHESIS", "ci")
SCALE = {"ci": 1, "nightly": 50}[PROFILE]


def examples(count: int) -> Callable[[Any], Any]:
    """`settings` for a property: `count` examples in CI, fifty times as many in the nightly profile."""
    return settings(
        max_examples=count * SCALE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# Text that means something to the tools a value passes through.
MEANINGFUL = [
    # YAML
    ": ",
    "- ",
    "#",
    "&anchor",
    "*alias",
    "!!python/object:os.system",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "|",
    ">",
    "%",
    "@",
    "`",
    "~",
    "null",
    "yes",
    "no",
    "on",
    ".nan",
    ".inf",
    "0x1F",
    "1e3",
    "2020-01-01",
    "---",
    "...",
    # Snakemake and str.format
    "{input}",
    "{wildcards.task}",
    "{{",
    "}}",
    "{0}",
    "{x!r}",
    "{:>10}",
    # matplotlib mathtext
    "$",
    "$x$",
    "$\\frac{1}{$",
    "\\",
    "_",
    "^",
    # Markdown and HTML
    "|",
    "*",
    "**",
    "[link](http://x)",
    "<!--",
    "-->",
    "<script>alert(1)</script>",
    "&amp;",
    "</table>",
    "<br>",
    # the shell
    "$(rm -rf ~)",
    "`id`",
    ";",
    "&&",
    "||",
    "&",
    "*",
    "?",
    "~",
    ">",
    "<",
    "\\n",
    "'\"'",
    "$HOME",
    # paths and encodings
    "/",
    "..",
    "../..",
    "./",
    "\\\\",
    "C:\\",
    "\x00",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "\u2028",
    "\u0085",
    "\ufeff",
    "\u200b",
    "\u202e",
    "é",
    "ß",
    "İ",
    "ǅ",
    "𝔘",
    "😀",
]
# Printable text of any script (no lone surrogates: they cannot be written to a UTF-8 file).
PRINTABLE = st.characters(codec="utf-8", exclude_categories=("Cs",))


def hostile_text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text of any printable Unicode, mixed with pieces that mean something to YAML, Snakemake, matplotlib,
    Markdown, HTML and the shell; `min_size` 0 or 1."""
    pieces = st.one_of(st.text(PRINTABLE, min_size=1, max_size=8), st.sampled_from(MEANINGFUL))
    return st.lists(pieces, min_size=min_size, max_size=6).map(lambda parts: "".join(parts)[:max_size])


def numbers_near(bounds: list[float]) -> st.SearchStrategy[Any]:
    """Numbers at, just inside and just past each bound, and far beyond them; non-finite numbers."""
    values: list[Any] = []
    for bound in bounds:  # first, so that the simplest examples (those a short CI run draws) are the bounds
        values += [bound, bound - 1, bound + 1, math.nextafter(bound, math.inf), math.nextafter(bound, -math.inf)]
        if float(bound).is_integer():
            values.append(int(bound))
    values += [0, -1, 1, 0.5, 2**31, 2**32, 2**63, -(2**63), 10**30, 1e308, 5e-324, -0.0]
    return st.one_of(
        st.sampled_from(values),
        st.just(math.nan),
        st.just(math.inf),
        st.just(-math.inf),
        st.integers(),
        st.floats(),
    )


def wrong_types() -> st.SearchStrategy[Any]:
    """Values of every YAML type."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.just([]),
        st.just({}),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
        st.dates(),
        st.text(max_size=10),
    )


def yaml_values(depth: int = 3) -> st.SearchStrategy[Any]:
    """Any value a YAML document can hold (`yaml.safe_load` builds dates, timestamps, bytes and sets too)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        hostile_text(max_size=12),
        st.dates(),
        st.datetimes(),
        st.binary(max_size=8),
    )
    keys = st.one_of(hostile_text(max_size=10), st.integers(), st.booleans(), st.none())
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=4),
        ),
        max_leaves=12,
    )


def one_line(error: BaseException) -> str:
    """The message of a `UserError`, checked to be one non-empty line (its gist is counted in the statistics of
    `pytest --hypothesis-show-statistics`)."""
    assert isinstance(error, UserError), f"{type(error).__name__} is not a UserError: {error}"
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message, message
    event(f"refused: {type(error).__name__}: {message.split(': ', 1)[-1][:50]}")
    return message


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under `root`, to show that nothing was changed or deleted."""
    return {
        str(path.relative_to(root)): (path.read_bytes() if path.is_file() and not path.is_symlink() else None)
        for path in sorted(root.rglob("*"))
    }


def round_trip_yaml(value: Any) -> Any:
    """`value` as it comes back from a YAML config file."""
    return yaml.safe_load(yaml.safe_dump(value, allow_unicode=True))
