"""The `export` stage: one shipping variant of a student, written atomically as a directory that runs alone.

The variant's record (`scalingdown-export.json`) names the student it came from and the sha256 of its weights;
Snakemake re-exports when the student's model directory changes (it is the rule's input).
"""

from __future__ import annotations

import logging

from scalingdown.evaluation.exporters import STAGE, export_onnx, export_onnx_int8, export_torch_int8
from scalingdown.pipeline.outputs.atomic import check_replaceable
from scalingdown.pipeline.specs.definitions import ExportSpec

log = logging.getLogger(__name__)

EXPORTERS = {"onnx-fp32": export_onnx, "onnx-int8": export_onnx_int8, "torch-int8": export_torch_int8}


def export(spec: ExportSpec, model: str, out: str) -> None:
    """Write `spec.variant` of the student in `model` (for onnx-int8: its onnx-fp32 export) to `out`; an existing
    `out` is replaced only when it is an export."""
    check_replaceable(out, STAGE)
    record = EXPORTERS[spec.variant](model, out)
    log.info(
        "%s %s: %s, %.1f MiB, from %s",
        spec.task,
        spec.student,
        spec.variant,
        record["size_mb"],
        record["student"]["path"],
    )
