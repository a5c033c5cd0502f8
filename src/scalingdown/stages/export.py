"""The `export` stage: one shipping variant of a student, written atomically as a directory that runs alone.

The variant's record (`scalingdown-export.json`) names the student it came from and the sha256 of its weights;
Snakemake re-exports when the student's model directory changes (it is the rule's input).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from scalingdown.data.store import read_split
from scalingdown.evaluation.exporters import (
    STAGE,
    export_onnx,
    export_onnx_int8,
    export_onnx_int8_static,
    export_torch_int8,
)
from scalingdown.pipeline.outputs.atomic import check_replaceable
from scalingdown.pipeline.specs.definitions import CalibratedExportSpec, ExportSpec

log = logging.getLogger(__name__)

EXPORTERS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "onnx-fp32": export_onnx,
    "onnx-int8": export_onnx_int8,
    "torch-int8": export_torch_int8,
}


def export(spec: ExportSpec, model: str, out: str) -> None:
    """Write `spec.variant` of the student in `model` (for onnx-int8: its onnx-fp32 export) to `out`; an existing
    `out` is replaced only when it is an export."""
    check_replaceable(out, STAGE)
    _log(spec.task, spec.student, EXPORTERS[spec.variant](model, out))


def export_calibrated(spec: CalibratedExportSpec, model: str, data: str, out: str) -> None:
    """Write the static int8 export of the onnx-fp32 export in `model` to `out`, calibrated on
    `spec.calibration_texts` texts of the training split of `data` (a sample drawn with `spec.seed`)."""
    check_replaceable(out, STAGE)
    texts = calibration_texts(data, spec.calibration_texts, spec.seed)
    record = export_onnx_int8_static(model, out, texts, spec.max_length)
    log.info("calibrated on %d training texts", len(texts))
    _log(spec.task, spec.student, record)


def calibration_texts(data: str, count: int, seed: int) -> list[str]:
    """`count` texts of the training split (labelled and transfer rows alike; all of them when it has fewer),
    drawn with `seed`, in the split's order."""
    texts: list[str] = read_split(data, "train")["text"].tolist()
    if len(texts) <= count:
        return texts
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=count, replace=False))
    return [texts[index] for index in chosen]


def _log(task: str, student: str, record: dict[str, Any]) -> None:
    """One log line naming the export written."""
    log.info(
        "%s %s: %s, %.1f MiB, from %s",
        task,
        student,
        record["variant"],
        record["size_mb"],
        record["student"]["path"],
    )
