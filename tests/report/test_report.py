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
from scalingdown.pipeline.outputs.provenance import provenance_record, write_provenance
from scalingdown.report import plots, tables
from scalingdown.report.compose import report_blocks
from scalingdown.report.document import Figure, Paragraph, Table, to_html, to_markdown
from scalingdown.report.reproducibility import artefact_provenance, git_state, reproducibility, seeds
from scalingdown.report.tables import metric_names, metrics_table, pareto_front, quality_table, speed_table


def _record(
    task: str, kind: str, name: str, metrics: dict, params: int = 1000, variant: str = "fp32", size: float = 1.0
) -> dict:
    return {
        "task": task,
        "kind": kind,
        "name": name,
        "variant": variant,
        "role": kind if kind == "teacher" else f"student ({name})",
        "labels": ["a", "b"],
        "metrics": metrics,
        "params": params,
        "size_mb": size,
    }


# Per task: each model's latency at batch 1 (ms); the benchmark's speed-ups are the reference's over it.
LATENCIES = {
    "cls": {
        "teacher.fast_teacher": 10.0,
        "teacher.best_teacher": 20.0,
        "student.small": 5.0,
        "export.small.onnx-int8": 2.5,
        "student.tiny": 2.0,
    },
    "qa": {"teacher.reader": 40.0, "student.mini": 8.0},
    "alone": {"student.solo": 3.0},
}
REFERENCES = {"cls": "teacher.best_teacher", "qa": "teacher.reader", "alone": "student.solo"}


def _records() -> list[dict]:
    """Task `cls`: two teachers (the better one is slower), two students and an export of one; task `qa`:
    another task type with another metric; task `alone`: no teacher."""
    matrix = {"confusion_matrix": [[3, 1], [0, 4]]}
    return [
        _record("cls", "teacher", "fast_teacher", {"accuracy": 0.80, "f1_macro": 0.7, **matrix}),
        _record("cls", "teacher", "best_teacher", {"accuracy": 0.90, "f1_macro": 0.8, **matrix}),
        _record("cls", "student", "small", {"accuracy": 0.72, "f1_macro": 0.6, **matrix}),
        _record(
            "cls", "student", "small", {"accuracy": 0.71, "f1_macro": 0.6, **matrix}, variant="onnx-int8", size=0.3
        ),
        _record("cls", "student", "tiny", {"accuracy": 0.45, "f1_macro": 0.3, **matrix}),
        _record("qa", "teacher", "reader", {"exact_match": 0.50, "f1": 0.6}),
        _record("qa", "student", "mini", {"exact_match": 0.40, "f1": 0.5}),
        _record("alone", "student", "solo", {"accuracy": 0.6, "f1_macro": 0.5, **matrix}),
    ]


def _spread(median: float) -> dict:
    return {"median": median, "q1": 0.9 * median, "q3": 1.1 * median, "iqr": 0.2 * median, "iqr_over_median": 0.2}


def _benchmark(task: str, noisy: bool = False, threads: int = 1) -> dict:
    """A benchmark record as the `benchmark` stage writes it (see evaluation.timing), with round numbers."""
    latencies, reference = LATENCIES[task], REFERENCES[task]
    models = {}
    for model_id, latency in latencies.items():
        ratio = latencies[reference] / latency
        speedup = {"median": ratio, "low": 0.9 * ratio, "high": 1.1 * ratio, "rounds": 6}
        kind, name, *variant = model_id.split(".")
        models[model_id] = {
            "kind": kind,
            "name": name,
            "variant": variant[0] if variant else "fp32",
            # the CPU clock reads 10 % higher than the wall clock, so a test can tell which one a figure is from
            "latency_ms": {"wall": _spread(latency), "cpu": _spread(1.1 * latency)},
            "throughput_per_s": 1000 / latency,
            "speedup": {"wall": speedup, "cpu": speedup},
            "memory": {"peak_rss_mb": 600.0, "baseline_rss_mb": 500.0, "model_peak_mb": 100.0},
        }
    because = ["1-minute load average 3.50 before timing, above 1 thread(s)"] if noisy else []
    return {
        "schema": "scalingdown.timing/1",
        "task": task,
        "unit": "text",
        "device": "cpu",
        "device_name": "Test CPU",
        "settings": {"rounds": 6, "warmup": 5, "calls_per_round": 4, "batch_size": 16, "threads": threads},
        "models": models,
        "reference": reference,
        "reference_is_teacher": reference.startswith("teacher."),
        "noisy": noisy,
        "noisy_rule": "noisy when some model's wall-time IQR/median is above 0.25, or the 1-minute load average "
        "before or after timing is above the thread count (1)",
        "noisy_because": because,
        "headline_clock": "cpu" if noisy else "wall",
        "memory_method": "each model in a fresh spawned child process",
    }


def _benchmarks(noisy: bool = False) -> list[dict]:
    return [_benchmark(task, noisy) for task in LATENCIES]


@pytest.fixture
def qa_task_type(monkeypatch):
    """A second task type, registered the way a new task type registers its primary metric."""
    monkeypatch.setitem(tables.PRIMARY_METRIC, "qa", "exact_match")


TASK_TYPES = {"cls": "classification", "qa": "qa", "alone": "classification"}


def test_retention_and_speedup_are_against_the_best_teacher_of_each_task(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES, _benchmarks()).set_index("label")
    # cls: the best teacher scores 0.90 at 20 ms (not the faster 0.80 one)
    assert table.loc["best_teacher", "retention_pct"] == pytest.approx(100.0)
    assert table.loc["fast_teacher", "retention_pct"] == pytest.approx(100 * 0.80 / 0.90)
    assert table.loc["small", "retention_pct"] == pytest.approx(80.0)
    assert table.loc["small", "speedup"] == pytest.approx(4.0)
    assert table.loc["small", "speedup_low"] == pytest.approx(3.6) and table.loc["small", "speedup_high"] == 4.4
    assert table.loc["fast_teacher", "speedup"] == pytest.approx(2.0)
    assert table.loc["tiny", "speedup"] == pytest.approx(10.0)
    # an export is a row of its own, scored and timed like its student
    export = table.loc["small · ONNX int8"]
    assert export["model"] == "small" and export["variant"] == "onnx-int8" and export["size_mb"] == 0.3
    assert export["speedup"] == pytest.approx(8.0) and export["retention_pct"] == pytest.approx(100 * 0.71 / 0.90)
    assert table.loc["small", "latency_ms_per_sample"] == 5.0 and table.loc["small", "latency_clock"] == "wall"
    assert table.loc["small", "memory_mb"] == 100.0 and table.loc["small", "latency_iqr_ms"] == pytest.approx(1.0)
    # qa ranks by its own primary metric
    assert table.loc["mini", "primary_metric"] == "exact_match"
    assert table.loc["mini", "retention_pct"] == pytest.approx(80.0)
    assert table.loc["mini", "speedup"] == pytest.approx(5.0)
    # no teacher, no reference
    assert math.isnan(table.loc["solo", "retention_pct"]) and math.isnan(table.loc["solo", "speedup"])
    assert "confusion_matrix" not in table.columns
    assert metric_names(_records()) == ["accuracy", "f1_macro", "exact_match", "f1"]


def test_a_noisy_benchmark_gives_cpu_time_figures(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES, _benchmarks(noisy=True)).set_index("label")
    assert table.loc["small", "latency_ms_per_sample"] == pytest.approx(5.5) and table.loc["small", "timing_noisy"]
    assert (table["latency_clock"] == "cpu").all()


def test_models_without_a_benchmark_record_have_empty_speed_columns(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES)
    assert table["latency_ms_per_sample"].isna().all() and table["speedup"].isna().all()
    assert table["retention_pct"].notna().any() and not table["pareto_optimal"].any()


def test_an_unknown_task_type_names_the_table_to_extend():
    with pytest.raises(KeyError, match="PRIMARY_METRIC"):
        metrics_table("exp", _records()[5:7], {"qa": "qa"})


def test_pareto_front_keeps_exactly_the_undominated_models():
    scores = [0.90, 0.80, 0.72, 0.45, 0.72, 0.70, float("nan")]
    latencies = [20.0, 10.0, 5.0, 2.0, 6.0, 5.0, 1.0]
    # 0.72@6 is beaten by 0.72@5; 0.70@5 by 0.72@5; NaN is never on the front
    assert pareto_front(scores, latencies) == [True, True, True, True, False, False, False]
    assert pareto_front([0.5, 0.5], [3.0, 3.0]) == [True, True]  # ties dominate neither


def test_the_pareto_flag_is_per_task(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES, _benchmarks())
    front = set(table.loc[table["pareto_optimal"], "label"])
    assert front == {"best_teacher", "fast_teacher", "small", "small · ONNX int8", "tiny", "reader", "mini", "solo"}


def test_the_task_tables_have_the_study_shape_and_drop_empty_columns(qa_task_type):
    table = metrics_table("exp", _records(), TASK_TYPES, _benchmarks())
    metrics = metric_names(_records())
    cls_rows = table[table["task"] == "cls"]
    cls = quality_table(cls_rows, metrics)
    assert list(cls.columns) == ["Role", "Model", "Accuracy", "Macro-F1", "Retention (%)"]
    small = cls[cls["Model"] == "small"].iloc[0]
    assert small["Accuracy"] == "0.7200" and small["Retention (%)"] == "80.0"
    assert cls["Model"].tolist()[3] == "small · ONNX int8"
    speed = speed_table(cls_rows)
    assert list(speed.columns) == [
        "Model",
        "Latency (ms)",
        "IQR (ms)",
        "Throughput (/s)",
        "Speed-up (×) [95 % CI]",
        "Peak memory (MiB)",
        "Size on disk (MiB)",
        "Parameters",
    ]
    small = speed[speed["Model"] == "small"].iloc[0]
    assert small["Latency (ms)"] == "5.00" and small["Speed-up (×) [95 % CI]"] == "4.00 [3.60–4.40]"
    assert small["Parameters"] == "1,000" and small["Peak memory (MiB)"] == "100"
    qa = quality_table(table[table["task"] == "qa"], metrics)
    assert list(qa.columns)[2:4] == ["Exact match", "Token F1"]  # primary first; no classification columns
    alone_rows = table[table["task"] == "alone"]
    assert "Retention (%)" not in quality_table(alone_rows, metrics).columns
    assert "Speed-up (×) [95 % CI]" not in speed_table(alone_rows).columns


def test_the_report_warns_when_the_timing_was_noisy_and_names_the_clock(tmp_path: Path, qa_task_type):
    records, repro = _records(), reproducibility({"experiment": "exp"}, _benchmarks(noisy=True), [], None)
    blocks = report_blocks(
        "exp",
        metrics_table("exp", records, TASK_TYPES, _benchmarks(noisy=True)),
        [],
        repro,
        None,
        _benchmarks(noisy=True),
    )
    markdown, page = to_markdown(blocks), to_html([b for b in blocks if not isinstance(b, Figure)], "t", tmp_path)
    page = page.replace("&#x27;", "'")
    warning = "the timing was noisy, so this task's latencies and speed-ups are on CPU time"
    reasons = "Noisy timing: 1-minute load average 3.50 before timing, above 1 thread(s). Rule: noisy when some model"
    # one short line where the speed table is; the reasons and the rule folded below it (markdown: in the Notes)
    assert markdown.count(f"> **Warning:** {warning}") == 3 and "(Details: [note 3](#notes) at the end.)" in markdown
    body, notes = markdown.split("\n## Notes\n")
    assert reasons not in body and notes.count(reasons) == 3 and notes.lstrip().startswith(f"1. {reasons}")
    assert f'<div class="warning" role="alert"><strong>Warning:</strong> {warning}' in page
    assert f"<details><summary>Details</summary>{reasons}" in page and "Notes" not in page
    assert markdown.count("Headline clock: process CPU time") == 3
    quiet = to_markdown(
        report_blocks("exp", metrics_table("exp", records, TASK_TYPES, _benchmarks()), [], repro, None, _benchmarks())
    )
    assert "Warning" not in quiet and quiet.count("Headline clock: wall time.") == 3


def test_a_report_without_classification_models_leaves_out_the_confusion_matrices(tmp_path: Path, qa_task_type):
    records = [{"task": "qa", "kind": "student", "name": "s", "metrics": {"exact_match": 0.5}}]
    assert plots.confusion_matrices(records, tmp_path / "confusion.png") is False
    assert (tmp_path / "confusion.png").is_file(), "the rule's declared output still exists"
    table = metrics_table("exp", _records(), TASK_TYPES)
    repro = reproducibility({"experiment": "exp"}, [], [], None)
    figures = [
        {
            block.file
            for block in report_blocks("exp", table, [], repro, confusion_matrices=drawn)
            if isinstance(block, Figure)
        }
        for drawn in (True, False)
    ]
    assert figures[0] - figures[1] == {"confusion_matrices.png"}


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
    repro = reproducibility(config, [_benchmark("cls", threads=2)], [], tmp_path)
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
            "rounds": 6,
            "calls_per_round": 4,
            "warmup": 5,
            "batch_size": 16,
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
        "6 rounds × 4 calls at batch size 1 after 5 warm-up calls",
        "```yaml\nexperiment: exp",
    ):
        assert text in markdown, text


def test_mixed_timing_setups_are_called_out():
    benchmarks = [_benchmark("cls"), _benchmark("alone", threads=8)]
    repro = reproducibility({"experiment": "exp"}, benchmarks, [], None)
    table = metrics_table("exp", _records()[:5], TASK_TYPES, benchmarks)
    markdown = to_markdown(report_blocks("exp", table, ["accuracy"], repro, None, benchmarks))
    assert "**Warning:** the tasks were not all timed the same way" in markdown


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
