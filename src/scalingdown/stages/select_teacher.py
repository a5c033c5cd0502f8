"""The `select_teacher` stage: keep the fine-tuning candidate of a teacher whose saved model scored best on the
validation split (the score of the checkpoint its training kept), as the teacher every later stage uses
(`pipeline.config.candidates`)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import (
    OUTPUT_MARKER,
    atomic_path,
    check_replaceable,
    read_json_or_none,
    record_of,
    write_json,
    write_record,
)
from scalingdown.pipeline.outputs.provenance import PROVENANCE_FILE, provenance_record, write_provenance
from scalingdown.pipeline.specs.definitions import SelectTeacherSpec
from scalingdown.training.trainer import BEST_CHECKPOINT_FILE

log = logging.getLogger(__name__)

STAGE = "select_teacher"
# Snakemake's marker of a directory output: the selected directory gets its own, never a link to a candidate's.
SNAKEMAKE_TIMESTAMP = ".snakemake_timestamp"


class SelectionInputError(UserError):
    """The candidates given to `select_teacher` do not match its spec, or a history holds no validation score."""


def kept_score(model_dir: str, metric: str) -> float:
    """The validation `metric` of the weights a candidate's training kept, as its model directory records it
    (`BEST_CHECKPOINT_FILE`, written by the selection protocol)."""
    record = read_json_or_none(Path(model_dir) / BEST_CHECKPOINT_FILE)
    if not isinstance(record, dict) or record.get("metric") != metric or not isinstance(record.get("score"), float):
        raise SelectionInputError(
            f"{model_dir}: records no validation {metric} of its kept checkpoint ({BEST_CHECKPOINT_FILE}); "
            "rerun its finetune_teacher job"
        )
    return float(record["score"])


def best_candidate(scores: list[float], higher_is_better: bool) -> int:
    """The index of the best score; a tie goes to the earliest candidate."""
    sign = 1.0 if higher_is_better else -1.0
    return max(range(len(scores)), key=lambda index: (sign * scores[index], -index))


def _link_or_copy(source: str, destination: str) -> None:
    """Hard-link a file (no second copy of the weights on disk), or copy it where links are not possible."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _is_history(path: Path) -> bool:
    found = read_json_or_none(path)
    return isinstance(found, list) and all(isinstance(entry, dict) for entry in found)


def select_teacher(
    spec: SelectTeacherSpec,
    models: list[str],
    histories: list[str],
    out: str,
    history: str,
    selection: str,
    experiment: str | None = None,
) -> None:
    """Write the best candidate's model (hard links) to `out`, its history to `history`, and every candidate's
    settings and validation score to `selection`."""
    if not len(models) == len(histories) == len(spec.candidates):
        raise SelectionInputError(
            f"{len(spec.candidates)} candidates in the spec, but {len(models)} models and {len(histories)} histories"
        )
    check_replaceable(out, STAGE)
    check_replaceable(history, STAGE, _is_history)
    check_replaceable(selection, STAGE, record_of(STAGE))
    logs = [json.loads(Path(path).read_text(encoding="utf-8")) for path in histories]
    scores = [kept_score(model, spec.metric) for model in models]
    chosen = best_candidate(scores, spec.higher_is_better)
    for candidate, score in zip(spec.candidates, scores, strict=True):
        log.info("candidate %s (%s): validation %s %.4f", candidate.key, candidate.settings, spec.metric, score)
    log.info("selected %s", spec.candidates[chosen].key)
    with atomic_path(out, STAGE) as staging:
        ignored = shutil.ignore_patterns(OUTPUT_MARKER, PROVENANCE_FILE, SNAKEMAKE_TIMESTAMP)
        shutil.copytree(models[chosen], staging, copy_function=_link_or_copy, ignore=ignored)
        write_provenance(staging, provenance_record(STAGE, experiment))
    write_json(history, logs[chosen], STAGE, _is_history)
    record = {
        "task": spec.task,
        "teacher": spec.teacher,
        "metric": spec.metric,
        "higher_is_better": spec.higher_is_better,
        "candidates": [
            {"key": candidate.key, "settings": candidate.settings, "validation_score": score}
            for candidate, score in zip(spec.candidates, scores, strict=True)
        ],
        "selected": spec.candidates[chosen].key,
    }
    write_record(selection, record, STAGE)
