"""Canonical forms and content hashes: what makes params compare exactly and cache keys stable."""

import numpy as np

from scalingdown.pipeline.canonical import canonical, canonical_json, short_hash


def test_canonical_form_ignores_key_order_and_number_spelling():
    a = {"b": 3.0, "a": {"y": np.int64(2), "x": [1.5, (1, 2)]}}
    b = {"a": {"x": [1.5, [1, 2]], "y": 2}, "b": 3}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":[1.5,[1,2]],"y":2},"b":3}'
    assert short_hash(a) == short_hash(b)
    assert short_hash({"lr": 1e-4}) != short_hash({"lr": 2e-4})
    assert type(canonical(np.float32(0.5))) is float
