"""`scalingdown data inspect`: JSON counts on stdout, one-line errors naming the argument."""

from __future__ import annotations

import json

from scalingdown.cli import main
from tests.conftest import FIXTURE_DATASETS, scalingdown


def _inspect(capsys, *args: str) -> dict:
    assert main(["data", "inspect", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_counts_rows_repeats_conflicts_and_labels(capsys):
    result = _inspect(
        capsys, "--loader", "phrasebank", "--path", str(FIXTURE_DATASETS / "phrasebank" / "Sentences_Fixture.txt")
    )
    assert {
        key: result[key]
        for key in (
            "rows",
            "unique_rows",
            "duplicates_dropped",
            "label_conflicts_dropped",
            "conflicting_texts",
            "rows_kept",
            "type",
        )
    } == {
        "rows": 17,
        "unique_rows": 16,
        "duplicates_dropped": 1,
        "label_conflicts_dropped": 2,
        "conflicting_texts": 1,
        "rows_kept": 14,
        "type": "classification",
    }
    assert result["label_counts"] == {"negative": 5, "neutral": 6, "positive": 6}


def test_inspect_with_a_labels_file_and_with_options(capsys):
    folder = FIXTURE_DATASETS / "winogrande"
    result = _inspect(
        capsys,
        "--loader",
        "winogrande",
        "--path",
        str(folder / "dev.jsonl"),
        "--labels",
        str(folder / "dev-labels.lst"),
    )
    assert result["rows"] == 5 and result["label_counts"] == {"0": 3, "1": 2}
    options = {
        "files": {"train": str(folder / "train_s.jsonl"), "test": str(folder / "dev.jsonl")},
        "labels_files": {"test": str(folder / "dev-labels.lst")},
    }
    result = _inspect(capsys, "--loader", "winogrande", "--options", json.dumps(options))
    assert {name: split["rows"] for name, split in result["splits"].items()} == {"train": 8, "test": 5}
    assert result["duplicates_dropped"] == 1
    qa = _inspect(
        capsys,
        "--loader",
        "generic",
        "--type",
        "generative_qa",
        "--path",
        str(FIXTURE_DATASETS / "triviaqa" / "plain.jsonl"),
    )
    assert qa["rows"] == 2 and "label_counts" not in qa


def test_inspect_errors_name_the_argument(capsys):
    assert main(["data", "inspect", "--loader", "generic", "--path", "x.csv"]) == 2
    assert "error: --type: loader 'generic' reads classification" in capsys.readouterr().err
    assert main(["data", "inspect", "--loader", "phrasebank", "--path", "x.txt", "--labels", "y.lst"]) == 2
    assert "error: --labels: not an option of loader 'phrasebank'" in capsys.readouterr().err
    assert main(["data", "inspect", "--loader", "phrasebank", "--path", "missing.txt"]) == 2
    assert "error: missing.txt: file not found" in capsys.readouterr().err


def test_inspect_prints_only_json_on_stdout():
    result = scalingdown(
        "data",
        "inspect",
        "--loader",
        "social_iqa",
        "--path",
        str(FIXTURE_DATASETS / "social_iqa" / "dev.jsonl"),
        "--labels",
        str(FIXTURE_DATASETS / "social_iqa" / "dev-labels.lst"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label_counts"] == {"0": 3, "1": 2, "2": 1}
