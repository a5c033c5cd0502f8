"""The metrics table: one row per (task, seed, model), with retention, speed-up and the Pareto front.

Generic over task types and metrics: every scalar in an evaluation record's `metrics` becomes a
column, and `PRIMARY_METRIC` (the one table to extend for a new task type) names the score that
ranks models, defines the best teacher and sets retention.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import pandas as pd

# The score each task type ranks models by (higher is better).
PRIMARY_METRIC = {
    "classification": "accuracy",
    "multiple_choice": "accuracy",
    "math": "accuracy",
    "generative_qa": "f1",
}

# How metric columns are titled in the report; other metrics get their name, spaced out.
METRIC_TITLES = {
    "accuracy": "Accuracy",
    "f1_macro": "Macro-F1",
    "f1_weighted": "Weighted F1",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "exact_match": "Exact match",
    "f1": "Token F1",
    "precision": "Token precision",
    "recall": "Token recall",
    "answer_parsed": "Answer parsed",
}

# The columns after the metrics: (column, title, format). A column that a task lacks is left out.
_SPEED_COLUMNS = [
    ("latency_ms_per_sample", "Latency (ms/sample)", "{:.2f}"),
    ("throughput_per_s", "Throughput (/s)", "{:,.1f}"),
    ("params", "Parameters", "{:,.0f}"),
    ("size_mb", "Size on disk (MiB)", "{:.1f}"),
    ("peak_rss_mb", "Peak RSS (MiB)", "{:,.0f}"),
    ("timed_on", "Timed on", "{}"),
    ("retention_pct", "Retention (%)", "{:.1f}"),
    ("speedup", "Speed-up (×)", "{:.2f}"),
]


def primary_metric(task_type: str) -> str:
    """The metric that ranks models of a task type."""
    if task_type not in PRIMARY_METRIC:
        raise KeyError(f"no primary metric for task type {task_type!r}; add it to PRIMARY_METRIC")
    return PRIMARY_METRIC[task_type]


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a record's metrics (a confusion matrix or per-class lists are left out)."""
    return {
        name: float(value) for name, value in metrics.items() if isinstance(value, Real) and not isinstance(value, bool)
    }


def metric_names(records: list[dict[str, Any]]) -> list[str]:
    """The scalar metrics of the records, in the order they first appear."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(scalar_metrics(record["metrics"])))
    return list(names)


def metrics_table(experiment: str, records: list[dict[str, Any]], task_types: dict[str, str]) -> pd.DataFrame:
    """Flatten evaluation records into the report's table (columns of the metrics.csv contract)."""
    rows = []
    for record in records:
        scores = scalar_metrics(record["metrics"])
        speed = record["speed"]
        rows.append(
            {
                "experiment": experiment,
                "task": record["task"],
                "seed": record.get("seed"),
                "kind": record["kind"],
                "role": record["role"],
                "model": record["name"],
                "primary_metric": primary_metric(task_types[record["task"]]),
                **scores,
                "latency_ms_per_sample": speed["latency_ms_per_sample"],
                "latency_ms_p90": speed.get("latency_ms_p90"),
                "latency_runs": speed.get("latency_runs"),
                "throughput_per_s": speed["throughput_per_s"],
                "batch_size": speed.get("batch_size"),
                "peak_rss_mb": speed.get("peak_rss_mb"),
                "device": speed["device"],
                "threads": speed["threads"],
                "params": int(record["params"]),
                "size_mb": record.get("size_mb"),
            }
        )
    return add_pareto(add_retention(pd.DataFrame(rows)))


def _score(rows: pd.DataFrame) -> pd.Series:
    """Each row's primary score."""
    return pd.Series([row[row["primary_metric"]] for _, row in rows.iterrows()], index=rows.index, dtype=float)


def add_retention(table: pd.DataFrame) -> pd.DataFrame:
    """Add `retention_pct` (score as % of the best teacher's) and `speedup` (× faster than that teacher).

    The reference is the teacher with the best primary score in each task (and seed); tasks without a
    scored teacher get empty cells.
    """
    table = table.copy()
    table["retention_pct"] = float("nan")
    table["speedup"] = float("nan")
    for _, rows in _by_run(table):
        scores = _score(rows)
        teachers = scores[rows["kind"] == "teacher"].dropna()
        if teachers.empty:
            continue
        best = teachers.idxmax()
        table.loc[rows.index, "retention_pct"] = 100 * scores / scores[best]
        table.loc[rows.index, "speedup"] = rows.loc[best, "latency_ms_per_sample"] / rows["latency_ms_per_sample"]
    return table


def _by_run(table: pd.DataFrame) -> Any:
    """The table's rows grouped by task and, when it has one, seed: the models that were compared directly."""
    columns = [column for column in ("task", "seed") if column in table]
    return table.groupby(columns, sort=False, dropna=False)


def pareto_front(scores: list[float], latencies: list[float]) -> list[bool]:
    """Which points no other point beats: none has a score as high and a latency as low, one strictly."""
    points = list(zip(scores, latencies))

    def dominated(score: float, latency: float) -> bool:
        return any(s >= score and t <= latency and (s > score or t < latency) for s, t in points)

    return [not (pd.isna(s) or pd.isna(t)) and not dominated(s, t) for s, t in points]


def add_pareto(table: pd.DataFrame) -> pd.DataFrame:
    """Add `pareto_optimal`: on its task's (and seed's) front of primary score against latency."""
    table = table.copy()
    table["pareto_optimal"] = False
    for _, rows in _by_run(table):
        front = pareto_front(_score(rows).tolist(), rows["latency_ms_per_sample"].tolist())
        table.loc[rows.index, "pareto_optimal"] = front
    return table


# The speed-and-size columns (by title) that the report shows in a second table, beside the model's name, so
# that each table fits the page (retention stays with the scores).
SPEED_TITLES = [title for key, title, _ in _SPEED_COLUMNS if key != "retention_pct"]

# Columns shown without their spread over seeds: the same for every seed, or secondary (the table must fit).
_NO_SPREAD = {"params", "size_mb", "throughput_per_s", "peak_rss_mb"}


def _cell(value: Any, pattern: str, sd: Any = None) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if sd is None or pd.isna(sd):
        return pattern.format(value)
    return f"{pattern.format(value)} ± {pattern.format(sd)}"


def _spreads(rows: pd.DataFrame, key: str) -> list[Any]:
    """A column's sd over seeds (`<key>_sd`, from `report.seeds.summarise`), or None per row."""
    column = f"{key}_sd"
    return [None] * len(rows) if key in _NO_SPREAD or column not in rows else list(rows[column])


def display_table(rows: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One task's rows as the report shows them: titled columns of formatted text.

    Role | Model | (Seeds) | metrics (primary first) | speed and size | retention | speed-up. Columns
    that are empty for every row of the task are left out. Summarised rows (`report.seeds.summarise`) show
    mean ± sd, and the number of seeds when some model has several. Markdown and HTML render this frame.
    """
    primary = rows["primary_metric"].iloc[0]
    ordered = [primary] + [name for name in metrics if name != primary]
    columns = [("role", "Role", "{}"), ("model", "Model", "{}")]
    if "n" in rows and rows["n"].max() > 1:
        columns.append(("n", "Seeds", "{:.0f}"))
    columns += [(name, METRIC_TITLES.get(name, name.replace("_", " ")), "{:.4f}") for name in ordered]
    columns += _SPEED_COLUMNS
    rows = rows.assign(timed_on=[f"{row['device']}, {row['threads']} thread(s)" for _, row in rows.iterrows()])
    shown = {
        title: [_cell(value, pattern, sd) for value, sd in zip(rows[key], _spreads(rows, key))]
        for key, title, pattern in columns
        if key in rows and rows[key].notna().any()
    }
    return pd.DataFrame(shown)


def split_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A display table as two narrower ones: the scores (with retention), and speed and size (with the model)."""
    speed = [column for column in frame.columns if column in SPEED_TITLES]
    scores = [column for column in frame.columns if column not in SPEED_TITLES]
    return frame[scores], frame[["Model", *speed]]
