"""Generated hostile data files (issue 27): texts of any length and content, any column names and labels, in every
format the generic loader reads (CSV, JSON Lines, Parquet) and every encoding a byte-order mark announces, and the
PhraseBank release format. `prepare` either writes splits whose every row is an input row as read (its text
stripped, its label kept) and whose counts add up, or refuses with one line naming the file, and writes nothing."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pandas as pd
from hypothesis import event, given
from hypothesis import strategies as st

from scalingdown.data.store import read_manifest, read_split
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.specs.definitions import PrepareSpec
from scalingdown.stages.prepare import prepare
from tests.reliability.hostile.conftest import examples, hostile_text, one_line

ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8 with a mark": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16 with a mark": lambda text: text.encode("utf-16"),
    "utf-32 with a mark": lambda text: text.encode("utf-32"),
}


def _spec(path: Path, labels: list[str], options: dict, loader: str = "generic") -> PrepareSpec:
    return PrepareSpec.from_dict(
        {
            "task": "t",
            "type": "classification",
            "labels": labels,
            "seed": 3,
            "format": 3,
            "data": {
                "loader": loader,
                "options": {"path": str(path), **options},
                "split": {"validation": 0.2, "test": 0.2},
                "data_portion": 1.0,
                "allow_few_labels": True,
            },
        }
    )


def _check(spec: PrepareSpec, out: Path, rows: list[tuple[str, str]]) -> None:
    """The invariant: splits made of the input rows as read, with counts that add up; or one line and nothing."""
    try:
        prepare(spec, out)
    except UserError as error:
        message = one_line(error)
        assert spec.task in message or str(spec.data.options["path"]) in message, message
        assert not out.exists(), "a refused input writes nothing"
        return
    event("prepared")
    read = {(text.strip(), label) for text, label in rows}
    manifest = read_manifest(out)
    prepared = pd.concat([read_split(out, name) for name in ("train", "validation", "test")])
    assert set(zip(prepared["text"], prepared["label"])) <= read, "every prepared row is an input row as read"
    assert manifest["rows_loaded"] == len(rows)
    dropped = manifest["duplicates_dropped"] + manifest["label_conflicts_dropped"]
    assert len(prepared) == manifest["rows_loaded"] - dropped
    assert len(prepared) == len(set(prepared["text"])), "no text in two rows"


# Hostile rows (any text, sometimes blank, sometimes repeated with another label) among plain ones, so that most
# files have rows enough for three splits with every label, and the checks after reading are reached too.
LABELS = ["up", "down", "flat"]
PLAIN = [(f"plain sentence number {index}", LABELS[index % 3]) for index in range(15)]
ROWS = st.lists(st.tuples(hostile_text(min_size=1, max_size=60), st.sampled_from(LABELS)), max_size=12).flatmap(
    lambda hostile: st.sampled_from([hostile, [*hostile, *PLAIN], [*PLAIN, *hostile]])
)
ONE_LINE_TEXTS = hostile_text(min_size=1, max_size=60).map(lambda text: text.replace("\n", " ").replace("\r", " "))
PLAIN_PHRASES = [(text, {"up": "positive", "down": "negative", "flat": "neutral"}[label]) for text, label in PLAIN]
COLUMN = st.one_of(st.just("text"), hostile_text(min_size=1, max_size=12))


def _write(path: Path, header: tuple[str, str], rows: list[tuple[str, str]], file_format: str, encode) -> None:
    frame = pd.DataFrame(rows, columns=list(header), dtype=object)
    if file_format == "csv":
        path.write_bytes(encode(frame.to_csv(index=False)))
    elif file_format == "jsonl":
        lines = "".join(json.dumps(dict(zip(header, row)), ensure_ascii=False) + "\n" for row in rows)
        path.write_bytes(encode(lines))
    else:
        frame.to_parquet(path, index=False)


@examples(10)
@given(
    rows=ROWS,
    text_column=COLUMN,
    file_format=st.sampled_from(["csv", "jsonl", "parquet"]),
    encoding=st.sampled_from(list(ENCODINGS)),
    long_text=st.booleans(),
)
def test_generic_files_of_any_text_columns_and_encoding_prepare_exactly_or_are_refused_in_one_line(
    tmp_path_factory, rows, text_column, file_format, encoding, long_text
):
    directory = tmp_path_factory.mktemp("data")
    if long_text and rows:
        rows = [(rows[0][0] + "profits rose " * 12_000, rows[0][1]), *rows[1:]]  # past the csv module's 128 KiB
    path = directory / f"data.{file_format}"
    _write(path, (text_column, "label"), rows, file_format, ENCODINGS[encoding])
    labels = sorted({label for _, label in rows}) or ["down", "up"]
    options = {} if text_column == "text" else {"text_column": text_column}
    _check(_spec(path, labels, options), directory / "out", rows)


@examples(10)
@given(
    rows=st.lists(st.tuples(ONE_LINE_TEXTS, st.sampled_from(["positive", "negative", "neutral"])), max_size=12).map(
        lambda hostile: [*hostile, *PLAIN_PHRASES]
    ),
    encoding=st.sampled_from(["latin-1", "utf-8"]),
)
def test_phrasebank_files_of_any_text_prepare_exactly_or_are_refused_in_one_line(tmp_path_factory, rows, encoding):
    directory = tmp_path_factory.mktemp("phrasebank")
    path = directory / "Sentences_AllAgree.txt"
    text = "".join(f"{sentence}@{label}\n" for sentence, label in rows)
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        return  # a text latin-1 cannot hold is never in a latin-1 file
    options = {} if encoding == "latin-1" else {"encoding": encoding}
    expected = [
        (sentence, label) for line in text.split("\n") if line.strip() for sentence, _, label in [line.rpartition("@")]
    ]
    _check(_spec(path, ["negative", "neutral", "positive"], options, "phrasebank"), directory / "out", expected)


@examples(10)
@given(content=st.binary(max_size=300), file_format=st.sampled_from(["csv", "jsonl", "parquet"]))
def test_any_bytes_in_a_data_file_prepare_or_are_refused_in_one_line(tmp_path_factory, content, file_format):
    directory = tmp_path_factory.mktemp("bytes")
    path = directory / f"data.{file_format}"
    path.write_bytes(content)
    try:
        prepare(_spec(path, ["down", "up"], {}), directory / "out")
    except UserError as error:
        one_line(error)
        assert not (directory / "out").exists()
