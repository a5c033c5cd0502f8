"""Provenance of shared artefacts: which experiment built a cache entry, when and where.

Shared stages (prepare, finetune_teacher, teacher_logits, init_student) write a small record
with their output, so that a report can say which cached artefacts its experiment built and
which it reused from another experiment. A directory output holds it as `provenance.json`
inside the directory; the logit cache (one Parquet file) holds it in its metadata. The record
is never part of a fingerprint: it says who built an artefact, not what the artefact is.
"""

from __future__ import annotations

import datetime
import json
import socket
from importlib import metadata
from pathlib import Path
from typing import Any

PROVENANCE_FILE = "provenance.json"


def provenance_record(stage: str, experiment: str | None) -> dict[str, Any]:
    """Who is building an artefact now: stage, experiment, UTC time, host and package version."""
    try:
        version = metadata.version("scalingdown")
    except metadata.PackageNotFoundError:
        version = None
    return {
        "stage": stage,
        "experiment": experiment,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "scalingdown": version,
    }


def write_provenance(directory: str | Path, record: dict[str, Any]) -> None:
    """Write `record` into a directory that is being built (call it on the staging directory)."""
    path = Path(directory) / PROVENANCE_FILE
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
