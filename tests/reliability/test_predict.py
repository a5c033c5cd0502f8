"""`scalingdown predict` on hostile inputs and outputs (issue 27): `--force` never deletes what predict did not
write, columns stay aligned to one header with every value as read, and a bad file gets one line."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from scalingdown.cli import main
from scalingdown.evaluation.exporters import RECORD_NAME, export_onnx, export_onnx_int8, export_torch_int8
from scalingdown.evaluation.predict_file import OutputExists, predict_file
from scalingdown.evaluation.runtime import load_runtime
from scalingdown.pipeline.errors import UserError
from tests.evaluation.conftest import LABELS, save_student

PROBABILITIES = [f"prob_{label}" for label in LABELS]


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_student(tmp_path_factory.mktemp("predict") / "student")


@pytest.fixture(scope="module")
def shipped(student: Path) -> dict[str, Path]:
    """The tiny student's `model/` directory and its three exports."""
    root = student.parent
    export_onnx(student, root / "onnx-fp32")
    export_onnx_int8(root / "onnx-fp32", root / "onnx-int8")
    export_torch_int8(student, root / "torch-int8")
    return {"model": student, **{name: root / name for name in ("onnx-fp32", "onnx-int8", "torch-int8")}}


def _predict(capsys, student: Path, source: Path, target: Path, *extra: str) -> tuple[int, str]:
    status = main(["predict", "--model", str(student), "--input", str(source), "--output", str(target), *extra])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == (status != 0), errors
    return status, errors[0] if errors else ""


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_force_never_deletes_a_directory_or_a_link(student, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("text\nprofits rose\n")
    users = tmp_path / "out.csv"
    (users / "inner").mkdir(parents=True)
    (users / "inner" / "notes.txt").write_text("mine")
    status, error = _predict(capsys, student, tmp_path / "in.csv", users, "--force")
    assert status == 2 and error == (
        f"error: {users}: exists and is not a file (a directory or a link); predict writes a file and never "
        "replaces anything else: choose another output path"
    )
    assert (users / "inner" / "notes.txt").read_text() == "mine"
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "in.csv")
    assert _predict(capsys, student, tmp_path / "in.csv", link, "--force")[0] == 2
    assert link.is_symlink() and (tmp_path / "in.csv").read_text() == "text\nprofits rose\n"


def test_force_replaces_only_an_earlier_output_never_a_users_file_or_the_input(student, tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("text,id\nprofits rose,1\n")
    mine = tmp_path / "mine.csv"
    mine.write_text("name,score\nann,3\n")
    status, error = _predict(capsys, student, source, mine, "--force")
    assert status == 2 and "exists and is not a file predict wrote" in error and "\n" not in error
    assert mine.read_text() == "name,score\nann,3\n"
    status, error = _predict(capsys, student, source, source, "--force")
    assert status == 2 and error == f"error: {source}: is the input file; choose another output path"
    assert source.read_text() == "text,id\nprofits rose,1\n"
    assert _predict(capsys, student, source, tmp_path / "out.jsonl")[0] == 0
    assert _predict(capsys, student, source, tmp_path / "out.jsonl", "--force")[0] == 0, "its own output"


def test_json_lines_keys_missing_or_reordered_stay_under_their_headers_across_chunks(student, tmp_path):
    rows = [
        {"id": "a", "text": "profits rose", "source": "wire"},
        {"text": "shares fell", "id": "b"},
        {"source": "blog", "text": "guidance unchanged", "id": "c"},
        {"text": "margins improved", "id": "d", "late": "only here"},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert predict_file(student, source, tmp_path / "out.csv", chunk_size=1) == 4
    output = _csv_rows(tmp_path / "out.csv")
    assert list(output[0]) == ["id", "text", "source", "late", "label", *PROBABILITIES]
    for row, written in zip(rows, output):
        assert {name: written[name] for name in ("id", "text", "source", "late")} == {
            name: row.get(name, "") for name in ("id", "text", "source", "late")
        }
    predict_file(student, source, tmp_path / "out.jsonl", chunk_size=3)
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for row, original in zip(written, rows):
        assert list(row) == [*original, "label", *PROBABILITIES]
        assert {key: row[key] for key in original} == original


def test_csv_values_and_texts_that_look_like_missing_values_are_repeated_as_texts(student, tmp_path):
    source = tmp_path / "in.csv"
    frame = pd.DataFrame(
        {
            "text": ["NA", "null", "N/A", "NaN", "profits rose"],
            "note": ["NA", "null", "NaN", "", "N/A"],
            "code": ["007", "1e3", "-0", "True", "1,5"],
        }
    )
    source.write_text(frame.to_csv(index=False))
    assert predict_file(student, source, tmp_path / "out.csv", chunk_size=2) == 5
    output = _csv_rows(tmp_path / "out.csv")
    assert [{name: row[name] for name in frame.columns} for row in output] == frame.to_dict("records")
    predict_file(student, source, tmp_path / "out.jsonl")
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [{name: row[name] for name in frame.columns} for row in written] == frame.to_dict("records")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.csv", "text,id,id\nprofits rose,1,2\n", "the header names the column(s) ['id'] more than once"),
        ("in.csv", "text,id\nprofits rose,1\nshares fell\n", "in.csv, line 3: expected 2 fields, as in the header"),
        ("in.csv", "text,id\n,1\n", "in.csv, row 1: column 'text' holds no text"),
        ("in.jsonl", '{"text": "a"}\n[1, 2]\n', "in.jsonl, line 2: expected a JSON object, found list"),
        ("in.jsonl", '{"text": "a"}\n{"id": 2}\n', "in.jsonl, row 2: column 'text' holds no text"),
    ],
    ids=["duplicate-header", "short-row", "empty-text", "jsonl-not-an-object", "jsonl-row-without-the-text"],
)
def test_a_bad_row_or_header_is_named_before_anything_is_written(student, tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(UserError) as caught:
        predict_file(student, tmp_path / name, tmp_path / "out.csv")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out.csv").exists() and not list(tmp_path.glob(".out.csv*"))


def test_an_output_that_cannot_be_written_gets_one_line(student, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("text\nprofits rose\n")
    (tmp_path / "file").write_text("a file, not a folder")
    status, error = _predict(capsys, student, tmp_path / "in.csv", tmp_path / "file" / "out.csv")
    assert (
        status == 2
        and error == f"error: {tmp_path / 'file' / 'out.csv'}: cannot write it: {tmp_path / 'file'} is not a directory"
    )


def test_output_exists_is_still_the_error_without_force(student, tmp_path):
    (tmp_path / "in.csv").write_text("text\nprofits rose\n")
    predict_file(student, tmp_path / "in.csv", tmp_path / "out.csv")
    with pytest.raises(OutputExists, match="exists; pass --force to replace it"):
        predict_file(student, tmp_path / "in.csv", tmp_path / "out.csv")


def _without_tokenizer(directory: Path) -> str:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (directory / name).unlink()
    return "holds no tokenizer (none of tokenizer.json, vocab.txt, vocab.json, spiece.model, sentencepiece.bpe.model)"


def _truncated(name: str):
    def damage(directory: Path) -> str:
        file = directory / name
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
        return f"{name} is not" if name != "model.onnx" else "model.onnx: not a readable ONNX graph"

    return damage


def _weights(directory: Path) -> Path:
    return next(
        path
        for name in ("model.safetensors", "model-int8.safetensors", "model.onnx")
        if (path := directory / name).exists()
    )


def _without_weights(directory: Path) -> str:
    _weights(directory).unlink()
    return "holds no weights" if (directory / RECORD_NAME).exists() else "holds no classifier"


DAMAGES = {
    "no-tokenizer": _without_tokenizer,
    "truncated-config": _truncated("config.json"),
    "truncated-tokenizer": _truncated("tokenizer.json"),
    "truncated-weights": lambda directory: _truncated(_weights(directory).name)(directory),
    "no-weights": lambda directory: _without_weights(directory),
}


@pytest.mark.parametrize("variant", ["model", "onnx-fp32", "onnx-int8", "torch-int8"])
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_model_directory_missing_or_damaging_a_file_is_named_before_it_loads(
    shipped, tmp_path, capsys, variant, damage
):
    directory = shutil.copytree(shipped[variant], tmp_path / variant)
    expected = DAMAGES[damage](directory)
    (tmp_path / "in.csv").write_text("text\nprofits rose\nshares fell\n")
    status, error = _predict(capsys, directory, tmp_path / "in.csv", tmp_path / "out.csv")
    assert status == 2 and str(directory) in error and expected in error, error
    assert not (tmp_path / "out.csv").exists()


TEXTS = [
    "Profits rose sharply.",
    "x",
    "The company said quarterly revenue was flat compared with the same period a year earlier.",
    "Shares fell after the warning",
    "ok ok ok ok ok ok ok ok ok ok ok ok ok ok !!!!! $$$ 1000000",
]


def test_int8_probabilities_depend_on_the_batch_neighbours_and_batch_size_one_removes_that(shipped, tmp_path):
    """Documented (README, config/README.md): dynamic int8 quantizes each batch's activations with one scale."""
    for variant in ("model", "onnx-fp32", "onnx-int8", "torch-int8"):
        runtime = load_runtime(shipped[variant])
        gap = np.abs(softmax(runtime.logits(TEXTS, 1), axis=1) - softmax(runtime.logits(TEXTS, 8), axis=1)).max()
        assert (gap > 1e-6) == variant.endswith("int8"), (variant, gap)
    alone, among = tmp_path / "alone.csv", tmp_path / "among.csv"
    alone.write_text(f"text\n{TEXTS[0]}\n")
    among.write_text("text\n" + "".join(f"{text}\n" for text in TEXTS))
    for variant in ("onnx-int8", "torch-int8"):
        for source in (alone, among):
            predict_file(shipped[variant], source, tmp_path / f"{variant}-{source.name}", batch_size=1)
        first = [_csv_rows(tmp_path / f"{variant}-{source.name}")[0] for source in (alone, among)]
        assert first[0] == first[1]


def test_a_cell_with_a_carriage_return_or_line_separator_comes_back_whole(student, tmp_path):
    r"""Found by the generated inputs: a CSV writer ending lines in \n left a lone \r unquoted."""
    rows = [{"text": "profits\rrose", "note": "a\u2028b"}, {"text": "sales\r\nfell", "note": "c\x85d"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    predict_file(student, tmp_path / "in.jsonl", tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [{key: row[key] for key in ("text", "note")} for row in written] == rows


def test_a_column_name_that_is_not_printable_is_shown_escaped_in_the_one_line(student, tmp_path):
    (tmp_path / "in.jsonl").write_text('{"a\\nb": "profits rose"}\n')
    with pytest.raises(UserError) as error:
        predict_file(student, tmp_path / "in.jsonl", tmp_path / "out.csv")
    assert str(error.value) == f"{tmp_path / 'in.jsonl'}: no column 'text' (columns found: 'a\\nb')"
