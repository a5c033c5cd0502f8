"""Content fingerprints of the files a prepared dataset was read from, so that a changed file reruns `prepare` even
when its modification time was kept.

Snakemake reruns a job when an input is newer than its output. A data file rewritten with its old time kept (`cp -p`,
`tar x`, `rsync -t` leave it so) would then rerun nothing, and every model would go on using the old data. So
`prepare` records in its manifest each input file's size and sha256 (with the `stat` fields that change whenever the
file is written: size, inode, change time); before any job, the Snakefile compares them (`changed_inputs`): a file
whose `stat` fields are as recorded is unchanged (a write always moves its change time, which no user tool sets
back), any other is hashed again. When a file's content differs, `mark_older` dates the prepared directory (its
Snakemake timestamp) before that file, so Snakemake reruns `prepare` and everything after it, as for any newer
input. Prepared data without the record (written before it existed) is judged by modification times alone.
Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The manifest key under which `prepare` records its input files.
MANIFEST_KEY = "inputs"
# The file Snakemake keeps inside a directory output; its modification time is the directory's.
SNAKEMAKE_TIMESTAMP = ".snakemake_timestamp"
_STAT_FIELDS = ("size", "inode", "ctime_ns", "mtime_ns")


def _stat_fields(path: Path) -> dict[str, int]:
    found = path.stat()
    return {"size": found.st_size, "inode": found.st_ino, "ctime_ns": found.st_ctime_ns, "mtime_ns": found.st_mtime_ns}


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fingerprints(files: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The record `prepare` keeps of its input files (those that are regular files): `stat` fields and sha256."""
    record: dict[str, dict[str, Any]] = {}
    for name in files:
        path = Path(name)
        if path.is_file():
            record[name] = {**_stat_fields(path), "sha256": _sha256(path)}
    return record


def changed_inputs(manifest: Path, files: Iterable[str]) -> list[str]:
    """The files whose content differs from what the manifest of a prepared directory records (a file it does not
    record, or one now missing, is left to Snakemake); empty without a manifest or a record."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8")).get(MANIFEST_KEY)
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(recorded, dict):
        return []
    changed = []
    for name in files:
        path, before = Path(name), recorded.get(name)
        if not isinstance(before, dict) or not path.is_file():
            continue
        now = _stat_fields(path)
        if all(now[field] == before.get(field) for field in _STAT_FIELDS):
            continue
        if now["size"] != before.get("size") or _sha256(path) != before.get("sha256"):
            changed.append(name)
    return changed


def mark_older(directory: Path, files: Iterable[str]) -> None:
    """Date a directory output (its Snakemake timestamp, and the directory) a second before the oldest of `files`,
    so that Snakemake sees those inputs as newer and reruns the job that wrote it."""
    oldest = min(Path(name).stat().st_mtime_ns for name in files) - 1_000_000_000
    for path in (directory / SNAKEMAKE_TIMESTAMP, directory):
        if path.exists():
            os.utime(path, ns=(oldest, oldest))
