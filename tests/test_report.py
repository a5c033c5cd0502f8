"""The report: table and retention maths on hand-made metrics, the Pareto front, the two renderings,
the reproducibility block's fields."""

from __future__ import annotations

import base64
import json
import math
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from scalingdown.kd.logit_store import write_logits
from scalingdown.pipeline.canonical import short_hash
from scalingdown.pipeline.provenance import provenance_record, write_provenance
from scalingdown.report import plots, tables
from scalingdown.report.compose import report_blocks
from scalingdown.report.document import Figure, Paragraph, Table, to_html, to_markdown
from scalingdown.report.reproducibility import artefact_provenance, git_state, reproducibility, seeds
from scalingdown.report.tables import display_table, metric_names, metrics_table, pareto_front

SPEED = {
    "device": "cpu",
    "device_name": "Test CPU",
    "threads": 2,
    "batch_size": 16,
    "latency_warmup": 5,
    "latency_runs": 30,
    "latency_ms_p90": 1.0,
    "throughput_per_s": 100.0,
    "peak_rss_mb": 500.0,
}


def _record(task: str, kind: str, name: str, metrics: dict, latency: float, params: int = 1000) -> dict:
    return {
        "task": task,
        "kind": kind,
        "name": name,
        "role": kind if kind == "teacher" else f"student ({name})",
        "labels": ["a", "b"],
        "metrics": metrics,
        "speed": {**SPEED, "latency_ms_per_sample": latency},
        "params": params,
        "size_mb": params / 1e3,
    }


def _records() -> list[dict]:
    """Task `cls`: two teachers (the better one is slower) and two students; task `qa`: another task
    type with another metric; task `alone`: no teacher."""
    matrix = {"confusion_matrix": [[3, 1], [0, 4]]}
    return [
        _record("cls", "teacher", "fast_teacher", {"accuracy": 0.80, "f1_macro": 0.7, **matrix}, latency=10.0),
        _record("cls", "teacher", "best_teacher", {"accuracy": 0.90, "f1_macro": 0.8, **matrix}, latency=20.0),
        _record("cls", "student", "small", {"accuracy": 0.72, "f1_macro": 0.6, **matrix}, latency=5.0),
        _record("cls", "student", "tiny", {"accuracy": 0.45, "f1_macro": 0.3, **matrix}, latency=2.0),
        _record("qa", "teacher", "reader", {"exact_match": 0.50, "f1": 0.6}, latency=40.0),
        _record("qa", "student", "mini", {"exact_match": 0.40, "f1": 0.5}, latency=8.0),
        _record("alone", "student", "solo", {"accuracy": 0.6, "f1_macro": 0.5, **matrix}, latency=3.0),
    ]


@pytest.fixture
def qa_task_type(monkeypatch):
    """A second task type, registered the way a new task type registers its primary metric."""
    monkeypatch.setitem(tables.PRIMARY_METRIC, "qa", "exact_match")


TASK_TYPES = {"cls": "classification", "qa": "qa", "alone": "classification"}


def test_retention_and_speedup_are_against_the_best_teacher_of_each_task(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES).set_index("model")
    # cls: the best teacher scores 0.90 at 20 ms (not the faster 0.80 one)
    assert table.loc["best_teacher", "retention_pct"] == pytest.approx(100.0)
    assert table.loc["fast_teacher", "retention_pct"] == pytest.approx(100 * 0.80 / 0.90)
    assert table.loc["small", "retention_pct"] == pytest.approx(80.0)
    assert table.loc["small", "speedup"] == pytest.approx(4.0)
    assert table.loc["fast_teacher", "speedup"] == pytest.approx(2.0)
    assert table.loc["tiny", "speedup"] == pytest.approx(10.0)
    # qa ranks by its own primary metric
    assert table.loc["mini", "primary_metric"] == "exact_match"
    assert table.loc["mini", "retention_pct"] == pytest.approx(80.0)
    assert table.loc["mini", "speedup"] == pytest.approx(5.0)
    # no teacher, no reference
    assert math.isnan(table.loc["solo", "retention_pct"]) and math.isnan(table.loc["solo", "speedup"])
    assert "confusion_matrix" not in table.columns
    assert metric_names(_records()) == ["accuracy", "f1_macro", "exact_match", "f1"]


def test_an_unknown_task_type_names_the_table_to_extend():
    with pytest.raises(KeyError, match="PRIMARY_METRIC"):
        metrics_table("exp", _records()[4:], {"qa": "qa"})


def test_pareto_front_keeps_exactly_the_undominated_models():
    scores = [0.90, 0.80, 0.72, 0.45, 0.72, 0.70, float("nan")]
    latencies = [20.0, 10.0, 5.0, 2.0, 6.0, 5.0, 1.0]
    # 0.72@6 is beaten by 0.72@5; 0.70@5 by 0.72@5; NaN is never on the front
    assert pareto_front(scores, latencies) == [True, True, True, True, False, False, False]
    assert pareto_front([0.5, 0.5], [3.0, 3.0]) == [True, True]  # ties dominate neither


def test_the_pareto_flag_is_per_task(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES)
    front = set(table.loc[table["pareto_optimal"], "model"])
    assert front == {"best_teacher", "fast_teacher", "small", "tiny", "reader", "mini", "solo"}


def test_display_table_has_the_study_shape_and_drops_empty_columns(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES)
    metrics = metric_names(_records())
    cls = display_table(table[table["task"] == "cls"], metrics)
    assert list(cls.columns) == [
        "Role",
        "Model",
        "Accuracy",
        "Macro-F1",
        "Latency (ms/sample)",
        "Throughput (/s)",
        "Parameters",
        "Size on disk (MiB)",
        "Peak RSS (MiB)",
        "Timed on",
        "Retention (%)",
        "Speed-up (×)",
    ]
    small = cls[cls["Model"] == "small"].iloc[0]
    assert small["Accuracy"] == "0.7200" and small["Retention (%)"] == "80.0" and small["Speed-up (×)"] == "4.00"
    assert small["Timed on"] == "cpu, 2 thread(s)" and small["Parameters"] == "1,000"
    qa = display_table(table[table["task"] == "qa"], metrics)
    assert list(qa.columns)[2:4] == ["Exact match", "Token F1"]  # primary first; no classification columns
    alone = display_table(table[table["task"] == "alone"], metrics)
    assert "Retention (%)" not in alone.columns and "Speed-up (×)" not in alone.columns


def _png(path: Path) -> Path:
    plots.score_latency(
        pd.DataFrame(
            {
                "task": ["t"],
                "primary_metric": ["accuracy"],
                "accuracy": [0.5],
                "kind": ["teacher"],
                "model": ["m"],
                "latency_ms_per_sample": [1.0],
                "pareto_optimal": [True],
            }
        ),
        path,
    )
    return path


def test_markdown_and_html_render_the_same_table_and_the_html_is_self_contained(tmp_path: Path):
    frame = pd.DataFrame({"Model": ["a|b", "<c>"], "Score": ["0.5000", "0.2500"]})
    blocks = [Paragraph("Uses `code`."), Table(frame), Figure(_png(tmp_path / "plot.png").name, "A plot.")]
    markdown = to_markdown(blocks)
    page = to_html(blocks, "title", tmp_path)
    assert "| Model | Score |" in markdown and "| a\\|b | 0.5000 |" in markdown and "![A plot.](plot.png)" in markdown
    assert "<td>a|b</td>" in page and "<td>&lt;c&gt;</td>" in page and "<code>code</code>" in page
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(uri) for uri in uris] == [(tmp_path / "plot.png").read_bytes()]
    assert not re.search(r'(src|href)="(?!data:)', page) and "<link" not in page and "<script" not in page


def _git(directory: Path, *args: str) -> str:
    command = ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def test_git_state_reports_commit_and_dirty_flag_and_survives_a_plain_directory(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "Snakefile").write_text("rule all:\n")
    _git(repo, "add", "Snakefile")
    _git(repo, "commit", "-q", "-m", "first")
    assert git_state(repo) == {"commit": _git(repo, "rev-parse", "HEAD"), "dirty": False, "note": None}
    (repo / "Snakefile").write_text("rule all:\n    input: []\n")
    assert git_state(repo)["dirty"] is True
    (tmp_path / "plain").mkdir()
    plain = git_state(tmp_path / "plain")
    assert plain["commit"] is None and plain["dirty"] is None and "not a git checkout" in plain["note"]


def test_artefact_provenance_tells_built_from_reused(tmp_path: Path):
    data = tmp_path / "results" / "cache" / "data" / "t-1"
    data.mkdir(parents=True)
    write_provenance(data, provenance_record("prepare", "other-exp"))
    init = tmp_path / "results" / "cache" / "student-init" / "t-2"
    init.mkdir(parents=True)
    write_provenance(init, provenance_record("init_student", "exp"))
    old = tmp_path / "results" / "cache" / "teachers" / "t.big-3" / "model"
    old.mkdir(parents=True)
    logits = tmp_path / "results" / "cache" / "logits" / "t.big-3-f1.parquet"
    rows = pd.DataFrame({"split": ["train"], "row_id": ["r0"], "logits": [[0.1, 0.2]]})
    write_logits(logits, rows, {"teacher_key": "t.big-3"}, provenance_record("teacher_logits", "exp"))

    found = {row["artefact"]: row for row in artefact_provenance([str(data), str(init), str(old), str(logits)], "exp")}
    assert found["prepared data"]["status"] == "reused from experiment other-exp"
    assert found["prepared data"]["stage"] == "prepare" and found["prepared data"]["host"]
    assert found["student initialisation"]["status"] == "built by this experiment"
    assert found["teacher logits"]["status"] == "built by this experiment"
    assert found["teacher logits"]["created"].endswith("+00:00")
    assert found["fine-tuned teacher"]["status"].startswith("no provenance record")


def test_reproducibility_block_has_every_field(tmp_path: Path):
    config = {
        "experiment": "exp",
        "seed": 7,
        "tasks": {"t": {"data": {"options": {"seed": 3}}, "students": {"s": {"training": {"seed": 11}}}}},
    }
    repro = reproducibility(config, _records()[:2], [], tmp_path)
    assert repro["config_hash"] == short_hash(config) and repro["config"] == config
    assert set(repro["packages"]) >= {"python", "torch", "transformers", "datasets", "peft", "snakemake", "scalingdown"}
    assert (
        repro["seeds"]
        == seeds(config)
        == {"seed": 7, "tasks.t.data.options.seed": 3, "tasks.t.students.s.training.seed": 11}
    )
    assert repro["timing"] == [
        {
            "device": "cpu",
            "device_name": "Test CPU",
            "threads": 2,
            "batch_size": 16,
            "latency_warmup": 5,
            "latency_runs": 30,
        }
    ]
    assert repro["git"]["commit"] is None
    json.dumps(repro)  # written as reproducibility.json

    markdown = to_markdown(report_blocks("exp", metrics_table("exp", _records()[:4], TASK_TYPES), ["accuracy"], repro))
    for text in (
        f"Config hash | {short_hash(config)}",
        "torch ",
        "tasks.t.data.options.seed = 3",
        "cpu (Test CPU), 2 thread(s)",
        "median of 30 runs",
        "```yaml\nexperiment: exp",
    ):
        assert text in markdown, text


def test_mixed_timing_setups_are_called_out():
    records = _records()[:2]
    records[1] = {**records[1], "speed": {**records[1]["speed"], "threads": 8}}
    repro = reproducibility({"experiment": "exp"}, records, [], None)
    markdown = to_markdown(report_blocks("exp", metrics_table("exp", records, TASK_TYPES), ["accuracy"], repro))
    assert "Warning: the models were not all timed the same way" in markdown


def test_every_logged_loss_term_and_validation_metric_gets_a_panel(tmp_path: Path):
    history = [
        {"step": 1, "loss": 1.0, "loss_ce": 0.8, "loss_kl": 0.3, "loss_hidden": 0.1},
        {"step": 2, "eval_accuracy": 0.5, "eval_exact_match": 0.2, "eval_loss": 0.9, "eval_runtime": 1.0},
    ]
    assert plots.training_curves({"m": [history]}, tmp_path / "t.png") == ["loss", "loss_ce", "loss_hidden", "loss_kl"]
    assert plots.validation_curves({"m": [history, history]}, tmp_path / "v.png") == [
        "eval_accuracy",
        "eval_exact_match",
        "eval_loss",
    ]
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
