"""Degenerate data and text encodings (issue 15, items 5 and 6): a split with too few labels to score stops
`prepare` unless allowed (and the report then says so in bold); no mojibake reaches training."""

from __future__ import annotations

import codecs
import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest

from scalingdown.data.data_errors import DataError
from scalingdown.data.loaders import load
from scalingdown.pipeline import paths
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.specs.definitions import PrepareSpec, ReportSpec
from scalingdown.stages.prepare import prepare
from scalingdown.stages.report import report
from tests.pipeline.conftest import resolved_tiny_config
from tests.report.test_report import _record

LABELS = ["negative", "neutral", "positive"]


def _texts(prefix: str, labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [f"{prefix} sentence {i} about {label}" for i, label in enumerate(labels)], "label": labels}
    )


def _spec(tmp_path: Path, train: list[str], test: list[str], allow: bool = False) -> PrepareSpec:
    _texts("train", train).to_csv(tmp_path / "train.csv", index=False)
    _texts("test", test).to_csv(tmp_path / "test.csv", index=False)
    data = {
        "loader": "generic",
        "options": {"files": {"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv")}},
        "split": {"validation": 0.25, "test": 0.2},
        "data_portion": 1.0,
    }
    if allow:
        data["allow_few_labels"] = True
    labels = sorted(set(train) | set(test))  # a configured label without rows is refused (test below)
    return PrepareSpec.from_dict(
        {"task": "t", "type": "classification", "labels": labels, "seed": 1, "format": 3, "data": data}
    )


@pytest.mark.parametrize(
    ("train", "test", "found"),
    [
        (
            ["positive"] * 12,
            ["positive"] * 3,
            "the train split holds only the label(s) ['positive']; the test split holds only",
        ),
        (["positive", "negative"] * 6, ["negative"] * 4, "the test split holds only the label(s) ['negative']"),
    ],
    ids=["one-training-label", "one-test-label"],
)
def test_a_split_with_too_few_labels_to_score_stops_prepare(tmp_path, train, test, found):
    with pytest.raises(ConfigError) as error:
        prepare(_spec(tmp_path, train, test), tmp_path / "out")
    assert error.value.key == "tasks.t.data"
    assert error.value.problem.startswith(found)
    assert "set data.allow_few_labels: true to go on anyway" in error.value.problem
    assert not (tmp_path / "out").exists()


def test_allowed_few_labels_are_recorded_and_the_report_says_so_in_bold(tmp_path, monkeypatch):
    data = tmp_path / "data"
    manifest = prepare(_spec(tmp_path, ["positive", "negative"] * 6, ["negative"] * 4, allow=True), data)
    assert manifest["few_labels"] == {"task": "t", "splits": {"test": ["negative"]}}
    assert json.loads((data / "manifest.json").read_text())["few_labels"] == manifest["few_labels"]

    config = resolved_tiny_config()
    config["tasks"] = {"t": config["tasks"]["sentiment"]}
    monkeypatch.chdir(tmp_path)
    evaluation = Path(paths.eval_file(paths.experiment_root(config["experiment"]), "t", "teacher", "big"))
    evaluation.parent.mkdir(parents=True)
    record = _record(
        "t", "teacher", "big", {"accuracy": 1.0, "f1_macro": 1.0, "confusion_matrix": [[4, 0], [0, 0]]}, 2.0
    )
    evaluation.write_text(json.dumps(record))
    out = tmp_path / "report"
    report(
        ReportSpec(experiment=config["experiment"], config=config),
        [str(evaluation)],
        [],
        [str(data)],
        [],
        [],
        None,
        str(out),
    )
    warning = "Warning: task t: its test split holds only ['negative'] (kept because `data.allow_few_labels` is on)"
    assert f"**{warning}" in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "<p><strong>Warning: task t: its test split holds only [&#x27;negative&#x27;]" in html


# -- encodings ------------------------------------------------------------------------------------
PHRASES = ["Nokia's net sales rose 5 % in Q3 .@positive", "Ahlström cut 120 jobs in Jyväskylä .@negative"]


def _phrasebank(tmp_path: Path, data: bytes, **options: str) -> dict[str, pd.DataFrame]:
    path = tmp_path / "Sentences_AllAgree.txt"
    path.write_bytes(data)
    return load("phrasebank", {"path": str(path), **options}, 0, "classification")


def test_phrasebank_saved_as_utf8_stops_naming_the_file_and_the_encoding_option(tmp_path):
    with pytest.raises(DataError) as error:
        _phrasebank(tmp_path, "\n".join(PHRASES).encode("utf-8"))
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'Sentences_AllAgree.txt'}, line 2: the file is UTF-8 ('Ahlström')")
    assert "but is read as latin-1, which would make it 'AhlstrÃ¶m'" in message
    assert message.endswith("set the loader's option data.options.encoding: utf-8")


def test_phrasebank_saved_as_utf8_reads_correctly_with_the_encoding_option(tmp_path):
    rows = _phrasebank(tmp_path, "\n".join(PHRASES).encode("utf-8"), encoding="utf-8")["all"]
    assert rows["text"].tolist()[1] == "Ahlström cut 120 jobs in Jyväskylä ."


@pytest.mark.parametrize(
    ("encode", "name"),
    [
        (lambda text: codecs.BOM_UTF8 + text.encode("utf-8"), "utf-8-with-mark"),
        (lambda text: text.encode("utf-16"), "utf-16-with-mark"),
        (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "utf-16-big-endian-with-mark"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_byte_order_mark_decides_the_encoding(tmp_path, encode, name):
    rows = _phrasebank(tmp_path, encode("\n".join(PHRASES)))["all"]
    assert rows["text"].tolist() == ["Nokia's net sales rose 5 % in Q3 .", "Ahlström cut 120 jobs in Jyväskylä ."]
    assert rows["label"].tolist() == ["positive", "negative"]


def test_the_real_latin1_release_still_reads_as_latin1(tmp_path):
    rows = _phrasebank(tmp_path, "\n".join(PHRASES).encode("latin-1"))["all"]
    assert rows["text"].tolist()[1] == "Ahlström cut 120 jobs in Jyväskylä ."


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_utf8_byte_order_mark_does_not_reach_the_first_row_of_generic_files(tmp_path, suffix):
    path = tmp_path / f"data.{suffix}"
    if suffix == "csv":
        text = "text,label\nProfit rose,positive\nSales fell,negative\n"
    else:
        text = '{"text": "Profit rose", "label": "positive"}\n{"text": "Sales fell", "label": "negative"}\n'
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    rows = load("generic", {"path": str(path)}, 0, "classification")["all"]
    assert rows["text"].tolist() == ["Profit rose", "Sales fell"]


# -- issue 27: labels without rows, transfer text that adds nothing, CSV headers --------------------------------
def _with_labels(spec: PrepareSpec, labels: list[str], **data: object) -> PrepareSpec:
    raw = spec.to_dict()
    raw["labels"] = labels
    raw["data"].update(data)
    return PrepareSpec.from_dict(raw)


def test_a_configured_label_that_occurs_in_no_split_stops_prepare_naming_it_and_the_counts(tmp_path):
    spec = _with_labels(_spec(tmp_path, ["positive", "negative"] * 6, ["negative", "positive"] * 2), LABELS)
    with pytest.raises(ConfigError) as error:
        prepare(spec, tmp_path / "out")
    assert error.value.key == "tasks.t.labels"
    counts = r"\{'negative': \d, 'positive': \d\}"
    assert re.match(
        rf"label\(s\) \['neutral'\] occur in no split \(rows by label: train {counts}, validation {counts}, test "
        r"\{'negative': 2, 'positive': 2\}\): a label without rows lowers every macro-averaged score",
        error.value.problem,
    ), error.value.problem
    assert error.value.problem.endswith("or set data.allow_absent_labels: true to keep it")
    assert not (tmp_path / "out").exists()


def test_a_label_without_rows_is_kept_with_allow_absent_labels_and_logged(tmp_path, caplog):
    spec = _spec(tmp_path, ["positive", "negative"] * 6, ["negative", "positive"] * 2)
    spec = _with_labels(spec, LABELS, allow_absent_labels=True)
    with caplog.at_level(logging.WARNING, logger="scalingdown.stages.prepare"):
        manifest = prepare(spec, tmp_path / "out")
    assert manifest["labels"] == LABELS
    assert any("['neutral'] occur in no split" in record.getMessage() for record in caplog.records)


def test_allow_absent_labels_off_leaves_the_prepare_spec_and_its_key_as_they_were(tmp_path):
    spec = _spec(tmp_path, ["positive", "negative"] * 6, ["negative", "positive"] * 2)
    assert "allow_absent_labels" not in spec.to_dict()["data"]
    assert _with_labels(spec, spec.labels, allow_absent_labels=False).to_json() == spec.to_json()


def test_transfer_text_that_adds_no_row_is_a_warning(tmp_path, caplog):
    spec = _spec(tmp_path, ["positive", "negative"] * 6, ["negative", "positive"] * 2)
    train_texts = pd.read_csv(tmp_path / "train.csv")["text"].tolist()
    pd.DataFrame({"text": train_texts[:3]}).to_csv(tmp_path / "transfer.csv", index=False)
    raw = spec.to_dict()
    raw["data"]["transfer"] = {"loader": "generic", "options": {"path": str(tmp_path / "transfer.csv")}}
    with caplog.at_level(logging.INFO, logger="scalingdown.stages.prepare"):
        prepare(PrepareSpec.from_dict(raw), tmp_path / "out")
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any(message.startswith("transfer text adds nothing: none of its 3 rows is new") for message in warnings)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\n", "data.csv: has a header line but no records below it; expected one record per line"),
        ("text,label\n\n\n", "data.csv: has a header line but no records below it"),
        ("text,label,label\nup,positive,negative\n", "data.csv, line 1: the header names the column(s) ['label'] more"),
        ("label,text,text\npositive,up,down\n", "data.csv, line 1: the header names the column(s) ['text'] more"),
    ],
    ids=["header-only", "header-and-blank-lines", "label-column-twice", "text-column-twice"],
)
def test_a_csv_header_without_rows_or_naming_a_column_twice_is_refused_in_plain_words(tmp_path, content, message):
    (tmp_path / "data.csv").write_text(content)
    with pytest.raises(DataError) as error:
        load("generic", {"path": str(tmp_path / "data.csv")}, 0, "classification")
    assert str(error.value) == f"{tmp_path}/{message}" or str(error.value).startswith(f"{tmp_path}/{message}")
    assert "Instruction" not in str(error.value) and "\n" not in str(error.value)


def test_a_csv_text_longer_than_the_csv_modules_field_limit_is_read_whole(tmp_path):
    long_text = "profits rose " * 20_000  # 260,000 characters: twice the csv module's default field limit
    pd.DataFrame({"text": [long_text, "sales fell"], "label": ["positive", "negative"]}).to_csv(
        tmp_path / "data.csv", index=False
    )
    rows = load("generic", {"path": str(tmp_path / "data.csv")}, 0, "classification")["all"]
    assert rows["text"].tolist() == [long_text.strip(), "sales fell"]


# -- found by the generated inputs (hostile/test_data.py) ----------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "encode"),
    [
        ("csv", lambda text: text.encode("utf-16")),
        ("csv", lambda text: text.encode("utf-32")),
        ("jsonl", lambda text: text.encode("utf-16")),
        ("jsonl", lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
    ],
    ids=["csv-utf-16", "csv-utf-32", "jsonl-utf-16", "jsonl-utf-16-big-endian"],
)
def test_generic_files_in_the_encoding_their_byte_order_mark_announces_are_read_whole(tmp_path, suffix, encode):
    if suffix == "csv":
        text = "text,label\nAhlström rose,positive\nSales fell,negative\n"
    else:
        text = '{"text": "Ahlström rose", "label": "positive"}\n{"text": "Sales fell", "label": "negative"}\n'
    (tmp_path / f"data.{suffix}").write_bytes(encode(text))
    rows = load("generic", {"path": str(tmp_path / f"data.{suffix}")}, 0, "classification")["all"]
    assert rows["text"].tolist() == ["Ahlström rose", "Sales fell"]
    assert rows["row_id"].tolist() == (["data:2", "data:3"] if suffix == "csv" else ["data:1", "data:2"])


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        (
            "data.parquet",
            lambda path: pd.DataFrame({"text": pd.Series([], dtype=str)}).to_parquet(path),
            "data.parquet: holds no records (a Parquet file of 0 rows)",
        ),
        (
            "data.csv",
            lambda path: path.write_text("te\x00xt,label\nup,positive\n"),  # codespell:ignore te
            "data.csv, line 1: the column name 'te\\x00xt' holds a NUL character (\\x00); rename it",
        ),
        (
            "data.jsonl",
            lambda path: path.write_text('{"te\\u0000xt": "up", "label": "positive"}\n'),  # codespell:ignore te
            "data.jsonl, line 1: the column name 'te\\x00xt' holds a NUL character (\\x00); rename it",
        ),
    ],
    ids=["empty-parquet", "nul-in-a-csv-header", "nul-in-a-json-key"],
)
def test_files_the_datasets_reader_fails_on_get_one_plain_line(tmp_path, name, write, message):
    write(tmp_path / name)
    with pytest.raises(DataError) as error:
        load("generic", {"path": str(tmp_path / name)}, 0, "classification")
    assert str(error.value) == f"{tmp_path}/{message}"
