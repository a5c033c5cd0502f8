"""Batch prediction of a file with a classifier (`scalingdown predict`): CSV, JSON Lines or Parquet in, CSV or
JSON Lines out, read and written in chunks so that memory stays bounded on large files.

Each output row is the input row followed by `label` (the predicted label's name) and one `prob_<label>`
column per label (softmax probabilities), in the model's label order as saved. The output is written to a
temporary beside it and renamed at the end; an existing output is kept unless `force`. `annotate_file` is the same
streaming for any model that adds columns to each text (`scalingdown generate`: a causal LM's answers).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import softmax
from tqdm.auto import tqdm

from scalingdown.data.data_errors import DataError
from scalingdown.evaluation.runtime import ClassifierRuntime, load_runtime
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import atomic_path

INPUT_FORMATS = (".csv", ".jsonl", ".parquet")
OUTPUT_FORMATS = (".csv", ".jsonl")
ENCODING = "utf-8"


class OutputExists(UserError, FileExistsError):
    """The output file exists and replacing it was not asked for."""


class Annotator(Protocol):
    """A model that adds `columns` to texts: `annotate` returns one list per column, one value per text."""

    columns: list[str]

    def annotate(self, texts: list[str], batch_size: int) -> dict[str, list[object]]:
        """The added columns of `texts`."""
        ...


class ClassifierAnnotator:
    """A classifier's predicted label and per-label probabilities."""

    def __init__(self, runtime: ClassifierRuntime) -> None:
        self.runtime = runtime
        self.columns = ["label", *(f"prob_{name}" for name in runtime.label_names)]

    def annotate(self, texts: list[str], batch_size: int) -> dict[str, list[object]]:
        """The label and probabilities of each text."""
        probabilities = softmax(self.runtime.logits(texts, batch_size).astype(np.float64), axis=1)
        names = self.runtime.label_names
        added: dict[str, list[object]] = {"label": [names[index] for index in probabilities.argmax(axis=1)]}
        for index, name in enumerate(names):
            added[f"prob_{name}"] = probabilities[:, index].tolist()
        return added


def predict_file(
    model: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str = "text",
    force: bool = False,
    batch_size: int = 64,
    chunk_size: int = 10_000,
    threads: int = 1,
) -> int:
    """Predict every row of `input_path` with the classifier in `model`; write `output_path`; the rows written.

    `model` is a student directory or an export of one (see `runtime.load_runtime`); `threads` is given to
    ONNX Runtime (PyTorch's thread count is the caller's).
    """
    return annotate_file(
        lambda: ClassifierAnnotator(load_runtime(model, threads)),
        input_path,
        output_path,
        text_column,
        force,
        batch_size,
        chunk_size,
        "predict",
    )


def annotate_file(
    load: Callable[[], Annotator],
    input_path: str | Path,
    output_path: str | Path,
    text_column: str = "text",
    force: bool = False,
    batch_size: int = 64,
    chunk_size: int = 10_000,
    what: str = "predict",
) -> int:
    """Append the columns of the annotator `load` returns to every row of `input_path`; write `output_path`; the rows
    written. The input is checked, and its first chunk read, before the model loads."""
    source, target = Path(input_path), Path(output_path)
    _check_suffix(source, INPUT_FORMATS, "input")
    _check_suffix(target, OUTPUT_FORMATS, "output")
    if not source.is_file():
        raise DataError(source, None, "no such file")
    if target.exists() and not force:
        raise OutputExists(f"{target}: exists; pass --force to replace it")
    total = _row_count(source)
    chunks = _chunks(source, text_column, chunk_size)
    first_chunk = next(chunks, None)  # a bad input file is named before the model loads
    if first_chunk is None or first_chunk.empty:
        raise DataError(source, None, "holds no rows to predict")
    annotator = load()
    added = annotator.columns
    rows = 0
    progress = tqdm(total=total, desc=f"{what} {source.name}", unit="row")
    with atomic_path(target) as temporary, temporary.open("w", encoding="utf-8", newline="") as handle, progress:
        for chunk in itertools.chain([first_chunk], chunks):
            clash = [column for column in added if column in chunk.columns]
            if clash:
                raise DataError(source, None, f"already has the output column(s) {clash}; rename them")
            _write(_annotated(annotator, chunk, source, text_column, rows, batch_size), target, handle, rows == 0)
            rows += len(chunk)
            progress.update(len(chunk))
    return rows


def _check_suffix(path: Path, allowed: tuple[str, ...], role: str) -> None:
    if path.suffix.lower() not in allowed:
        raise UserError(
            f"{path}: unknown {role} format {path.suffix or '(no extension)'!r}; expected one of {', '.join(allowed)}"
        )


def _row_count(source: Path) -> int | None:
    """Rows in a Parquet file from its metadata (None for text formats, whose length is unknown until read)."""
    if source.suffix.lower() != ".parquet":
        return None
    try:
        rows: int = pq.ParquetFile(source).metadata.num_rows
        return rows
    except (pa.ArrowException, OSError) as error:
        raise DataError(source, None, f"not a readable Parquet file ({error})") from error


def _chunks(source: Path, text_column: str, chunk_size: int) -> Iterator[pd.DataFrame]:
    """The file's rows in chunks of at most `chunk_size`, every column as read; checks the text column."""
    try:
        for chunk in _raw_chunks(source, chunk_size):
            if text_column not in chunk.columns:
                found = ", ".join(map(str, chunk.columns)) or "none"
                raise DataError(source, None, f"no column {text_column!r} (columns found: {found})")
            yield chunk
    except DataError:
        raise
    except UnicodeDecodeError as error:
        raise DataError(
            source, None, f"is not {ENCODING} text ({error.reason} at byte 0x{error.object[error.start]:02x})"
        ) from error
    except pd.errors.EmptyDataError as error:
        raise DataError(source, None, "is empty; expected a header line and rows") from error
    except ValueError as error:  # pandas' CSV and JSON parsers
        raise DataError(source, None, f"not a readable {source.suffix} file ({error})") from error


def _raw_chunks(source: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    suffix = source.suffix.lower()
    if suffix == ".parquet":
        try:
            for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_size):
                yield batch.to_pandas()
        except (pa.ArrowException, OSError) as error:
            raise DataError(source, None, f"not a readable Parquet file ({error})") from error
    elif suffix == ".csv":
        with pd.read_csv(source, chunksize=chunk_size, dtype=str, encoding=ENCODING) as reader:
            yield from reader
    else:
        with pd.read_json(source, lines=True, chunksize=chunk_size, dtype=False, encoding=ENCODING) as reader:
            yield from reader


def _annotated(
    annotator: Annotator, chunk: pd.DataFrame, source: Path, text_column: str, offset: int, batch_size: int
) -> pd.DataFrame:
    """`chunk` with the annotator's columns appended."""
    texts = chunk[text_column]
    missing = np.array([not isinstance(value, str) for value in texts], dtype=bool)
    if missing.any():
        row = offset + int(np.argmax(missing)) + 1
        raise DataError(source, row, f"column {text_column!r} holds no text (empty or not a string)", unit="row")
    result = chunk.copy()
    for column, values in annotator.annotate(texts.tolist(), batch_size).items():
        result[column] = values
    return result


def _write(frame: pd.DataFrame, target: Path, handle: TextIO, first: bool) -> None:
    if target.suffix.lower() == ".csv":
        frame.to_csv(handle, header=first, index=False)
    elif len(frame):
        frame.to_json(handle, orient="records", lines=True, force_ascii=False)
