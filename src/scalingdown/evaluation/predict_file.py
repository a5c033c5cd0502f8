"""Batch prediction of a file with a classifier (`scalingdown predict`): CSV, JSON Lines or Parquet in, CSV or
JSON Lines out, read and written in chunks so that memory stays bounded on large files (see `row_files` for how
each format's values are read and written: as they are, aligned to one header).

Within a chunk the texts are batched by token count, each batch padded to its longest (`ClassifierRuntime.logits`),
and written back in input order. Each output row is the input row followed by `label` (the predicted label's name)
and one `prob_<label>` column per label (softmax probabilities), in the model's label order as saved. The output is
written to a temporary beside it and renamed at the end; an existing output is kept unless `force`, which replaces
only a file that `predict` could have written (never a directory, a link, the input, or a file of other columns).
`annotate_file` is the same streaming, with the same rules, for any model that adds columns to each text
(`scalingdown generate`: a causal LM's answers).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
from scipy.special import softmax
from tqdm.auto import tqdm

from scalingdown.data.data_errors import DataError
from scalingdown.evaluation.row_files import (
    ENCODING,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    Row,
    RowWriter,
    looks_like_output,
    open_rows,
)
from scalingdown.evaluation.runtime import ClassifierRuntime, load_runtime
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import atomic_path


class Predicted(NamedTuple):
    """What `predict_file` (or `annotate_file`) did: the rows written and the seconds they took."""

    rows: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        """Rows predicted per second."""
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


class OutputExists(UserError, FileExistsError):
    """The output path holds something that replacing was not asked for, or that the command never replaces."""


@dataclass(frozen=True)
class OutputKind:
    """What a command's output is recognised by before its model loads: the command's name, the columns every output
    of it has, prefixes that at least one of its columns starts with, and those in words (for its errors)."""

    command: str
    columns: tuple[str, ...]
    prefixes: tuple[str, ...]
    described: str


PREDICTED = OutputKind("predict", ("label",), ("prob_",), "`label` and `prob_<label>` columns")


class Annotator(Protocol):
    """A model that adds `columns` to texts: `annotate` returns one list per column, one value per text."""

    columns: list[str]

    def annotate(self, texts: list[str], batch_size: int) -> dict[str, list[object]]:
        """The added columns of `texts`."""
        ...


class ClassifierAnnotator:
    """A classifier's predicted label and per-label probabilities."""

    def __init__(self, runtime: ClassifierRuntime, by_length: bool = True) -> None:
        self.runtime = runtime
        self.by_length = by_length
        self.columns = ["label", *(f"prob_{name}" for name in runtime.label_names)]

    def annotate(self, texts: list[str], batch_size: int) -> dict[str, list[object]]:
        """The label and probabilities of each text."""
        probabilities = softmax(self.runtime.logits(texts, batch_size, self.by_length).astype(np.float64), axis=1)
        names = self.runtime.label_names
        added: dict[str, list[object]] = {"label": [names[int(index)] for index in probabilities.argmax(axis=1)]}
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
    by_length: bool = True,
) -> Predicted:
    """Predict every row of `input_path` with the classifier in `model`; write `output_path`; the rows written and
    the seconds they took (from the first chunk read to the output renamed into place, the model loaded).

    `model` is a student directory or an export of one (see `runtime.load_runtime`); `threads` is given to
    ONNX Runtime (PyTorch's thread count is the caller's). Within each chunk the texts are batched by token count
    and each batch padded to its longest (`by_length`; False: batches in input order); rows are written in input
    order either way.
    """
    return annotate_file(
        lambda: ClassifierAnnotator(load_runtime(model, threads), by_length),
        input_path,
        output_path,
        text_column,
        force,
        batch_size,
        chunk_size,
        PREDICTED,
    )


def annotate_file(
    load: Callable[[], Annotator],
    input_path: str | Path,
    output_path: str | Path,
    text_column: str = "text",
    force: bool = False,
    batch_size: int = 64,
    chunk_size: int = 10_000,
    kind: OutputKind = PREDICTED,
) -> Predicted:
    """Append the columns of the annotator `load` returns to every row of `input_path`; write `output_path`; the rows
    written and the seconds they took. The input and the output path are checked, and the first chunk read, before
    the model loads."""
    source, target = Path(input_path), Path(output_path)
    _check_suffix(source, INPUT_FORMATS, "input")
    _check_suffix(target, OUTPUT_FORMATS, "output")
    if not source.is_file():
        raise DataError(source, None, "no such file" if not source.exists() else "is not a file")
    _check_output(source, target, force, kind)
    table = open_rows(source)
    if table.rows == 0:
        raise DataError(source, None, f"holds no rows to {kind.command}")
    if text_column not in table.header:
        found = ", ".join(name if name.isprintable() and "," not in name else repr(name) for name in table.header)
        found = found or "none"
        raise DataError(source, None, f"no column {text_column!r} (columns found: {found})")
    chunks = table.chunks(chunk_size)
    first_chunk = next(chunks, None)  # a bad input file is named before the model loads
    if first_chunk is None:
        raise DataError(source, None, f"holds no rows to {kind.command}")
    _check_texts(first_chunk, source, text_column, 0)
    annotator = load()
    added = annotator.columns
    clash = [column for column in added if column in table.header]
    if clash:
        raise DataError(source, None, f"already has the output column(s) {clash}; rename them")
    rows, start = 0, time.perf_counter()
    progress = tqdm(total=table.rows, desc=f"{kind.command} {source.name}", unit="row")
    try:
        with atomic_path(target) as temporary, temporary.open("w", encoding=ENCODING, newline="") as handle, progress:
            writer = RowWriter(handle, target.suffix.lower(), [*table.header, *added])
            for chunk in itertools.chain([first_chunk], chunks):
                _check_texts(chunk, source, text_column, rows)
                writer.write(_annotated(annotator, chunk, text_column, batch_size))
                rows += len(chunk)
                progress.update(len(chunk))
    except OSError as error:
        raise UserError(f"{target}: cannot write it ({error.strerror or error})") from error
    return Predicted(rows, time.perf_counter() - start)


def _check_suffix(path: Path, allowed: tuple[str, ...], role: str) -> None:
    if path.suffix.lower() not in allowed:
        raise UserError(
            f"{path}: unknown {role} format {path.suffix or '(no extension)'!r}; expected one of {', '.join(allowed)}"
        )


def _check_output(source: Path, target: Path, force: bool, kind: OutputKind) -> None:
    """Refuse an output path that holds anything but a file the command could have written, and without `force`
    any existing file."""
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise OutputExists(
            f"{target}: exists and is not a file (a directory or a link); {kind.command} writes a file and never "
            "replaces anything else: choose another output path"
        )
    if not target.exists():
        blocking = next((parent for parent in target.parents if parent.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise UserError(f"{target}: cannot write it: {blocking} is not a directory")
        return
    if target.samefile(source):
        raise OutputExists(f"{target}: is the input file; choose another output path")
    if not force:
        raise OutputExists(f"{target}: exists; pass --force to replace it")
    if not looks_like_output(target, kind.columns, kind.prefixes):
        raise OutputExists(
            f"{target}: exists and is not a file {kind.command} wrote (its first row has no {kind.described}); "
            "--force replaces only an earlier output: move it away or choose another output path"
        )


def _check_texts(chunk: list[Row], source: Path, text_column: str, offset: int) -> None:
    """Every row of `chunk` holds a non-empty text in `text_column` (rows are numbered from 1 after the header)."""
    for number, row in enumerate(chunk, start=offset + 1):
        value = row.get(text_column)
        if not isinstance(value, str) or not value:
            raise DataError(source, number, f"column {text_column!r} holds no text (empty or not a string)", "row")


def _annotated(annotator: Annotator, chunk: list[Row], text_column: str, batch_size: int) -> list[Row]:
    """Each row of `chunk` followed by the annotator's columns."""
    added = annotator.annotate([row[text_column] for row in chunk], batch_size)
    return [{**row, **{column: values[index] for column, values in added.items()}} for index, row in enumerate(chunk)]
