"""Exports of a tiny student (ONNX fp32 / int8, torch int8), the runtime that runs any of them, and file prediction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from scalingdown.cli import main
from scalingdown.data.data_errors import DataError
from scalingdown.evaluation.exporters import (
    RECORD_NAME,
    ExportError,
    export_onnx,
    export_onnx_int8,
    export_torch_int8,
    load_torch_int8,
    quantize_linears,
    stale_reason,
    weights_sha256,
)
from scalingdown.evaluation.predict_file import OutputExists, predict_file
from scalingdown.evaluation.runtime import NotAClassifier, load_runtime
from scalingdown.models.loading import load_classifier, load_seq2seq, load_tokenizer
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.export_variants import export_refusal
from scalingdown.pipeline.names.families import CLASSIFICATION, FAMILIES, TEXT2TEXT
from scalingdown.pipeline.outputs.atomic import ForeignOutput
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.stages.benchmark import benchmark
from scalingdown.stages.export import export
from tests.evaluation.conftest import LABELS, save_student
from tests.pipeline.conftest import resolved_tiny_config

TEXTS = [
    "Profits rose sharply.",
    "x",
    "The company said quarterly revenue was flat compared with the same period a year earlier.",
    "Shares fell after the warning",
    "Guidance unchanged",
    "Margins improved, but costs climbed faster than analysts had expected in the third quarter",
    "ok",
]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny student and its three exports."""
    root = tmp_path_factory.mktemp("shipped")
    student = save_student(root / "student")
    export_onnx(student, root / "onnx-fp32")
    export_onnx_int8(root / "onnx-fp32", root / "onnx-int8")
    export_torch_int8(student, root / "torch-int8")
    return {"fp32": student, **{name: root / name for name in ("onnx-fp32", "onnx-int8", "torch-int8")}}


def test_onnx_fp32_matches_pytorch_on_any_batch_and_length(shipped):
    reference = load_runtime(shipped["fp32"])
    onnx = load_runtime(shipped["onnx-fp32"])
    assert onnx.variant == "onnx-fp32" and reference.variant == "fp32"
    assert onnx.label_names == reference.label_names == LABELS
    for batch_size in (1, 3, len(TEXTS)):
        np.testing.assert_allclose(onnx.logits(TEXTS, batch_size), reference.logits(TEXTS, batch_size), atol=1e-4)
    single = onnx.encode(["only one"])
    assert onnx.call(single).shape == (1, 3)
    options = load_runtime(shipped["onnx-fp32"], threads=2).session.get_session_options()
    assert options.intra_op_num_threads == options.inter_op_num_threads == 2


def test_int8_variants_load_predict_and_are_smaller(shipped):
    reference = load_runtime(shipped["fp32"])
    expected = reference.logits(TEXTS)
    for variant in ("onnx-int8", "torch-int8"):
        runtime = load_runtime(shipped[variant])
        assert runtime.variant == variant and runtime.label_names == LABELS
        logits = runtime.logits(TEXTS, batch_size=2)
        assert logits.shape == (len(TEXTS), 3) and np.isfinite(logits).all()
        assert np.abs(logits - expected).max() < 0.05, f"{variant} drifted from float32"
        assert runtime.size_mb < reference.size_mb
    assert load_runtime(shipped["onnx-int8"]).size_mb < 0.5 * load_runtime(shipped["onnx-fp32"]).size_mb


def test_torch_int8_loads_back_the_weights_quantizing_gives(shipped):
    student = load_classifier(str(shipped["fp32"])).eval()
    quantized = quantize_linears(student)
    loaded = load_torch_int8(shipped["torch-int8"])
    encoded = load_tokenizer(str(shipped["fp32"]))(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(loaded(**encoded).logits, quantized(**encoded).logits)
    assert not list(shipped["torch-int8"].glob("*.bin")) and not list(shipped["torch-int8"].glob("*.pt"))


def test_export_records_name_variant_and_student_and_detect_a_changed_student(shipped, tmp_path):
    for variant in ("onnx-fp32", "onnx-int8", "torch-int8"):
        record = json.loads((shipped[variant] / RECORD_NAME).read_text())
        assert record["variant"] == variant and record["labels"] == LABELS and record["task"] == "classification"
        assert record["student"] == {
            "path": str(shipped["fp32"].resolve()),
            "weights_sha256": weights_sha256(shipped["fp32"]),
        }
        assert (shipped[variant] / "config.json").is_file() and (shipped[variant] / "tokenizer.json").is_file()
        assert stale_reason(shipped[variant]) is None
    student = shutil.copytree(shipped["fp32"], tmp_path / "student")
    export_torch_int8(student, tmp_path / "int8")
    weights = next(student.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert "has changed" in stale_reason(tmp_path / "int8")
    shutil.rmtree(student)
    assert "no longer exists" in stale_reason(tmp_path / "int8")


def test_onnx_int8_quantizes_only_a_current_onnx_fp32_export(shipped, tmp_path):
    with pytest.raises(ExportError, match="expected an onnx-fp32 export"):
        export_onnx_int8(shipped["torch-int8"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_text_to_text_students_ship_as_torch_int8_and_onnx_refuses_them(tmp_path):
    student = tmp_path / "t5"
    model = load_seq2seq("tiny:t5-l1-h16", seed=2).eval()
    model.save_pretrained(student)
    load_tokenizer("tiny:t5-l1-h16").save_pretrained(student)
    with pytest.raises(ExportError, match=r"text-to-text.*torch-int8"):
        export_onnx(student, tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()
    record = export_torch_int8(student, tmp_path / "int8")
    assert record["task"] == "text-to-text" and record["labels"] is None
    ids = torch.tensor([[5, 6, 7, 102]])
    quantized = quantize_linears(model)
    with torch.no_grad():
        expected = quantized.generate(ids, max_new_tokens=4, do_sample=False)
        assert torch.equal(
            load_torch_int8(tmp_path / "int8").generate(ids, max_new_tokens=4, do_sample=False), expected
        )
    with pytest.raises(NotAClassifier, match="text-to-text export"):
        load_runtime(tmp_path / "int8")
    with pytest.raises(NotAClassifier, match=r"T5ForConditionalGeneration.*sequence classifier"):
        load_runtime(student)


def test_export_refusal_for_the_config_check():
    assert export_refusal("onnx-fp32", family=FAMILIES[CLASSIFICATION], model_type="bert") is None
    assert export_refusal("torch-int8", family=FAMILIES[TEXT2TEXT], model_type="t5") is None
    assert "optimum-onnx" in export_refusal("onnx-int8", family=FAMILIES[TEXT2TEXT], model_type="t5")
    assert "not 'gpt2'" in export_refusal("onnx-fp32", family=FAMILIES[CLASSIFICATION], model_type="gpt2")
    assert "unknown export variant 'tflite'" in export_refusal(
        "tflite", family=FAMILIES[CLASSIFICATION], model_type="bert"
    )


def test_a_directory_without_a_classifier_is_named(tmp_path):
    with pytest.raises(NotAClassifier, match=f"{tmp_path}: holds no classifier"):
        load_runtime(tmp_path)


def _write_input(path: Path, frame: pd.DataFrame) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)


def _read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str})
    return pd.read_json(path, lines=True, dtype={"id": str})


@pytest.mark.parametrize(
    ("model", "source", "target"),
    [("fp32", "in.csv", "out.jsonl"), ("onnx-int8", "in.jsonl", "out.csv"), ("torch-int8", "in.parquet", "out.jsonl")],
)
def test_predict_file_writes_labels_and_probabilities_in_chunks(shipped, tmp_path, model, source, target):
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(TEXTS))], "sentence": TEXTS})
    _write_input(tmp_path / source, frame)
    rows = predict_file(
        shipped[model], tmp_path / source, tmp_path / target, text_column="sentence", chunk_size=3, batch_size=2
    )
    assert rows == len(TEXTS)
    output = _read_output(tmp_path / target)
    probabilities = [f"prob_{label}" for label in LABELS]
    assert list(output.columns) == ["id", "sentence", "label", *probabilities]
    assert output["id"].tolist() == frame["id"].tolist() and output["sentence"].tolist() == TEXTS
    np.testing.assert_allclose(output[probabilities].sum(axis=1), 1.0, atol=1e-6)
    expected = load_runtime(shipped[model]).logits(TEXTS).argmax(axis=1)
    assert output["label"].tolist() == [LABELS[index] for index in expected]
    assert not list(tmp_path.glob(".*tmp*")), "no temporary left behind"


def test_an_existing_output_is_kept_unless_forced(shipped, tmp_path):
    pd.DataFrame({"text": TEXTS[:2]}).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "out.csv").write_text("text,label,prob_neutral\nkeep me,neutral,1.0\n")
    with pytest.raises(OutputExists, match=r"out\.csv: exists; pass --force"):
        predict_file(shipped["fp32"], tmp_path / "in.csv", tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().endswith("keep me,neutral,1.0\n")
    assert predict_file(shipped["fp32"], tmp_path / "in.csv", tmp_path / "out.csv", force=True) == 2
    assert "prob_positive" in (tmp_path / "out.csv").read_text() and "keep me" not in (tmp_path / "out.csv").read_text()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.csv", b"sentence,id\nhello,1\n", r"in.csv: no column 'text' \(columns found: sentence, id\)"),
        ("in.csv", b"", "in.csv: is empty"),
        ("in.csv", b"text\n", "in.csv: holds no rows"),
        ("in.jsonl", b"", "in.jsonl: holds no rows"),
        ("in.csv", b"text\nfine\n\xff\xfe bad\n", "in.csv: is not utf-8 text"),
        (
            "in.jsonl",
            b'{"text": "ok"}\nnot json\n',
            r"in.jsonl, line 2: invalid JSON \(Expecting value at column 1\); expected one JSON object per line",
        ),
        ("in.jsonl", b'{"text": "ok"}\n{"text": null}\n', "in.jsonl, row 2: column 'text' holds no text"),
        ("in.parquet", b"not parquet", "in.parquet: not a readable Parquet file"),
        ("in.csv", b"text,label\nhello,x\n", r"in.csv: already has the output column\(s\) \['label'\]"),
        ("in.txt", b"text\nhello\n", r"in.txt: unknown input format '.txt'; expected one of .csv, .jsonl, .parquet"),
    ],
    ids=[
        "missing-column",
        "empty",
        "header-only",
        "empty-jsonl",
        "not-utf8",
        "broken-jsonl",
        "null-text",
        "not-parquet",
        "output-column-clash",
        "unknown-extension",
    ],
)
def test_bad_input_files_are_named_with_what_was_expected(shipped, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError, match=message) as caught:
        predict_file(shipped["fp32"], tmp_path / name, tmp_path / "out.csv")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out.csv").exists()


def test_bad_output_format_and_model_directory_are_named(shipped, tmp_path):
    pd.DataFrame({"text": TEXTS[:2]}).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(UserError, match=r"out.parquet: unknown output format '.parquet'; expected one of .csv, .jsonl"):
        predict_file(shipped["fp32"], tmp_path / "in.csv", tmp_path / "out.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotAClassifier, match="empty: holds no classifier"):
        predict_file(tmp_path / "empty", tmp_path / "in.csv", tmp_path / "out.csv")
    with pytest.raises(DataError, match=r"missing\.csv: no such file"):
        predict_file(shipped["fp32"], tmp_path / "missing.csv", tmp_path / "out.csv")


def test_the_predict_command_labels_a_file_with_an_export(shipped, tmp_path, capsys):
    pd.DataFrame({"id": ["a", "b"], "sentence": TEXTS[:2]}).to_parquet(tmp_path / "in.parquet", index=False)
    arguments = ["--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.jsonl")]
    assert main(["predict", "--model", str(shipped["onnx-int8"]), *arguments, "--text-column", "sentence"]) == 0
    output = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert output.columns.tolist() == ["id", "sentence", "label", *(f"prob_{label}" for label in LABELS)]
    assert "out.jsonl: 2 rows predicted" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no-column", "in.csv: no column 'text' (columns found: sentence)"),
        ("output-exists", "out.csv: exists; pass --force to replace it"),
        ("no-classifier", "empty: holds no classifier; expected a Hugging Face model directory"),
    ],
    ids=["no-column", "output-exists", "no-classifier"],
)
def test_the_predict_command_names_a_bad_input_in_one_line_and_exits_2(shipped, tmp_path, capsys, change, message):
    pd.DataFrame({"sentence": TEXTS[:2]}).to_csv(tmp_path / "in.csv", index=False)
    model, column = shipped["fp32"], "sentence"
    if change == "no-column":
        column = "text"
    elif change == "output-exists":
        (tmp_path / "out.csv").write_text("keep\n")
    else:
        model = tmp_path / "empty"
        model.mkdir()
    arguments = ["--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv"), "--text-column", column]
    assert main(["predict", "--model", str(model), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error, "one line, the model never loaded"
    assert (tmp_path / "out.csv").exists() == (change == "output-exists")


def test_export_and_benchmark_replace_only_their_own_outputs(shipped, tmp_path):
    specs = StageSpecs(Plan(resolved_tiny_config()))
    users = tmp_path / "mine"
    users.mkdir()
    (users / "notes.txt").write_text("keep me")
    with pytest.raises(ForeignOutput, match=r"directory without the \.scalingdown-output marker"):
        export(specs.export("sentiment", "distilled", "torch-int8"), str(shipped["fp32"]), str(users))
    assert (users / "notes.txt").read_text() == "keep me"
    export(specs.export("sentiment", "distilled", "torch-int8"), str(shipped["fp32"]), str(tmp_path / "again"))
    export(specs.export("sentiment", "distilled", "torch-int8"), str(shipped["fp32"]), str(tmp_path / "again"))
    record = tmp_path / "settings.json"
    record.write_text('{"mine": true}')
    with pytest.raises(ForeignOutput, match="a file that is not its output"):
        benchmark(specs.benchmark("sentiment"), str(tmp_path), [], [], str(record))
    assert json.loads(record.read_text()) == {"mine": True}
