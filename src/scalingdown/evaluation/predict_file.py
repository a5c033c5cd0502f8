"""Batch prediction of a file with a classifier (`scalingdown predict`): CSV, JSON Lines or Parquet in, CSV or
JSON Lines out, read and written in chunks so that memory stays bounded on large files.

Within a chunk the texts are batched by token count, each batch padded to its longest (`ClassifierRuntime.logits`),
and written back in input order. Each output row is the input row followed by `label` (the predicted label's name)
and one `prob_<label>`
column per label (softmax probabilities), in the model's label order as saved. The output is written to a
temporary beside it and renamed at the end; an existing output is kept unless `force`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, TextIO

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


class Predicted(NamedTuple):
    """What `predict_file` did: the rows written and the seconds they took."""

    rows: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        """Rows predicted per second."""
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


class OutputExists(UserError, FileExistsError):
    """The output file exists and replacing it was not asked for."""


def predict_file(
    model: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str = "text",
    force: bool = False,
    batch_size: int = 64,
    chunk_size: int = 10_000,
    threads: int = 1,
    by_length: bool = True,
) -> Predicted:
    """Predict every row of `input_path` with the classifier in `model`; write `output_path`; the rows written and
    the seconds they took (from the first chunk read to the output renamed into place, the model loaded).

    `model` is a student directory or an export of one (see `runtime.load_runtime`); `threads` is given to
    ONNX Runtime (PyTorch's thread count is the caller's). Within each chunk the texts are batched by token count
    and each batch padded to its longest (`by_length`; False: batches in input order); rows are written in input
    order either way.
    """
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
    runtime = load_runtime(model, threads)
    added = ["label", *(f"prob_{name}" for name in runtime.label_names)]
    rows, start = 0, time.perf_counter()
    progress = tqdm(total=total, desc=f"predict {source.name}", unit="row")
    with atomic_path(target) as temporary, temporary.open("w", encoding="utf-8", newline="") as handle, progress:
        for chunk in itertools.chain([first_chunk], chunks):
            clash = [column for column in added if column in chunk.columns]
            if clash:
                raise DataError(source, None, f"already has the output column(s) {clash}; rename them")
            predicted = _predicted(runtime, chunk, source, text_column, rows, batch_size, by_length)
            _write(predicted, target, handle, rows == 0)
            rows += len(chunk)
            progress.update(len(chunk))
    return Predicted(rows, time.perf_counter() - start)


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


def _predicted(
    runtime: ClassifierRuntime,
    chunk: pd.DataFrame,
    source: Path,
    text_column: str,
    offset: int,
    batch_size: int,
    by_length: bool,
) -> pd.DataFrame:
    """`chunk` with the predicted label and the per-label probabilities appended."""
    texts = chunk[text_column]
    missing = np.array([not isinstance(value, str) for value in texts], dtype=bool)
    if missing.any():
        row = offset + int(np.argmax(missing)) + 1
        raise DataError(source, row, f"column {text_column!r} holds no text (empty or not a string)", unit="row")
    probabilities = softmax(runtime.logits(texts.tolist(), batch_size, by_length).astype(np.float64), axis=1)
    result = chunk.copy()
    result["label"] = [runtime.label_names[index] for index in probabilities.argmax(axis=1)]
    for index, name in enumerate(runtime.label_names):
        result[f"prob_{name}"] = probabilities[:, index]
    return result


def _write(frame: pd.DataFrame, target: Path, handle: TextIO, first: bool) -> None:
    if target.suffix.lower() == ".csv":
        frame.to_csv(handle, header=first, index=False)
    elif len(frame):
        frame.to_json(handle, orient="records", lines=True, force_ascii=False)
