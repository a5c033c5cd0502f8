"""Plots of the report (PNG, matplotlib without a display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scalingdown.atomic import atomic_path  # noqa: E402


def training_curves(histories: dict[str, list[dict[str, Any]]], path: str | Path) -> None:
    """One panel per trained model: the loss terms over steps, and validation accuracy on a second axis."""
    names = sorted(histories)
    columns = min(3, max(1, len(names)))
    rows = max(1, -(-len(names) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for axis, name in zip(axes.flat, names):
        history = histories[name]
        train = [entry for entry in history if "loss" in entry]
        terms = sorted({key for entry in train for key in entry if key == "loss" or key.startswith("loss_")})
        for term in terms:
            points = [(entry["step"], entry[term]) for entry in train if term in entry]
            axis.plot(*zip(*points), label=term.replace("loss_", "") if term != "loss" else "total", marker=".")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("step")
        axis.set_ylabel("training loss")
        evals = [(entry["step"], entry["eval_accuracy"]) for entry in history if "eval_accuracy" in entry]
        if evals:
            score_axis = axis.twinx()
            score_axis.plot(*zip(*evals), color="black", linestyle="--", label="validation accuracy")
            score_axis.set_ylim(0, 1)
            score_axis.set_ylabel("validation accuracy")
            score_axis.legend(loc="upper right", fontsize=7)
        axis.legend(loc="upper left", fontsize=7)
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    if not names:
        axes.flat[0].text(0.5, 0.5, "no trained models", ha="center")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
