"""A tiny saved student classifier for the export, runtime, prediction and timing tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scalingdown.evaluation.exporters import export_onnx, export_onnx_int8
from scalingdown.models.loading import load_classifier, load_tokenizer

LABELS = ["negative", "neutral", "positive"]


def save_student(directory: Path) -> Path:
    """A tiny 3-label BERT classifier saved as a student is (weights, config with label names, tokenizer)."""
    model = load_classifier("tiny:bert-l2-h32", labels=LABELS, seed=1)
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.3, -0.2, 0.1]))  # a non-zero bias must survive the export
    model.save_pretrained(directory)
    load_tokenizer("tiny:bert-l2-h32").save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def onnx_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny student (`fp32`), its onnx-fp32 export (the fused graph) and that graph's dynamic int8, built once
    for the test modules that only read them."""
    root = tmp_path_factory.mktemp("onnx-exports")
    student = save_student(root / "student")
    export_onnx(student, root / "onnx-fp32")
    export_onnx_int8(root / "onnx-fp32", root / "onnx-int8")
    return {"fp32": student, "onnx-fp32": root / "onnx-fp32", "onnx-int8": root / "onnx-int8"}
