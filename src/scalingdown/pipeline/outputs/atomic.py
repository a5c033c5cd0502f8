"""Atomic writes: build every output beside its final path, then rename it into place.

A job killed mid-write leaves at most a hidden temporary beside the output, never a half-written file or
directory under the output's own name; the next write of the same output removes such leftovers first
(one writer per output at a time: Snakemake's lock on the working directory ensures it).

A stage's output replaces only what that stage wrote before. A directory output carries a marker file
(`OUTPUT_MARKER`, naming the stage); a file output is recognised by its content (the logit cache by its
fingerprint, a JSON record by its `written_by` field, a training history by its shape). Anything else at
the output's path (a user's directory, another stage's output) is refused with `ForeignOutput` and left
as it is.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scalingdown.pipeline.errors import UserError

OUTPUT_MARKER = ".scalingdown-output"
# The field of a JSON record (an object) that names the stage that wrote it.
WRITTEN_BY = "written_by"

Recognise = Callable[[Path], bool]


class ForeignOutput(UserError, FileExistsError):
    """An output path already holds something the stage did not write; it is left untouched."""


def _temporary_sibling(final: Path, kind: str = "tmp") -> Path:
    return final.with_name(f".{final.name}.{kind}-{os.getpid()}")


def _leftovers(final: Path) -> list[Path]:
    """Temporaries of `final` left by writers that were killed (any process)."""
    pattern = glob.escape(str(final.parent / f".{final.name}"))
    return [Path(path) for kind in ("tmp", "old") for path in glob.glob(f"{pattern}.{kind}-*")]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def output_stage(directory: str | Path) -> str | None:
    """The stage named by a directory's output marker; None without a (readable) marker."""
    try:
        marker = json.loads((Path(directory) / OUTPUT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    stage = marker.get("stage") if isinstance(marker, dict) else None
    return stage if isinstance(stage, str) else None


def check_replaceable(final: str | Path, stage: str, recognise: Recognise | None = None) -> None:
    """Refuse (`ForeignOutput`) to replace `final` unless it is absent, an empty directory, a directory
    marked as `stage`'s output, or a file that `recognise` accepts as `stage`'s output."""
    final = Path(final)
    if not final.exists() and not final.is_symlink():
        return
    if final.is_dir() and not final.is_symlink():
        owner = output_stage(final)
        if owner == stage or not any(final.iterdir()):
            return
        found = f"the output of the {owner} stage" if owner else f"a directory without the {OUTPUT_MARKER} marker"
    elif final.is_file() and not final.is_symlink() and recognise is not None and recognise(final):
        return
    else:
        found = "a symbolic link" if final.is_symlink() else "a file that is not its output"
    raise ForeignOutput(
        f"{final}: already exists and is {found}; the {stage} stage replaces only what it wrote itself "
        "(move it away or choose another output path)"
    )


@contextmanager
def atomic_path(final: str | Path, stage: str | None = None, recognise: Recognise | None = None) -> Iterator[Path]:
    """Yield a temporary path to write a file or directory to; rename it to `final` on success.

    On an exception the temporary is removed and `final` is left as it was. With `stage`, `final` is that
    stage's output: an existing one is replaced only when `check_replaceable` allows it, and a directory
    gets the stage's marker.
    """
    final = Path(final)
    if stage is not None:
        check_replaceable(final, stage, recognise)
    final.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _leftovers(final):
        _remove(leftover)
    temporary = _temporary_sibling(final)
    try:
        yield temporary
        if stage is not None and temporary.is_dir():
            _write_marker(temporary, stage)
        _replace(temporary, final)
    except BaseException:
        _remove(temporary)
        raise


def _replace(temporary: Path, final: Path) -> None:
    """Move `temporary` to `final`; an old directory is first renamed aside, so that `final` is never half-deleted."""
    if final.is_dir() and not final.is_symlink():
        old = _temporary_sibling(final, "old")
        os.replace(final, old)
        os.replace(temporary, final)
        shutil.rmtree(old)
    else:
        os.replace(temporary, final)


def _write_marker(directory: Path, stage: str) -> None:
    (directory / OUTPUT_MARKER).write_text(json.dumps({"stage": stage}) + "\n", encoding="utf-8")


def claim_directory(directory: str | Path, stage: str) -> Path:
    """Make `directory` the output folder of `stage` that it writes files into one by one (`report`);
    refused like `atomic_path` when it holds something else."""
    directory = Path(directory)
    check_replaceable(directory, stage)
    directory.mkdir(parents=True, exist_ok=True)
    _write_marker(directory, stage)
    return directory


def write_text(path: str | Path, text: str, stage: str | None = None, recognise: Recognise | None = None) -> None:
    """Write `text` to `path` atomically (UTF-8); `stage` and `recognise` as for `atomic_path`."""
    with atomic_path(path, stage, recognise) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: str | Path, value: Any, stage: str | None = None, recognise: Recognise | None = None) -> None:
    """Write `value` as indented JSON to `path` atomically; `stage` and `recognise` as for `atomic_path`."""
    write_text(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n", stage, recognise)


def read_json_or_none(path: Path) -> Any:
    """The JSON document in `path`, or None when it is unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def record_of(stage: str) -> Recognise:
    """Recognises a JSON record that `stage` wrote (an object with `written_by: <stage>`)."""

    def recognise(existing: Path) -> bool:
        found = read_json_or_none(existing)
        return isinstance(found, dict) and found.get(WRITTEN_BY) == stage

    return recognise


def write_record(path: str | Path, record: dict[str, Any], stage: str) -> dict[str, Any]:
    """Write a stage's JSON record (an object) with `written_by: <stage>`; an existing file is replaced only
    when it is a record of the same stage. Returns the record as written."""
    written = {**record, WRITTEN_BY: stage}
    write_json(path, written, stage, record_of(stage))
    return written
