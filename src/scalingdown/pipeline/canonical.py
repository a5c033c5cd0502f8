"""Canonical forms and content hashes: what makes params compare exactly and cache keys stable.

Snakemake compares params by `repr`, so dict order, `3` vs `3.0` and numpy scalars would otherwise trigger
(or hide) reruns; cache keys are hashes of the same canonical JSON.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any


def canonical(value: Any) -> Any:
    """Return `value` as plain, key-sorted builtins.

    Integral floats become ints; tuples become lists; numpy and torch scalars become Python numbers.
    """
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        value = value.item()  # numpy / torch scalar
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"cannot canonicalise {type(value).__name__}: {value!r}")


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON of `canonical(value)`: the form passed to stages as params."""
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(value: Any, length: int = 10) -> str:
    """A short, stable content hash of `value` (sha256 over its canonical JSON)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base`; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
