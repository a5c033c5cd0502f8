"""The teacher-logit store: exact round trip and refusal of caches that do not match the data."""

import numpy as np
import pandas as pd
import pytest

from scalingdown.data.store import frame_fingerprint
from scalingdown.kd.logit_store import CacheMismatch, check_cache, read_logits, split_matrix, write_logits


@pytest.fixture
def data() -> pd.DataFrame:
    return pd.DataFrame({"row_id": [f"r{i}" for i in range(5)], "text": list("abcde"), "label": ["x"] * 5})


@pytest.fixture
def cache(tmp_path, data):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 3)).astype(np.float32) * 1e3
    rows = pd.DataFrame({"split": "train", "row_id": data["row_id"], "logits": list(logits)})
    fingerprint = {
        "teacher_key": "t-1",
        "label_names": ["a", "b", "c"],
        "splits": {"train": {"rows": 5, "sha256": frame_fingerprint(data)}},
    }
    path = tmp_path / "logits.parquet"
    write_logits(path, rows, fingerprint)
    return path, logits, fingerprint


def test_round_trip_is_exact(cache):
    path, logits, _fingerprint = cache
    frame, read_back = read_logits(path)
    assert np.array_equal(split_matrix(frame, "train"), logits)
    assert split_matrix(frame, "train").dtype == np.float32
    assert read_back["teacher_key"] == "t-1" and read_back["label_names"] == ["a", "b", "c"]
    assert frame["row_id"].tolist() == [f"r{i}" for i in range(5)]
    assert not list(path.parent.glob(".*tmp*")), "no temporary files left behind"


def _check(path, data, expected=None, hashes=None):
    frame, fingerprint = read_logits(path)
    check_cache(
        path,
        fingerprint,
        frame,
        expected or {"teacher_key": "t-1"},
        {"train": data},
        hashes or {"train": frame_fingerprint(data)},
    )


def test_matching_cache_is_accepted(cache, data):
    _check(cache[0], data)


def test_refuses_another_teacher(cache, data):
    with pytest.raises(CacheMismatch, match="`teacher_key` is 't-1', expected 't-2'"):
        _check(cache[0], data, expected={"teacher_key": "t-2"})


def test_refuses_changed_data(cache, data):
    changed = data.assign(text=list("abcdX"))
    with pytest.raises(CacheMismatch, match="fingerprint of the train data differs"):
        _check(cache[0], changed)


def _rewrite(path, row_ids, fingerprint):
    rows = pd.DataFrame({"split": "train", "row_id": row_ids, "logits": [np.zeros(3, np.float32)] * len(row_ids)})
    write_logits(path, rows, fingerprint)


@pytest.mark.parametrize(
    ("row_ids", "message"),
    [
        (["r0", "r1", "r2", "r3"], "row ids of the train data are missing: 'r4'"),
        (["r0", "r1", "r2", "r3", "r4", "r9"], "not in the data: 'r9'"),
        (["r0", "r1", "r1", "r3", "r4"], "duplicate row ids in the train split: 'r1'"),
        (["r1", "r0", "r2", "r3", "r4"], "reordered \\(position 0: cache 'r1', data 'r0'\\)"),
    ],
    ids=["missing", "extra", "duplicate", "reordered"],
)
def test_refuses_row_ids_that_do_not_match(cache, data, row_ids, message):
    path, _, fingerprint = cache
    _rewrite(path, row_ids, fingerprint)
    with pytest.raises(CacheMismatch, match=message):
        _check(path, data)


def test_refuses_a_file_without_fingerprint_and_a_truncated_file(tmp_path, cache, data):
    plain = tmp_path / "plain.parquet"
    data.to_parquet(plain)
    with pytest.raises(CacheMismatch, match="has no ScalingDown fingerprint"):
        read_logits(plain)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(cache[0].read_bytes()[:-100])
    with pytest.raises(CacheMismatch, match="not a readable Parquet logit cache"):
        read_logits(truncated)
