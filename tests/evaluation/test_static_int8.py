"""The optimised ONNX graph, the static int8 export (calibrated, neighbour-independent) and agreement figures."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from scipy.special import softmax

from scalingdown.evaluation.exporters import (
    ONNX_FILE,
    RECORD_NAME,
    ExportError,
    export_onnx,
    export_onnx_int8_static,
)
from scalingdown.evaluation.metrics import agreement
from scalingdown.evaluation.runtime import load_runtime
from scalingdown.families.classification import family
from scalingdown.pipeline.specs.definitions import EvaluateSpec
from tests.evaluation.conftest import LABELS

CALIBRATION = [
    "Profits rose sharply in the quarter.",
    "Revenue was flat.",
    "The board cut its dividend after a weak year for the group",
    "Shares fell",
    "Orders grew by a third, helped by exports to Asia and a weaker currency",
] * 4
TEXTS = [
    "Operating profit rose to 13.1 million from 8.7 million a year earlier.",
    "x",
    "Guidance unchanged",
    "Net sales decreased, and the company warned that margins would stay under pressure for the rest of the year "
    "as raw material costs kept rising faster than prices.",
    "ok then",
    "Costs climbed",
]


@pytest.fixture(scope="module")
def exports(onnx_exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny student, its fused and unfused float graphs, and both int8 quantizations of the fused one."""
    root = tmp_path_factory.mktemp("static")
    export_onnx(onnx_exports["fp32"], root / "unfused", optimize=False)
    export_onnx_int8_static(onnx_exports["onnx-fp32"], root / "onnx-int8-static", CALIBRATION, max_length=64)
    return {**onnx_exports, "unfused": root / "unfused", "onnx-int8-static": root / "onnx-int8-static"}


def _ops(directory: Path) -> set[str]:
    return {node.op_type for node in onnx.load(directory / ONNX_FILE).graph.node}


def test_the_optimised_graph_is_fused_and_computes_what_the_unfused_one_does(exports):
    record = json.loads((exports["onnx-fp32"] / RECORD_NAME).read_text())
    fused = record["graph_optimization"]["fused"]
    assert fused and set(fused) <= _ops(exports["onnx-fp32"])
    assert "SkipLayerNormalization" in fused and "SkipLayerNormalization" not in _ops(exports["unfused"])
    assert "graph_optimization" not in json.loads((exports["unfused"] / RECORD_NAME).read_text())
    reference = load_runtime(exports["fp32"]).logits(TEXTS)
    for variant in ("onnx-fp32", "unfused"):
        np.testing.assert_allclose(load_runtime(exports[variant]).logits(TEXTS), reference, atol=1e-4)


def test_static_int8_is_qdq_calibrated_and_recorded(exports):
    record = json.loads((exports["onnx-int8-static"] / RECORD_NAME).read_text())
    assert record["variant"] == "onnx-int8-static" and record["labels"] == LABELS
    assert record["calibration"] == {"texts": len(CALIBRATION), "max_length": 64, "method": "MinMax"}
    assert {"QuantizeLinear", "DequantizeLinear"} <= _ops(exports["onnx-int8-static"])
    runtime = load_runtime(exports["onnx-int8-static"])
    assert runtime.variant == "onnx-int8-static" and runtime.label_names == LABELS
    logits = runtime.logits(TEXTS)
    assert np.abs(logits - load_runtime(exports["fp32"]).logits(TEXTS)).max() < 0.05


def test_a_static_int8_text_has_the_same_probabilities_whatever_its_batch_neighbours(exports):
    """Dynamic int8 scales each activation by its batch; static int8's scales are fixed, so a text's output is the
    same alone, beside short or long neighbours (padded to their length) and in any position of the batch."""
    runtime = load_runtime(exports["onnx-int8-static"])
    for index, text in enumerate(TEXTS):
        alone = runtime.call(runtime.encode([text]))[0]
        neighbours = [[*TEXTS[:index], text, *TEXTS[index + 1 :]], [text, TEXTS[3]], [*TEXTS[::-1], text, text]]
        for batch in neighbours:
            position = batch.index(text)
            together = runtime.call(runtime.encode(batch))[position]
            np.testing.assert_array_equal(softmax(together), softmax(alone), err_msg=f"{text!r} in {len(batch)}")


def test_static_int8_needs_calibration_texts_and_an_onnx_fp32_source(exports, tmp_path):
    with pytest.raises(ExportError, match="no calibration texts"):
        export_onnx_int8_static(exports["onnx-fp32"], tmp_path / "out", [], max_length=64)
    with pytest.raises(ExportError, match="expected an onnx-fp32 export"):
        export_onnx_int8_static(exports["onnx-int8"], tmp_path / "out", CALIBRATION, max_length=64)
    assert not (tmp_path / "out").exists()


def test_agreement_counts_equal_labels_and_the_largest_probability_gap():
    reference = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.1, 0.0]])
    other = reference.copy()
    other[3] = [1.2, 1.0, 0.0]  # the fourth row flips its label
    found = agreement(reference, other)
    assert found["labels_equal"] == 0.75 and found["rows"] == 4
    expected = np.abs(softmax(reference, axis=1) - softmax(other, axis=1)).max()
    assert found["max_prob_diff"] == pytest.approx(expected) and found["max_prob_diff"] > 0
    assert agreement(reference, reference)["max_prob_diff"] == 0.0
    with pytest.raises(ValueError, match="cannot be compared"):
        agreement(reference, reference[:2])


def test_an_exports_scores_state_its_agreement_with_its_student_or_that_the_student_is_gone(
    exports, tmp_path, monkeypatch, caplog
):
    test = pd.DataFrame({"text": TEXTS, "label": (LABELS * 2)[: len(TEXTS)]})
    monkeypatch.setattr(family, "read_split", lambda data, split: test)
    spec = EvaluateSpec("classification", "t", "student", "s", "tiny", "student", 64, LABELS, 4, variant="onnx-int8")
    student = shutil.copytree(exports["fp32"], tmp_path / "student")
    export = shutil.copytree(exports["onnx-int8"], tmp_path / "onnx-int8")
    record = json.loads((export / RECORD_NAME).read_text())
    (export / RECORD_NAME).write_text(json.dumps(record | {"student": record["student"] | {"path": str(student)}}))
    found = family.score(spec, "data", str(export)).fields["agreement"]
    assert found["rows"] == len(TEXTS) and found["student"] == str(student) and found["max_prob_diff"] > 0
    shutil.rmtree(student)
    with caplog.at_level(logging.WARNING):
        scores = family.score(spec, "data", str(export))
    assert "agreement" not in scores.fields and scores.fields["test_rows"] == len(TEXTS)
    assert f"its student {student} no longer exists" in caplog.text
