"""The report's first screen and its layout: the summary (the model to ship, whether distilling paid, each diagnostic
in one line) before any table, the chosen checkpoint of each trained model (a column and a star on the validation
curves), number cells that do not wrap, and legends placed below the panels, on hand-made records."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.axes
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from scalingdown.report import plots
from scalingdown.report.chosen_checkpoints import steps_text
from scalingdown.report.compose import report_blocks
from scalingdown.report.diagnostics import Finding
from scalingdown.report.document import Figure, Table, to_html, to_markdown
from scalingdown.report.reproducibility import reproducibility
from scalingdown.report.seed_statistics import paired_comparisons, summarise
from scalingdown.report.summary import shipped_model, summary_blocks
from scalingdown.report.tables import metrics_table, quality_table
from scalingdown.stages.report import _remove_undeclared
from tests.report.conftest import benchmark_record, eval_record

# Per seed: (kind, name, variant, accuracy, latency in ms, size in MiB).
MODELS = {
    13: [
        ("teacher", "big", "fp32", 0.90, 20.0, 80.0),
        ("student", "kd", "fp32", 0.82, 5.0, 40.0),
        ("student", "kd", "onnx-int8", 0.82, 2.0, 10.0),
        ("student", "gold", "fp32", 0.70, 5.0, 40.0),
        ("student", "untrained", "fp32", 0.95, 5.0, 40.0),  # a lucky baseline: never the model to ship
    ],
    14: [
        ("teacher", "big", "fp32", 0.88, 22.0, 80.0),
        ("student", "kd", "fp32", 0.80, 5.0, 40.0),
        ("student", "kd", "onnx-int8", 0.80, 2.0, 10.0),
        ("student", "gold", "fp32", 0.72, 5.0, 40.0),
        ("student", "untrained", "fp32", 0.95, 5.0, 40.0),
    ],
}
UNTRAINED = frozenset({("t", "untrained")})
TWINS = {("t", "kd"): "gold"}


def _checkpoint(seed: int, name: str) -> dict:
    step = {("kd", 13): 120, ("kd", 14): 80, ("gold", 13): 40, ("gold", 14): 60, ("big", 13): 90, ("big", 14): 90}
    early = name == "gold" and seed == 14
    return {
        "metric": "eval_accuracy",
        "greater_is_better": True,
        "step": step[(name, seed)],
        "score": 0.8 if name == "kd" else 0.7,
        "last_step": 140 if early else 160,
        "evaluations": 8,
        "early_stopped": early,
        "patience": 2 if early else None,
        "validation_rows": 60,
    }


def _records(seeds: tuple[int, ...] = (13, 14)) -> list[dict]:
    records = []
    for seed in seeds:
        for kind, name, variant, accuracy, _, size in MODELS[seed]:
            trained = variant == "fp32" and name != "untrained"
            checkpoint = {"checkpoint": _checkpoint(seed, name)} if trained else {}
            records.append(eval_record(seed, kind, name, {"accuracy": accuracy}, variant, size_mb=size, **checkpoint))
    return records


def _benchmarks(seeds: tuple[int, ...] = (13, 14), noisy: bool = False) -> list[dict]:
    latencies = {
        seed: {
            f"export.{name}.{variant}" if variant != "fp32" else f"{kind}.{name}": latency
            for kind, name, variant, _, latency, _ in MODELS[seed]
        }
        for seed in seeds
    }
    noise = ["other processes kept 1.20 cores busy"] if noisy else []
    return [benchmark_record(seed, latencies[seed], "teacher.big", noise) for seed in seeds]


def _table(seeds: tuple[int, ...] = (13, 14), noisy: bool = False) -> pd.DataFrame:
    return metrics_table("exp", _records(seeds), {"t": "classification"}, _benchmarks(seeds, noisy))


def _report(seeds: tuple[int, ...] = (13, 14), findings: tuple[Finding, ...] = (), noisy: bool = False) -> list:
    table = _table(seeds, noisy)
    repro = reproducibility({"experiment": "exp"}, _benchmarks(seeds), [], None)
    return report_blocks(
        "exp",
        table,
        ["accuracy"],
        repro,
        benchmarks=_benchmarks(seeds, noisy),
        twins=TWINS,
        diagnostics=findings,
        untrained=UNTRAINED,
    )


def test_the_model_to_ship_is_the_most_accurate_trained_student_or_export_then_the_faster():
    summary = summarise(_table())
    shipped = shipped_model(summary, UNTRAINED)
    assert shipped is not None and shipped["label"] == "kd · ONNX int8"  # as accurate as `kd`, faster
    assert shipped_model(summary)["label"] == "untrained", "without the untrained set it is a candidate like any"
    teachers_only = summary[summary["kind"] == "teacher"]
    assert shipped_model(teachers_only) is None


def test_the_summary_comes_first_and_concludes_for_each_task():
    finding = Finding("t", "Student `kd` misses class `negative`: recall 0.000 (13).", "long text")
    markdown = to_markdown(_report(findings=(finding,)))
    summary = markdown[markdown.index("## Summary") : markdown.index("Scores on the test split")]
    assert markdown.index("## Summary") < markdown.index("|"), "the conclusion comes before every table"
    assert (
        "- Model to ship: `kd · ONNX int8`: Accuracy 0.8100 ± 0.0141, 91.0 ± 0.1 % of the best teacher `big`, "
        "10.50 ± 0.71× as fast as the teacher at batch size 1, 10.0 MiB on disk (the teacher: 80.0 MiB)."
    ) in summary
    assert (
        "- Did distilling pay? Yes: `kd` − its gold-only twin `gold`: Accuracy +0.1000, paired over 2 seeds "
        "(standard error 0.0200): gain beyond seed noise."
    ) in summary
    assert "- **Student `kd` misses class `negative`: recall 0.000 (13).**" in summary
    assert "long text" not in summary and "## Diagnostics\n\n**long text**" in markdown


def test_a_most_accurate_model_that_misses_a_class_is_not_called_fit_to_ship():
    missed = Finding("t", "Export `kd · ONNX int8` misses class `negative`: …", "…", "Export `kd · ONNX int8`")
    markdown = to_markdown(_report(findings=(missed,)))
    assert "- Most accurate student or export: `kd · ONNX int8`: Accuracy 0.8100 ± 0.0141" in markdown
    assert "; it misses a class (below), so it is not fit to ship as it is." in markdown
    assert "Model to ship" not in markdown


def test_the_summary_says_plainly_when_there_is_no_test_of_distillation():
    one_seed = to_markdown(_report(seeds=(13,)))
    assert (
        "- Did distilling pay? `kd` − its gold-only twin `gold`: Accuracy +0.1200 on one seed, so there is no test "
        "of it (list several `seeds` for a paired test)."
    ) in one_seed
    table = _table()
    blocks = summary_blocks(summarise(table), paired_comparisons(table, {}), [], UNTRAINED)
    assert "Did distilling pay? Not tested: no distilled student of this task has a gold-only twin" in to_markdown(
        blocks
    )


def test_a_noisy_timing_is_said_in_the_summary_line_of_the_model_to_ship():
    markdown = to_markdown(_report(noisy=True))
    assert "10.50 ± 0.71× as fast as the teacher at batch size 1 (CPU time: the timing was noisy)" in markdown


def test_each_trained_model_shows_its_chosen_step_and_validation_score():
    table = _table()
    rows = table[(table["model"] == "gold")]
    assert steps_text(rows) == "40–60 / 140–160†"  # seed 14 stopped early, after 140 steps
    assert steps_text(table[table["model"] == "kd"].iloc[:1]) == "120 / 160"
    assert steps_text(table[(table["model"] == "kd") & (table["variant"] == "fp32")]) == "80–120 / 160"
    assert steps_text(table[table["model"] == "untrained"]) is None
    blocks = _report()
    (scores,) = [b.frame for b in blocks if isinstance(b, Table) and "Chosen step" in b.frame.columns]
    shown = scores.set_index("Model")
    assert shown.loc["kd", "Chosen step"] == "80–120 / 160" and shown.loc["kd", "Validation score"] == "0.8000 ± 0.0000"
    assert shown.loc["kd · ONNX int8", "Chosen step"] == "–" and shown.loc["untrained", "Validation score"] == "–"
    markdown = to_markdown(blocks)
    assert "the checkpoint with the best validation Accuracy (ties: the earlier)" in markdown
    assert "†: training stopped early on some seed" in markdown
    # a table without checkpoint records (older runs) has no such columns
    old = metrics_table(
        "exp", [{k: v for k, v in r.items() if k != "checkpoint"} for r in _records()], {"t": "classification"}
    )
    assert "Chosen step" not in quality_table(summarise(old), ["accuracy"]).columns


def test_number_cells_do_not_wrap_in_html(tmp_path: Path):
    page = to_html([b for b in _report() if not isinstance(b, Figure)], "t", tmp_path)
    assert '<td class="number">0.8100 ± 0.0141</td>' in page
    assert '<td class="number">10.50 ± 0.71</td>' in page  # the speed-up, mean ± sd
    assert '<td class="number">80–120 / 160</td>' in page  # the chosen steps
    assert "<td>kd · ONNX int8</td>" in page and "<td>student</td>" in page  # words may wrap
    assert re.search(r"td\.number \{ white-space: nowrap; \}", page)


def _captured_figures(monkeypatch) -> list:
    """The figures the plots save (kept open for inspection)."""
    figures = []
    original = plots._save

    def keep(figure, path):
        figures.append(figure)
        original(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def _legend_below_the_panels(figure) -> bool:
    """One legend, for the figure, entirely below every panel (it covers no curve and no label)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    legend = figure.legends[0].get_window_extent(renderer)
    panels = [axis.get_tightbbox(renderer) for axis in figure.axes if axis.get_visible() and axis.axison]
    return (
        len(figure.legends) == 1
        and all(axis.get_legend() is None for axis in figure.axes)
        and all(legend.y1 <= panel.y0 + 1 for panel in panels)
    )


def test_validation_curves_star_each_chosen_step_and_keep_the_legend_below(tmp_path: Path, monkeypatch):
    figures = _captured_figures(monkeypatch)
    stars = []
    scatter = matplotlib.axes.Axes.scatter

    def record(axis, x, y, *args, **kwargs):
        stars.append((axis, list(x), [round(float(v), 4) for v in y], kwargs.get("marker")))
        return scatter(axis, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "scatter", record)
    seed_13 = [
        {"step": 10, "eval_accuracy": 0.5, "eval_loss": 1.0},
        {"step": 20, "eval_accuracy": 0.7, "eval_loss": 0.8},
    ]
    seed_14 = [
        {"step": 10, "eval_accuracy": 0.6, "eval_loss": 0.9},
        {"step": 20, "eval_accuracy": 0.5, "eval_loss": 1.1},
    ]
    histories = {"t: kd": [seed_13, seed_14], "t: teacher big": [seed_13]}
    plots.validation_curves(histories, tmp_path / "v.png", {"t: kd": [20.0, 10.0], "t: teacher big": [20.0]})
    # on the mean curve of kd (0.55 at step 10, 0.6 at step 20), in every panel; the teacher's on its own curve
    assert [(axis.get_title(), *rest) for axis, *rest in stars] == [
        ("validation Accuracy", [20.0, 10.0], [0.6, 0.55], "*"),
        ("validation Accuracy", [20.0], [0.7], "*"),
        ("validation loss", [20.0, 10.0], [0.95, 0.95], "*"),
        ("validation loss", [20.0], [0.8], "*"),
    ]
    (figure,) = figures
    assert _legend_below_the_panels(figure)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == [
        "t: kd (mean ± sd, 2 seeds)",
        "t: teacher big",
        "checkpoint kept (best on validation; one per seed)",
    ]


def test_training_curves_and_the_score_latency_plot_keep_their_legends_below(tmp_path: Path, monkeypatch):
    figures = _captured_figures(monkeypatch)
    history = [{"step": 1, "loss": 1.0, "loss_ce": 0.8}, {"step": 2, "loss": 0.7, "loss_ce": 0.5}]
    plots.training_curves({"t: kd": [history], "t: gold": [history]}, tmp_path / "t.png")
    plots.score_latency(summarise(_table()), tmp_path / "s.png")
    assert len(figures) == 2 and all(_legend_below_the_panels(figure) for figure in figures)
    labels = [text.get_text() for text in figures[1].legends[0].get_texts()]
    assert labels == ["Pareto front", "teachers", "students", "exports"]


def test_a_report_file_the_plan_no_longer_writes_is_removed(tmp_path: Path):
    (tmp_path / "budget_curve.png").write_bytes(b"old")
    (tmp_path / "metrics.csv").write_text("kept")
    _remove_undeclared(tmp_path, {"metrics": tmp_path / "metrics.csv"})
    assert not (tmp_path / "budget_curve.png").exists() and (tmp_path / "metrics.csv").exists()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
