"""Teacher selection in a workflow run (tests/configs/tiny_select.yaml): two fine-tuning candidates, the better one
kept for the logit cache, the report's selection table, and a changed candidate rerunning only what depends on it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, snakemake
from tests.workflow.conftest import job_counts

CONFIG = REPO / "tests" / "configs" / "tiny_select.yaml"


@pytest.fixture(scope="module")
def select_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("tiny-select")
    shutil.copy(CONFIG, workdir / "select.yaml")
    snakemake(workdir, "--configfile", str(workdir / "select.yaml"), "--cores", "2")
    return workdir


def test_the_best_candidate_is_the_teacher_and_the_report_shows_every_candidate(select_run: Path):
    teachers = select_run / "results" / "cache" / "teachers"
    (selected,) = [path for path in teachers.iterdir() if path.name.endswith(".selected")]
    record = json.loads((selected / "selection.json").read_text())
    scores = [candidate["validation_score"] for candidate in record["candidates"]]
    assert [c["settings"] for c in record["candidates"]] == [{"learning_rate": 0.001}, {"learning_rate": 0.01}]
    winner = record["candidates"][scores.index(max(scores))]  # the first of equal scores
    assert record["selected"] == winner["key"]
    for name in ("model.safetensors", "config.json"):
        assert os.path.samefile(selected / "model" / name, teachers / winner["key"] / "model" / name)
    history = json.loads((selected / "history.json").read_text())
    assert history == json.loads((teachers / winner["key"] / "history.json").read_text())
    assert [path.name for path in (select_run / "results" / "cache" / "logits").iterdir()] == [
        f"{selected.name}-f3.parquet"
    ]

    report = (select_run / "results" / "tiny-select" / "report" / "report.md").read_text()
    assert "## Teacher selection: sentiment, teacher big" in report
    assert "| learning_rate | Validation accuracy | Kept |" in report
    assert f"| 0.001 | {scores[0]:.4f} | {'✓' if winner is record['candidates'][0] else ''} |" in report
    html = (select_run / "results" / "tiny-select" / "report" / "report.html").read_text()
    assert "Teacher selection: sentiment, teacher big" in html


def test_a_changed_candidate_reruns_that_candidate_and_what_uses_the_teacher_only(select_run: Path):
    assert "Nothing to be done" in snakemake(select_run, "--configfile", str(select_run / "select.yaml"), "-n").stdout
    config = yaml.safe_load(CONFIG.read_text())
    config["tasks"]["sentiment"]["teachers"]["big"]["finetune"]["learning_rate"] = [1.0e-3, 3.0e-3]
    (select_run / "changed.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(select_run, "--configfile", str(select_run / "changed.yaml"), "-n")
    assert job_counts(result.stdout) == {
        "finetune_teacher": 1,  # the new candidate; the unchanged one is reused
        "select_teacher": 1,
        "teacher_logits": 1,
        "evaluate": 2,  # the teacher, and the student distilled from it
        "check_distill_inputs": 1,
        "distill": 1,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }, result.stdout
