"""Plots of the report (PNG, matplotlib without a display).

Generic over loss terms (every `loss_<term>` a history logs gets its panel), validation metrics
(every `eval_<metric>`) and task types (the primary metric comes from the table). Over several seeds, curves
are the mean with a ±sd band, points carry ±sd error bars and confusion matrices sum the seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from scalingdown.pipeline.names.divergence_table import DIVERGENCES, term
from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.pipeline.outputs.atomic import atomic_path
from scalingdown.report.budget_curve import BUDGET, BUDGET_ROWS, curve_tasks
from scalingdown.report.tables import METRIC_TITLES, model_label

LOSS_TITLES = {
    "loss": "total loss (weighted sum)",
    "loss_ce": "CE on gold labels",
    **{f"loss_{term(name)}": f"{info.title} × T²" for name, info in DIVERGENCES.items()},
    "loss_hidden": "hidden-state MSE",
}
# Trainer bookkeeping logged with the validation scores, not scores themselves.
_EVAL_BOOKKEEPING = {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second"}


def _grid(panels: int, width: float = 4.6, height: float = 3.4, columns: int = 3) -> tuple[Any, list[Any]]:
    columns = min(columns, max(1, panels))
    rows = max(1, math.ceil(panels / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(width * columns, height * rows), squeeze=False, layout="constrained"
    )
    flat = list(axes.flat)
    for axis in flat[panels:]:
        axis.axis("off")
    return figure, flat


# Height of one row of a legend below the panels (inches).
_LEGEND_ROW = 0.24


def _legend_below(figure: Any, axes: Sequence[Any], extra: Sequence[tuple[Any, str]] = (), columns: int = 2) -> None:
    """One legend for the whole figure, below its panels (it never covers a curve or a label): every labelled artist
    of the panels once, then the `extra` (handle, label) pairs. The figure grows by the legend's rows."""
    entries: dict[str, Any] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    entries.update({label: handle for handle, label in extra})
    if not entries:
        return
    columns = min(columns, len(entries))
    figure.set_figheight(figure.get_figheight() + _LEGEND_ROW * math.ceil(len(entries) / columns) + 0.1)
    figure.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=columns, fontsize=8)


def _save(figure: Any, path: str | Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)


def _empty(path: str | Path, message: str) -> None:
    figure, axes = _grid(1)
    axes[0].axis("off")
    axes[0].text(0.5, 0.5, message, ha="center", va="center")
    _save(figure, path)


def _colours(names: Iterable[str]) -> dict[str, Any]:
    palette: Any = cast(ListedColormap, plt.get_cmap("tab10")).colors
    return {name: palette[index % len(palette)] for index, name in enumerate(names)}


History = list[dict[str, Any]]


def _series(history: History, key: str) -> dict[float, float]:
    """A history's values of `key` by step (a repeated step keeps its last value)."""
    return {entry["step"]: entry[key] for entry in history if key in entry and "step" in entry}


def _mean_band(runs: Sequence[History], key: str) -> tuple[list[float], list[float], list[float]]:
    """Steps, the mean over the runs (seeds) that logged `key` at each step, and their sd (0 for one run)."""
    by_step: dict[float, list[float]] = {}
    for history in runs:
        for step, value in _series(history, key).items():
            by_step.setdefault(step, []).append(value)
    steps = sorted(by_step)
    means = [statistics.fmean(by_step[step]) for step in steps]
    sds = [statistics.stdev(by_step[step]) if len(by_step[step]) > 1 else 0.0 for step in steps]
    return steps, means, sds


# How the chosen checkpoint is marked on a validation curve.
_CHOSEN = {"marker": "*", "s": 150, "edgecolors": "black", "linewidths": 0.8, "zorder": 4}


def _curves(
    histories: Mapping[str, Sequence[History]],
    keys: list[str],
    titles: dict[str, str],
    ylabel: str,
    path: str | Path,
    chosen: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """One panel per key, one line per model that logged it: the mean over its seeds, with a ±sd band; a star on
    the line at each step in `chosen` (model name → the step each seed's checkpoint was kept at). One legend below
    the panels."""
    colours = _colours(histories)
    figure, axes = _grid(len(keys))
    marked = False
    for axis, key in zip(axes, keys):
        for name, runs in histories.items():
            steps, means, sds = _mean_band(runs, key)
            if not steps:
                continue
            label = name if len(runs) < 2 else f"{name} (mean ± sd, {len(runs)} seeds)"
            axis.plot(steps, means, marker=".", label=label, color=colours[name])
            if len(runs) > 1:
                low = [mean - sd for mean, sd in zip(means, sds)]
                high = [mean + sd for mean, sd in zip(means, sds)]
                axis.fill_between(steps, low, high, color=colours[name], alpha=0.2, linewidth=0)
            points = [step for step in (chosen or {}).get(name, ()) if steps[0] <= step <= steps[-1]]
            if points:
                axis.scatter(points, np.interp(points, steps, means), color=colours[name], **_CHOSEN)
                marked = True
        axis.set_title(titles.get(key, key), fontsize=10)
        axis.set_xlabel("step")
        axis.set_ylabel(ylabel)
    star = Line2D([], [], linestyle="none", marker="*", markersize=11, color="white", markeredgecolor="black")
    _legend_below(figure, axes, [(star, "checkpoint kept (best on validation; one per seed)")] if marked else [])
    _save(figure, path)


def _logged(histories: Mapping[str, Sequence[History]]) -> set[str]:
    return {key for runs in histories.values() for history in runs for entry in history for key in entry}


def training_curves(histories: Mapping[str, Sequence[History]], path: str | Path) -> list[str]:
    """Training loss over steps: the total and each term (CE, KL, hidden, …) in its own panel.

    `histories` maps a model's name to its runs (one history per seed). Returns the logged keys that got a panel.
    """
    logged = _logged(histories)
    terms = sorted(key for key in logged if key.startswith("loss_"))
    keys = (["loss"] if "loss" in logged else []) + terms
    if not keys:
        _empty(path, "no trained models")
        return []
    _curves(histories, keys, LOSS_TITLES, "training loss", path)
    return keys


def validation_curves(
    histories: Mapping[str, Sequence[History]], path: str | Path, chosen: Mapping[str, Sequence[float]] | None = None
) -> list[str]:
    """Validation scores over steps, one panel per metric the histories logged (mean ± sd over a model's seeds), a
    star at each step a model's checkpoint was kept at (`chosen`: model name → one step per seed); returns the
    keys."""
    logged = _logged(histories)
    keys = sorted(key for key in logged if key.startswith("eval_") and key not in _EVAL_BOOKKEEPING)
    keys.sort(key=lambda key: key == "eval_loss")  # scores first, the validation loss last
    if not keys:
        _empty(path, "no validation scores were logged")
        return []
    titles = {key: "validation " + METRIC_TITLES.get(key[5:], key[5:].replace("_", " ")) for key in keys}
    _curves(histories, keys, titles, "validation value", path, chosen)
    return keys


# How each kind of model is drawn: (marker, colour, size).
_MARKERS = {"teacher": ("s", "tab:red", 60), "student": ("o", "tab:blue", 40), "export": ("^", "tab:green", 50)}


def _spread(row: pd.Series, key: str) -> float | None:
    """A summarised row's sd of `key` over seeds, if it has one."""
    value = row.get(f"{key}_sd")
    return None if value is None or pd.isna(value) else float(value)


def score_latency(table: pd.DataFrame, path: str | Path) -> None:
    """Per task: primary score against latency at batch 1 (teachers, students and their exports), with the
    Pareto front drawn through; summarised rows (`report.seed_statistics.summarise`) get ±sd error bars on both axes."""
    table = table[table["latency_ms_per_sample"].notna()]
    tasks = list(dict.fromkeys(table["task"]))
    if not tasks:
        _empty(path, "no model was timed")
        return
    figure, axes = _grid(len(tasks), width=5.6, height=4.2, columns=2)
    for axis, task in zip(axes, tasks):
        rows = table[table["task"] == task]
        metric = rows["primary_metric"].iloc[0]
        scores = [row[metric] for _, row in rows.iterrows()]
        for (_, row), score in zip(rows.iterrows(), scores):
            marker, colour, size = _MARKERS["export" if row.get("variant", ORIGINAL) != ORIGINAL else row["kind"]]
            xerr, yerr = _spread(row, "latency_ms_per_sample"), _spread(row, metric)
            if xerr is not None or yerr is not None:
                axis.errorbar(
                    row["latency_ms_per_sample"],
                    score,
                    xerr=xerr,
                    yerr=yerr,
                    fmt="none",
                    ecolor=colour,
                    elinewidth=1,
                    capsize=3,
                    zorder=2,
                )
            axis.scatter(row["latency_ms_per_sample"], score, s=size, marker=marker, color=colour, zorder=3)
            axis.annotate(
                model_label(row["model"], row.get("variant", ORIGINAL)),
                (row["latency_ms_per_sample"], score),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
            )
        front = rows[rows["pareto_optimal"]].sort_values("latency_ms_per_sample")
        if len(front):
            axis.step(
                front["latency_ms_per_sample"],
                front[metric],
                where="post",
                color="grey",
                linestyle="--",
                label="Pareto front",
                zorder=2,
            )
        axis.set_xscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        latencies = rows["latency_ms_per_sample"]
        axis.xaxis.set_major_formatter(plain)
        if latencies.max() <= 10 * latencies.min():  # within a decade: label 2× and 5× ticks too (not every one)
            axis.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
            axis.xaxis.set_minor_formatter(plain)
        else:
            axis.xaxis.set_minor_formatter(NullFormatter())
        clock = "CPU time" if "latency_clock" in rows and (rows["latency_clock"] == "cpu").any() else "wall time"
        axis.set_xlabel(f"latency at batch 1 (ms, {clock}, log scale)")
        axis.set_ylabel(METRIC_TITLES.get(metric, metric))
        axis.set_title(f"{task}: {METRIC_TITLES.get(metric, metric)} against latency", fontsize=10)
        axis.grid(alpha=0.3)
        axis.margins(x=0.12, y=0.1)  # room for the names beside the points at the edges
    kinds = [
        (Line2D([], [], linestyle="none", marker=marker, color=colour), f"{kind}s")
        for kind, (marker, colour, _) in _MARKERS.items()
    ]
    _legend_below(figure, axes, kinds, columns=4)
    _save(figure, path)


def confusion_matrices(records: list[dict[str, Any]], path: str | Path) -> bool:
    """One confusion matrix (rows: gold label) per model whose record has one; a model's seeds are summed. Returns
    whether any was drawn (without classification models the file says so, and the report leaves it out)."""
    models: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for record in records:
        if "confusion_matrix" in record["metrics"] and record.get("labels"):
            model = (record["task"], record["kind"], record["name"], record.get("variant", ORIGINAL))
            models.setdefault(model, []).append(record)
    if not models:
        _empty(path, "no classification models")
        return False
    figure, axes = _grid(len(models), width=3.8, height=3.6, columns=4)
    for axis, seeds in zip(axes, models.values()):
        record = seeds[0]
        counts = np.sum([np.asarray(seed["metrics"]["confusion_matrix"], dtype=float) for seed in seeds], axis=0)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (gold, predicted), count in np.ndenumerate(counts):
            axis.text(
                predicted,
                gold,
                f"{int(count)}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shares[gold, predicted] > 0.6 else "black",
            )
        labels = record["labels"]
        axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_xlabel("predicted", fontsize=8)
        axis.set_ylabel("gold", fontsize=8)
        summed = f" (sum of {len(seeds)} seeds)" if len(seeds) > 1 else ""
        axis.set_title(
            f"{record['task']}: {model_label(record['name'], record.get('variant', ORIGINAL))}{summed}", fontsize=9
        )
    _save(figure, path)
    return True


def budget_curve(summary: pd.DataFrame, cells: Mapping[str, str], path: str | Path) -> dict[str, list[str]]:
    """Per task that sweeps at least two label budgets: the primary test score against the labelled training rows
    of each budget's students, one line per model (students: solid, circles; teachers: dashed, squares; a teacher
    with its own label budget is the same model in every cell), ±sd error bars over seeds. `summary` is the
    summarised metrics table with `report.budget_curve`'s columns, `cells` maps a budget cell to its task's name.
    The x axis is logarithmic when the rows span a decade or more. Returns the lines drawn per task. Called only
    when the plan has such a task (`Plan.report_files`); should no two of its cells have row counts, the image says
    why."""
    tasks = curve_tasks(summary, dict(cells))
    if not tasks:  # the rule declares the figure for a sweep of two or more budgets: say why it has no curve
        _empty(
            path, "no two budgets of a task have labelled-row counts\n(their prepared data's manifests are unreadable)"
        )
        return {}
    rows = summary[summary["task"].isin(list(cells)) & summary[BUDGET_ROWS].notna()]
    if "variant" in rows:
        rows = rows[rows["variant"] == ORIGINAL]  # exports score as their student
    drawn: dict[str, list[str]] = {}
    figure, axes = _grid(len(tasks), width=6.4, height=4.4, columns=2)
    for axis, task in zip(axes, tasks):
        mine = rows[[cells[str(cell)] == task for cell in rows["task"]]]
        metric = str(mine["primary_metric"].iloc[0])
        models = list(dict.fromkeys(zip(mine["kind"], mine["model"])))
        colours = _colours(f"{kind} {model}" for kind, model in models)
        for kind, model in models:
            line = mine[(mine["kind"] == kind) & (mine["model"] == model)].sort_values(BUDGET_ROWS)
            name = f"{kind} {model}"
            spread = line.get(f"{metric}_sd")
            axis.errorbar(
                line[BUDGET_ROWS],
                line[metric],
                yerr=None if spread is None or spread.isna().all() else spread.fillna(0),
                label=name,
                color=colours[name],
                marker="s" if kind == "teacher" else "o",
                linestyle="--" if kind == "teacher" else "-",
                capsize=3,
            )
            drawn.setdefault(task, []).append(name)
        budgets = mine.drop_duplicates(BUDGET_ROWS).sort_values(BUDGET_ROWS)
        if budgets[BUDGET_ROWS].max() >= 10 * budgets[BUDGET_ROWS].min():
            axis.set_xscale("log")
            axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xticks(
            list(budgets[BUDGET_ROWS]),
            [f"{rows_:,.0f}\n({label})" for rows_, label in zip(budgets[BUDGET_ROWS], budgets[BUDGET])],
            fontsize=8,
        )
        axis.set_xticks([], minor=True)
        scale = ", log scale" if axis.get_xscale() == "log" else ""
        axis.set_xlabel(f"labelled training rows of the students (budget){scale}")
        axis.set_ylabel(f"test {METRIC_TITLES.get(metric, metric)}")
        seeds = int(mine["n"].max()) if "n" in mine else 1
        over = f"mean ± sd over {seeds} seeds" if seeds > 1 else "one seed"
        axis.set_title(f"{task}: {METRIC_TITLES.get(metric, metric)} against labelled rows ({over})", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, frameon=False)
    _save(figure, path)
    return drawn


def shape_front(summary: pd.DataFrame, tasks: Sequence[str], path: str | Path) -> list[str]:
    """Per task that sweeps student shapes: the primary score against latency at batch size 1 (log scale) and against
    size on disk, two panels side by side, every teacher, student and export with ±sd error bars over seeds and the
    Pareto front of each panel dashed; points on a front are named. `summary` is the summarised metrics table with
    `report.shape_sweep.pareto_columns`. Returns the tasks drawn (the image says why when none has timed rows)."""
    drawn = [task for task in tasks if summary[(summary["task"] == task)]["latency_ms_per_sample"].notna().any()]
    if not drawn:
        _empty(path, "no swept task has timed models")
        return []
    figure, axes = _grid(2 * len(drawn), width=5.6, height=4.2, columns=2)
    for index, task in enumerate(drawn):
        rows = summary[(summary["task"] == task) & summary["latency_ms_per_sample"].notna()]
        metric = str(rows["primary_metric"].iloc[0])
        for axis, column, front, title in (
            (axes[2 * index], "latency_ms_per_sample", "front_latency", "latency at batch 1 (ms, log scale)"),
            (axes[2 * index + 1], "size_mb", "front_size", "size on disk (MiB, log scale)"),
        ):
            for _, row in rows.iterrows():
                marker, colour, size = _MARKERS["export" if row.get("variant", ORIGINAL) != ORIGINAL else row["kind"]]
                axis.errorbar(
                    row[column],
                    row[metric],
                    xerr=_spread(row, column),
                    yerr=_spread(row, metric),
                    fmt="none",
                    ecolor=colour,
                    elinewidth=1,
                    capsize=3,
                    zorder=2,
                )
                axis.scatter(row[column], row[metric], s=size, marker=marker, color=colour, zorder=3)
                if row[front]:
                    axis.annotate(
                        row["label"], (row[column], row[metric]), textcoords="offset points", xytext=(5, 4), fontsize=7
                    )
            line = rows[rows[front]].sort_values(column)
            axis.step(
                line[column], line[metric], where="post", color="grey", linestyle="--", label="Pareto front", zorder=2
            )
            axis.set_xscale("log")
            axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.xaxis.set_minor_formatter(NullFormatter())
            axis.set_xlabel(title)
            axis.set_ylabel(METRIC_TITLES.get(metric, metric))
            axis.set_title(f"{task}: {METRIC_TITLES.get(metric, metric)} against {title.split(' (')[0]}", fontsize=10)
            axis.grid(alpha=0.3)
            axis.margins(x=0.15, y=0.1)
    kinds = [
        (Line2D([], [], linestyle="none", marker=marker, color=colour), f"{kind}s")
        for kind, (marker, colour, _) in _MARKERS.items()
    ]
    _legend_below(figure, axes, kinds, columns=4)
    _save(figure, path)
    return drawn
