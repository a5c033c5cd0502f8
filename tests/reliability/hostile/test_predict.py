"""Generated hostile inputs and outputs of `scalingdown predict` (issue 27): files of any columns, keys, values and
texts in CSV, JSON Lines and Parquet, read in chunks of any size; output paths of any name, over whatever is there.
Either every input row comes back with its values exactly as read under one header, plus a label and probabilities
that sum to 1, or one line (exit status 2) — and nothing but predict's own output is created, changed or deleted."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from scalingdown.cli import main
from scalingdown.evaluation.predict_file import predict_file
from scalingdown.evaluation.row_files import csv_cell
from scalingdown.pipeline.errors import UserError
from tests.evaluation.conftest import LABELS, save_student
from tests.reliability.hostile.conftest import examples, hostile_text, one_line, snapshot

ADDED = ["label", *(f"prob_{label}" for label in LABELS)]


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_student(tmp_path_factory.mktemp("hostile-predict") / "student")


NAMES = hostile_text(min_size=1, max_size=10)
TEXTS = st.one_of(hostile_text(min_size=1, max_size=50), st.just(""), st.sampled_from(["NA", "null", "N/A", "NaN"]))
JSON_VALUES = st.one_of(
    TEXTS,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(NAMES, st.integers(), max_size=2),
)


def _text(path: Path) -> str:
    """The file's text, line ends as written."""
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def _csv_rows(path: Path) -> list[list[str]]:
    csv.field_size_limit(2**31 - 1)
    return [row for row in csv.reader(io.StringIO(_text(path), newline="")) if row]


def _check_probabilities(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert row["label"] in LABELS
        assert math.isclose(sum(float(row[f"prob_{label}"]) for label in LABELS), 1.0, abs_tol=1e-6)


def _expect(header: list[str], rows: list[dict[str, Any]], target: Path) -> None:
    """The output holds every input row's values as read (CSV: one header, `csv_cell` of each value)."""
    if target.suffix == ".jsonl":
        written = [json.loads(line) for line in _text(target).split("\n") if line]  # JSON Lines end lines in \n only
        assert [list(row) for row in written] == [[*row, *ADDED] for row in rows]
        assert [{key: row[key] for key in original} for row, original in zip(written, rows)] == rows
        _check_probabilities(written)
        return
    table = _csv_rows(target)
    assert table[0] == [*header, *ADDED]
    assert [line[: len(header)] for line in table[1:]] == [[csv_cell(row.get(name)) for name in header] for row in rows]
    _check_probabilities([dict(zip(table[0], line)) for line in table[1:]])


def _run(student: Path, source: Path, target: Path, header: list[str], rows: list[dict], **options: Any) -> None:
    """The invariant for one input file and output path."""
    before = snapshot(source.parent)
    try:
        written = predict_file(student, source, target, **options)
    except UserError as error:
        one_line(error)
        assert snapshot(source.parent) == before, "a refused run changes nothing"
        return
    event("predicted")
    assert written == len(rows)
    _expect(header, rows, target)
    after = snapshot(source.parent)
    assert {name: value for name, value in after.items() if not name.startswith(target.name)} == {
        name: value for name, value in before.items() if not name.startswith(target.name)
    }, "only the output changed"


@examples(12)
@given(
    header=st.lists(NAMES, min_size=1, max_size=4, unique=True),
    data=st.data(),
    target=st.sampled_from(["out.csv", "out.jsonl"]),
    chunk_size=st.integers(1, 5),
)
def test_csv_files_of_any_columns_and_texts_come_back_as_read_or_are_refused_in_one_line(
    student, tmp_path_factory, header, data, target, chunk_size
):
    directory = tmp_path_factory.mktemp("csv")
    text_column = data.draw(st.sampled_from(header), label="text column")
    drawn = data.draw(st.lists(st.fixed_dictionaries(dict.fromkeys(header, TEXTS)), max_size=6), label="rows")
    rows = [{name: row[name] for name in header} for row in drawn]  # a CSV row's values in the header's order
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([header, *([row[name] for name in header] for row in rows)])
    (directory / "in.csv").write_text(buffer.getvalue(), encoding="utf-8")
    _run(
        student, directory / "in.csv", directory / target, header, rows, text_column=text_column, chunk_size=chunk_size
    )


@examples(12)
@given(
    rows=st.lists(
        st.dictionaries(NAMES, JSON_VALUES, max_size=4).flatmap(
            lambda row: st.sampled_from([row, {"text": "profits rose", **row}, {**row, "text": "shares fell"}])
        ),
        max_size=6,
    ),
    target=st.sampled_from(["out.csv", "out.jsonl"]),
    chunk_size=st.integers(1, 5),
)
def test_json_lines_of_any_keys_and_values_come_back_as_read_or_are_refused_in_one_line(
    student, tmp_path_factory, rows, target, chunk_size
):
    directory = tmp_path_factory.mktemp("jsonl")
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (directory / "in.jsonl").write_text(lines, encoding="utf-8")
    header = list(dict.fromkeys(key for row in rows for key in row))
    _run(student, directory / "in.jsonl", directory / target, header, rows, chunk_size=chunk_size)


@examples(8)
@given(
    texts=st.lists(st.one_of(TEXTS, st.none()), max_size=6),
    other=st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.none()), max_size=6),
    target=st.sampled_from(["out.csv", "out.jsonl"]),
)
def test_parquet_files_come_back_as_read_or_are_refused_in_one_line(student, tmp_path_factory, texts, other, target):
    directory = tmp_path_factory.mktemp("parquet")
    other = (other + [None] * len(texts))[: len(texts)]
    table = pa.table({"text": pa.array(texts, pa.string()), "count": pa.array(other, pa.int64())})
    pq.write_table(table, directory / "in.parquet")
    rows = table.to_pylist()
    _run(student, directory / "in.parquet", directory / target, ["text", "count"], rows)


@examples(8)
@given(content=st.binary(max_size=200), suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]))
def test_any_bytes_as_the_input_are_predicted_or_refused_in_one_line(student, tmp_path_factory, content, suffix):
    directory = tmp_path_factory.mktemp("bytes")
    (directory / f"in{suffix}").write_bytes(content)
    before = snapshot(directory)
    try:
        predict_file(student, directory / f"in{suffix}", directory / "out.csv")
    except UserError as error:
        one_line(error)
        assert snapshot(directory) == before
    else:
        event("predicted")


# -- outputs: any name, over whatever is there --------------------------------------------------------------------
def _occupy(path: Path, what: str) -> None:
    if what == "a user's directory":
        (path / "inner").mkdir(parents=True)
        (path / "inner" / "notes.txt").write_text("mine")
    elif what == "a user's file":
        path.write_text("name,score\nann,3\n")
    elif what == "an earlier output":
        path.write_text("text,label,prob_neutral\r\nold,neutral,1.0\r\n")
    elif what == "a link to the input":
        path.symlink_to(path.parent / "in.csv")
    elif what == "a file where a folder should be":
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "blocker").write_text("mine")


@examples(15)
@given(
    name=hostile_text(min_size=1, max_size=20).filter(lambda name: "/" not in name and "\x00" not in name),
    suffix=st.sampled_from([".csv", ".jsonl", ".txt", ""]),
    where=st.sampled_from(["here", "in a new folder", "under a file"]),
    occupant=st.sampled_from(
        ["nothing", "a user's directory", "a user's file", "an earlier output", "a link to the input"]
    ),
    force=st.booleans(),
)
def test_any_output_path_gets_the_output_or_one_line_and_nothing_else_changes(
    student, tmp_path_factory, capsys, name, suffix, where, occupant, force
):
    directory = tmp_path_factory.mktemp("out")
    (directory / "in.csv").write_text("text,id\nprofits rose,1\nshares fell,2\n")
    if name in (".", "..") or len(os.fsencode(name + suffix)) > 255:
        return  # not a file name on this file system
    if where == "under a file":
        (directory / "blocker").write_text("mine")
        target = directory / "blocker" / f"{name}{suffix}"
    else:
        target = (directory / "new" if where == "in a new folder" else directory) / f"{name}{suffix}"
        if where == "here":
            _occupy(target, occupant) if target.name not in ("in.csv", "blocker") else None
    before = snapshot(directory)
    arguments = ["predict", "--model", str(student), "--input", str(directory / "in.csv"), "--output", str(target)]
    status = main([*arguments, *(["--force"] if force else [])])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    after = snapshot(directory)
    if status != 0:
        assert status == 2 and len(errors) == 1 and after == before, errors
        event(f"refused: {errors[0].rsplit(': ', 1)[-1][:40]}")
        return
    event("predicted")
    output = str(target.relative_to(directory))
    assert {key: value for key, value in after.items() if key != output and not output.startswith(key)} == {
        key: value for key, value in before.items() if key != output and not output.startswith(key)
    }
    assert after[output] is not None and b"prob_neutral" in after[output]
