"""The report document (markdown)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scalingdown.report.tables import METRIC_COLUMNS

_COLUMNS = [
    ("role", "Role", "{}"),
    ("model", "Model", "{}"),
    ("accuracy", "Accuracy", "{:.4f}"),
    ("f1_macro", "Macro-F1", "{:.4f}"),
    ("precision_macro", "Precision", "{:.4f}"),
    ("recall_macro", "Recall", "{:.4f}"),
    ("exact_match", "Exact match", "{:.4f}"),
    ("f1", "Token F1", "{:.4f}"),
    ("precision", "Token precision", "{:.4f}"),
    ("recall", "Token recall", "{:.4f}"),
    ("latency_ms_per_sample", "Latency (ms/sample)", "{:.2f}"),
    ("throughput_per_s", "Throughput (/s)", "{:.1f}"),
    ("params", "Parameters", "{:,}"),
    ("size_mb", "Size (MiB)", "{:.1f}"),
    ("retention_pct", "Retention (%)", "{:.1f}"),
    ("speedup", "Speed-up (×)", "{:.2f}"),
]


def _cell(value: Any, pattern: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return pattern.format(value)


def markdown_table(rows: pd.DataFrame) -> str:
    """A markdown table of one task's rows in the report's column order."""
    present = [(key, title, pattern) for key, title, pattern in _COLUMNS
               if key in rows and (key not in METRIC_COLUMNS or rows[key].notna().any())]
    lines = ["| " + " | ".join(title for _, title, _ in present) + " |",
             "|" + "|".join("---" for _ in present) + "|"]
    for _, row in rows.iterrows():
        lines.append("| " + " | ".join(_cell(row[key], pattern) for key, _, pattern in present) + " |")
    return "\n".join(lines)


def report_markdown(experiment: str, table: pd.DataFrame, images: list[str]) -> str:
    """The whole report: one table per task, then the figures."""
    threads = ", ".join(str(t) for t in sorted(table["threads"].unique()))
    parts = [
        f"# ScalingDown report: {experiment}",
        "",
        f"Test-split scores; latency is the median at batch size 1 on {', '.join(sorted(table['device'].unique()))} "
        f"with {threads} thread(s), the same for every model. Retention and speed-up are relative to the "
        "best teacher of each task.",
    ]
    for task, rows in table.groupby("task", sort=False):
        parts += ["", f"## Task: {task}", "", markdown_table(rows)]
    parts += ["", "## Figures", ""]
    parts += [f"![{image}]({image})" for image in images]
    return "\n".join(parts) + "\n"
