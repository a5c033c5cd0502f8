"""The workflow with a shape sweep and a ship budget (tests/configs/tiny-ship.yaml), started from the tiny run's
caches: each shape is a student, static int8 exports are calibrated, every student and export carries a model card,
the pick is written to shipped/ and `predict` takes it, training curves reach TensorBoard, and none of it reruns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from huggingface_hub import ModelCard

from tests.conftest import REPO, scalingdown, snakemake, with_tiny_caches
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow

CONFIG = REPO / "tests" / "configs" / "tiny-ship.yaml"
ROOT = Path("results") / "tiny-ship"


@pytest.fixture(scope="module")
def ship_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A working directory with the tiny run's caches in which the ship experiment ran, and the jobs it ran."""
    workdir = with_tiny_caches(tiny_run, tmp_path_factory.mktemp("ship-run"))
    shutil.copy(CONFIG, workdir / "ship.yaml")
    result = snakemake(workdir, "--configfile", str(workdir / "ship.yaml"), "--cores", "2")
    return workdir, job_counts(result.stdout + result.stderr)


def test_each_shape_is_a_student_and_static_int8_is_calibrated(ship_run):
    workdir, jobs = ship_run
    assert jobs["distill"] == 8 and jobs["export_calibrated"] == 4 and jobs["model_cards"] == 2 and jobs["ship"] == 1
    seed = workdir / ROOT / "sentiment" / "seed-8"
    assert sorted(path.name for path in (seed / "students").iterdir()) == [
        "distilled-layers0",
        "distilled-layers0_1",
        "gold_only-layers0",
        "gold_only-layers0_1",
    ]
    record = json.loads((seed / "eval" / "export.distilled-layers0.onnx-int8-static.json").read_text())
    assert record["agreement"]["rows"] == record["test_rows"] and 0 <= record["agreement"]["labels_equal"] <= 1
    export = json.loads(
        (
            seed / "students" / "distilled-layers0" / "export" / "onnx-int8-static" / "scalingdown-export.json"
        ).read_text()
    )
    assert export["calibration"]["texts"] > 0 and export["calibration"]["max_length"] == 32


def test_every_student_and_export_carries_a_model_card(ship_run):
    workdir, _ = ship_run
    seed = workdir / ROOT / "sentiment" / "seed-7"
    for directory in (
        seed / "students" / "distilled-layers0_1" / "model",
        seed / "students" / "distilled-layers0_1" / "export" / "onnx-int8-static",
        seed / "students" / "gold_only-layers0" / "model",
    ):
        card = ModelCard.load(directory / "README.md")
        assert card.data.pipeline_tag == "text-classification" and "scalingdown" in card.data.tags
        assert "## Against the teacher and the gold-only twin" in card.text and "best teacher `big`" in card.text
        assert "## Speed and size" in card.text
    written = json.loads((seed / "eval" / "cards.json").read_text())["cards"]
    assert len(written) == 6  # four students and two exports


def test_the_pick_is_shipped_and_predict_takes_it(ship_run, tmp_path):
    workdir, _ = ship_run
    shipped = workdir / ROOT / "sentiment" / "shipped"
    record = json.loads((shipped / "scalingdown-ship.json").read_text())
    assert record["shipped"]["seed"] in (7, 8) and record["budget"]["max_latency_ms"] == 1000.0
    assert json.loads((shipped / "tokenizer_config.json").read_text())["model_max_length"] == 32
    card = ModelCard.load(shipped / "README.md")
    assert "Picked under the budget latency ≤ 1000 ms" in card.text
    pd.DataFrame({"text": ["Profits rose", "Sales fell sharply"]}).to_csv(tmp_path / "in.csv", index=False)
    result = scalingdown(
        "predict", "--model", str(shipped), "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv")
    )
    assert result.returncode == 0, result.stderr
    assert "texts/s" in result.stderr.strip().splitlines()[-1]
    report = (workdir / ROOT / "report" / "report.md").read_text()
    assert f"Shipped under the budget (latency ≤ 1000 ms): `{record['shipped']['label']}`" in report
    assert "### Student shapes: sentiment" in report and "### Exports against their students: sentiment" in report
    assert (workdir / ROOT / "report" / "shape_front.png").is_file()


def test_training_curves_reach_tensorboard(ship_run):
    workdir, _ = ship_run
    runs = workdir / ROOT / "logs" / "tensorboard" / "sentiment" / "seed-8" / "students" / "distilled-layers0"
    assert list(runs.glob("events.out.tfevents.*"))


def test_nothing_reruns_and_a_tight_budget_ships_nothing_without_failing(ship_run):
    workdir, _ = ship_run
    assert "Nothing to be done" in snakemake(workdir, "--configfile", str(workdir / "ship.yaml"), "-n").stdout
    config = yaml.safe_load(CONFIG.read_text())
    config["tasks"]["sentiment"]["ship"] = {"max_latency_ms": 0.0001}
    (workdir / "tight.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", str(workdir / "tight.yaml"), "--cores", "2")
    assert job_counts(result.stdout + result.stderr) == {"ship": 1, "report": 1, "all": 1}
    shipped = workdir / ROOT / "sentiment" / "shipped"
    assert json.loads((shipped / "scalingdown-ship.json").read_text())["shipped"] is None
    assert "no model fits, so nothing was shipped" in (workdir / ROOT / "report" / "report.md").read_text()
    pd.DataFrame({"text": ["Profits rose"]}).to_csv(workdir / "in.csv", index=False)
    refused = scalingdown("predict", "--model", str(shipped), "--input", "in.csv", "--output", "out.csv", cwd=workdir)
    assert refused.returncode == 2 and "holds no model: Shipped under the budget" in refused.stderr
