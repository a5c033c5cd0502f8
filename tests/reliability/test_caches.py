"""Content-verified caches and splits (issue 15, item 1): a teacher cache or a prepared split changed after the
stage that wrote it is refused with the part that differs; a malformed cache gets one line, never a traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scalingdown.cli import main
from scalingdown.data.store import PreparedDataError, read_manifest, read_split, split_path
from scalingdown.families.classification.teacher_cache import load_teacher_outputs
from scalingdown.kd.logit_store import (
    FINGERPRINT_KEY,
    CacheMismatch,
    check_topk_layout,
    read_logits,
    write_logits,
)
from scalingdown.pipeline.specs.definitions import DistillTeacher, EvaluateSpec, LogitsSpec
from scalingdown.stages.distill import distill
from scalingdown.stages.evaluate import evaluate
from scalingdown.stages.teacher_logits import teacher_logits
from tests.training.conftest import LABELS

Edit = Callable[[pa.Table], pa.Table]


def _rewrite(source: Path, target: Path, edit: Edit | None = None, fingerprint: Callable | None = None) -> Path:
    """Copy a cache as a user editing it with pyarrow would: the table changed, the metadata carried over."""
    table = pq.read_table(source)
    metadata = dict(table.schema.metadata)
    if fingerprint is not None:
        metadata[FINGERPRINT_KEY] = fingerprint(json.loads(metadata[FINGERPRINT_KEY]))
    table = (edit(table) if edit else table).replace_schema_metadata(metadata)
    pq.write_table(table, target)
    return target


def _set_column(table: pa.Table, name: str, values: list) -> pa.Table:
    kind = table.schema.field(name).type
    index = table.column_names.index(name)
    width = kind.list_size if pa.types.is_fixed_size_list(kind) else None
    flat = pa.array(
        np.concatenate([np.asarray(v).reshape(-1) for v in values]).astype(kind.value_type.to_pandas_dtype())
    )
    if width is not None:
        column = pa.FixedSizeListArray.from_arrays(flat, width)
    else:
        offsets = np.concatenate([[0], np.cumsum([np.asarray(v).size for v in values])]).astype(np.int64)
        column = pa.LargeListArray.from_arrays(pa.array(offsets), flat)
    return table.set_column(index, name, column)


def _rows(table: pa.Table, name: str) -> list[np.ndarray]:
    return [np.asarray(value) for value in table[name].to_pylist()]


@pytest.fixture(scope="module")
def hidden_cache(distill_inputs, tmp_path_factory) -> Path:
    """A classification cache with the pooled states of hidden layers 1 and 2 (the tiny student as teacher)."""
    path = tmp_path_factory.mktemp("hidden-cache") / "logits.parquet"
    spec = {
        "type": "classification",
        "teacher": "t",
        "teacher_key": distill_inputs.teacher_key,
        "model": str(distill_inputs.init),
        "max_length": 32,
        "hidden_layers": [1, 2],
        "label_map": {},
        "labels": LABELS,
    }
    teacher_logits(LogitsSpec.from_dict(spec), str(distill_inputs.data), str(path))
    return path


def _load(distill_inputs, cache: Path, layers: list[int] | None = None) -> None:
    teacher = DistillTeacher(name="t", key=distill_inputs.teacher_key, model=str(distill_inputs.init), max_length=32)
    load_teacher_outputs(
        [teacher], [str(cache)], str(distill_inputs.data), LABELS, ("train",), {"t": layers} if layers else None
    )


def _edit_first_logit(table: pa.Table) -> pa.Table:
    rows = _rows(table, "logits")
    rows[0] = rows[0] + np.float32(0.5)
    return _set_column(table, "logits", rows)


def _permute_label_columns(table: pa.Table) -> pa.Table:
    return _set_column(table, "logits", [row[[1, 0, 2]] for row in _rows(table, "logits")])


def _edit_hidden(table: pa.Table) -> pa.Table:
    rows = _rows(table, "hidden_2")
    rows[3] = np.zeros_like(rows[3])
    return _set_column(table, "hidden_2", rows)


def _swap_hidden_columns(table: pa.Table) -> pa.Table:
    names = ["hidden_2" if n == "hidden_1" else "hidden_1" if n == "hidden_2" else n for n in table.column_names]
    return table.rename_columns(names)


def _rename_a_row(table: pa.Table) -> pa.Table:
    ids = table["row_id"].to_pylist()
    ids[0] = "someone-else:1"
    return table.set_column(table.column_names.index("row_id"), "row_id", pa.array(ids, pa.string()))


def _reverse_rows(table: pa.Table) -> pa.Table:
    return table.take(pa.array(range(table.num_rows - 1, -1, -1)))


@pytest.mark.parametrize(
    ("edit", "fingerprint", "message"),
    [
        (_edit_first_logit, None, "the values of column `logits` differ from those hashed in its fingerprint"),
        (_permute_label_columns, None, "the values of column `logits` differ"),
        (_edit_hidden, None, "the values of column `hidden_2` differ"),
        (_swap_hidden_columns, None, "the values of column `hidden_1` differ"),
        (
            None,
            lambda f: json.dumps({**f, "label_names": f["label_names"][::-1]}),
            r"fingerprint field `label_names` \['positive', 'neutral', 'negative'\] is not the label order",
        ),
        (_rename_a_row, None, "the row ids \\(or their splits\\) differ from those hashed in its fingerprint"),
        (_reverse_rows, None, "the row ids \\(or their splits\\) differ"),
        (lambda t: t.drop_columns(["hidden_1"]), None, "holds the columns .* its fingerprint"),
    ],
    ids=[
        "logits-edited",
        "logit-columns-permuted",
        "hidden-states-edited",
        "hidden-columns-swapped",
        "label-names-reordered",
        "row-id-renamed",
        "rows-reordered",
        "column-dropped",
    ],
)
def test_a_classification_cache_changed_after_it_was_written_is_refused_naming_the_part(
    distill_inputs, hidden_cache, tmp_path, edit, fingerprint, message
):
    _load(distill_inputs, hidden_cache, [1, 2])  # the cache as written passes
    changed = _rewrite(hidden_cache, tmp_path / "changed.parquet", edit, fingerprint)
    with pytest.raises(CacheMismatch, match=message):
        _load(distill_inputs, changed, [1, 2])


def _topk_cache(path: Path) -> Path:
    rows = pd.DataFrame(
        {
            "split": "train",
            "row_id": ["q0", "q1"],
            "target_ids": [np.array([5, 1], np.int32), np.array([7, 8, 1], np.int32)],
            "topk_ids": [np.arange(4, dtype=np.int32), np.arange(6, dtype=np.int32)],
            "topk_logprobs": [-np.arange(1, 5, dtype=np.float16), -np.arange(1, 7, dtype=np.float16) / 2],
            "tail_mass": [np.full(2, 0.1, np.float32), np.full(3, 0.2, np.float32)],
        }
    )
    vocabulary = {"config_vocab_size": 10, "vocab_size": 10, "vocab_sha256": "0" * 64}
    fingerprint = {"teacher_key": "t", "top_k": 2, "targets": "gold", "model": "m", "vocabulary": vocabulary}
    write_logits(path, rows, {**fingerprint, "splits": {}})
    return path


@pytest.mark.parametrize("column", ["topk_ids", "topk_logprobs", "tail_mass", "target_ids"])
def test_a_top_k_cache_with_edited_ids_log_probabilities_or_tail_mass_is_refused(tmp_path, column):
    cache = _topk_cache(tmp_path / "topk.parquet")
    frame, fingerprint = read_logits(cache)
    check_topk_layout(cache, fingerprint, frame)

    def edit(table: pa.Table) -> pa.Table:
        rows = _rows(table, column)
        rows[1] = rows[1][::-1].copy() if column != "tail_mass" else rows[1] * 0.5
        return _set_column(table, column, rows)

    with pytest.raises(CacheMismatch, match=f"the values of column `{column}` differ"):
        read_logits(_rewrite(cache, tmp_path / "edited.parquet", edit))


def test_a_top_k_cache_of_the_wrong_width_is_refused(tmp_path):
    rows = pd.DataFrame(
        {
            "split": "train",
            "row_id": ["q0"],
            "target_ids": [np.array([5, 1], np.int32)],
            "topk_ids": [np.arange(6, dtype=np.int32)],
            "topk_logprobs": [np.zeros(6, np.float16)],
            "tail_mass": [np.zeros(2, np.float32)],
        }
    )
    vocabulary = {"config_vocab_size": 10, "vocab_size": 10, "vocab_sha256": "0" * 64}
    fingerprint = {"teacher_key": "t", "top_k": 2, "targets": "gold", "model": "m", "vocabulary": vocabulary}
    write_logits(tmp_path / "c.parquet", rows, {**fingerprint, "splits": {}})
    frame, read_back = read_logits(tmp_path / "c.parquet")
    with pytest.raises(CacheMismatch, match=r"column `topk_ids` holds 6 values in row 'q0', expected 4 \(top_k=2"):
        check_topk_layout(tmp_path / "c.parquet", read_back, frame)


def _written_again(source: Path, target: Path, change: Callable[[pd.DataFrame, dict], dict]) -> Path:
    """A cache written through `write_logits` (so its hashes match) whose layout or fingerprint is wrong."""
    frame, fingerprint = read_logits(source)
    write_logits(target, frame, change(frame, fingerprint))
    return target


def _metadata_only(source: Path, target: Path, raw: bytes) -> Path:
    table = pq.read_table(source)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, FINGERPRINT_KEY: raw}), target)
    return target


def _wider_logits(frame: pd.DataFrame, fingerprint: dict) -> dict:
    frame["logits"] = [np.append(row, np.float32(0)) for row in frame["logits"]]
    return fingerprint


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda s, t: _written_again(s, t, _wider_logits),
            "column `logits` holds 4 values in row .*, expected 3 \\(one per label of",
        ),
        (
            lambda s, t: _written_again(s, t, lambda f, p: {**p, "hidden_size": 64}),
            "column `hidden_1` holds 32 values .* expected 64 \\(the teacher's hidden size\\)",
        ),
        (
            lambda s, t: _written_again(s, t, lambda f, p: {k: v for k, v in p.items() if k != "label_names"}),
            "fingerprint field `label_names` is missing",
        ),
        (
            lambda s, t: _written_again(s, t, lambda f, p: {k: v for k, v in p.items() if k != "splits"}),
            "fingerprint field `splits` is missing",
        ),
        (lambda s, t: _metadata_only(s, t, b'{"teacher_key": "t", '), "its fingerprint is not JSON"),
        (lambda s, t: _metadata_only(s, t, b"[1, 2]"), "its fingerprint is not a JSON object"),
        (
            lambda s, t: _metadata_only(s, t, json.dumps({**read_logits(s)[1], "format": 1}).encode()),
            "fingerprint field `format` is 1, expected 2 \\(written by another version",
        ),
        (
            lambda s, t: _metadata_only(
                s, t, json.dumps({k: v for k, v in read_logits(s)[1].items() if k != "content"}).encode()
            ),
            "fingerprint field `content` is missing",
        ),
        (
            lambda s, t: _rewrite(s, t, lambda table: table.drop_columns(["row_id"])),
            "no column 'row_id'",
        ),
    ],
    ids=[
        "logits-wider-than-the-labels",
        "hidden-width-not-the-hidden-size",
        "fingerprint-without-label-names",
        "fingerprint-without-splits",
        "fingerprint-not-json",
        "fingerprint-not-an-object",
        "older-store-format",
        "fingerprint-without-content-hashes",
        "no-row-id-column",
    ],
)
def test_a_malformed_cache_gets_the_one_line_cache_error(distill_inputs, hidden_cache, tmp_path, make, message):
    cache = make(hidden_cache, tmp_path / "malformed.parquet")
    with pytest.raises(CacheMismatch, match=message) as error:
        _load(distill_inputs, cache, [1, 2])
    assert "\n" not in str(error.value) and str(cache) in str(error.value)


# -- prepared splits ------------------------------------------------------------------------------
def _copy_data(distill_inputs, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(distill_inputs.data, data)
    return data


def _flip_labels(data: Path, split: str) -> None:
    frame = pd.read_parquet(split_path(data, split))
    flipped = {"negative": "positive", "positive": "negative", "neutral": "neutral"}
    frame["label"] = frame["label"].map(flipped)
    frame.to_parquet(split_path(data, split), index=False)


def test_a_train_split_with_flipped_labels_stops_distill_before_training(distill_inputs, tmp_path, capsys):
    data = _copy_data(distill_inputs, tmp_path)
    assert len(read_split(data, "train")) == read_manifest(data)["splits"]["train"]["rows"]  # the copy passes
    _flip_labels(data, "train")
    out = tmp_path / "student"
    arguments = distill_inputs.arguments(distill_inputs.spec(), out)
    arguments[arguments.index("--data") + 1] = str(data)
    assert main(arguments[1:]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {split_path(data, 'train')}: content hash ")
    assert "the train split changed after prepare wrote it; delete" in error
    assert not out.exists()


def test_an_edited_test_split_stops_evaluate(distill_inputs, tmp_path):
    data = _copy_data(distill_inputs, tmp_path)
    frame = pd.read_parquet(split_path(data, "test"))
    frame.loc[0, "text"] = frame.loc[0, "text"] + " (edited)"
    frame.to_parquet(split_path(data, "test"), index=False)
    spec = EvaluateSpec.from_dict(
        {
            "type": "classification",
            "task": "t",
            "kind": "student",
            "name": "s",
            "model": str(distill_inputs.init),
            "role": "student",
            "max_length": 32,
            "labels": LABELS,
            "batch_size": 8,
        }
    )
    with pytest.raises(PreparedDataError, match="the test split changed after prepare wrote it"):
        evaluate(spec, str(data), str(distill_inputs.init), str(tmp_path / "eval.json"))
    assert not (tmp_path / "eval.json").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: (data / "manifest.json").unlink(), "holds no manifest.json; it is not a directory written by"),
        (lambda data: (data / "manifest.json").write_text("{"), "not a readable manifest"),
        (lambda data: split_path(data, "train").write_bytes(b"PAR1 cut short"), "cannot read the train split"),
        (
            lambda data: (data / "manifest.json").write_text(json.dumps({"splits": {}})),
            "records no content hash of the train split",
        ),
    ],
    ids=["manifest-missing", "manifest-not-json", "split-truncated", "manifest-without-the-split"],
)
def test_a_damaged_prepared_directory_is_refused_with_one_line(distill_inputs, tmp_path, damage, message):
    data = _copy_data(distill_inputs, tmp_path)
    damage(data)
    with pytest.raises(PreparedDataError, match=message) as error:
        distill(
            distill_inputs.spec(),
            str(data),
            str(distill_inputs.init),
            [str(distill_inputs.logits)],
            str(tmp_path / "m"),
            str(tmp_path / "h.json"),
            str(tmp_path / "c"),
        )
    assert "\n" not in str(error.value)
