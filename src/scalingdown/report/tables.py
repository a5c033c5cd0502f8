"""The metrics table: one row per (task, seed, model), with retention, speed-up and the Pareto front.

Generic over task types and metrics: every scalar in an evaluation record's `metrics` becomes a
column, and `PRIMARY_METRIC` (the one table to extend for a new task type) names the score that
ranks models, defines the best teacher and sets retention. Every speed column (latency, its spread,
throughput, speed-up with its interval, peak memory) comes from the task's `benchmark` record, which timed
all its models together; evaluation records give the scores, the parameter count and the size on disk.
A student's export (`variant` other than `fp32`) is a row of its own. Each class's precision, recall, F1 and
support (`report.per_class`) and the checkpoint a trained model was selected at (`report.chosen_checkpoints`) are
columns too.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import pandas as pd

from scalingdown.pipeline.names.export_variants import ORIGINAL, TITLES
from scalingdown.pipeline.names.tasks import PRIMARY_METRIC
from scalingdown.report.chosen_checkpoints import COUNT_COLUMNS, checkpoint_columns
from scalingdown.report.per_class import class_column, class_labels, per_class_columns

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
    "perplexity": "Perplexity (gold)",
    "kl_to_teacher_mean": "KL to teacher (mean)",
    "kl_to_teacher_p99": "KL to teacher (p99)",
    "top1_agreement": "Top-1 agreement",
}

# A generating model's speed columns (`evaluation.generation_speed`), where its benchmark record has them.
GENERATION_SPEED = ("tokens_per_s_batch_1", "tokens_per_s_batch", "time_to_first_token_ms")

# The speed and size table of a task: (column, title, format). A column that a task lacks is left out.
_SPEED_COLUMNS = [
    ("latency_ms_per_sample", "Latency (ms)", "{:.2f}"),
    ("latency_iqr_ms", "IQR (ms)", "{:.2f}"),
    ("throughput_per_s", "Throughput (/s)", "{:,.1f}"),
    ("speedup_text", "Speed-up (×) [95 % CI]", "{}"),
    ("tokens_per_s_batch_1", "Tokens/s (batch 1)", "{:,.1f}"),
    ("tokens_per_s_batch", "Tokens/s (batched)", "{:,.1f}"),
    ("time_to_first_token_ms", "First token (ms)", "{:.1f}"),
    ("memory_mb", "Peak memory (MiB)", "{:,.0f}"),
    ("size_mb", "Size on disk (MiB)", "{:.1f}"),
    ("params", "Parameters", "{:,.0f}"),
]


def model_label(name: str, variant: str) -> str:
    """How the report names a model: `distilled`, or for an export `distilled · ONNX int8`."""
    return name if variant == ORIGINAL else f"{name} · {TITLES.get(variant, variant)}"


def benchmark_id(record: dict[str, Any]) -> str:
    """The id under which the task's benchmark record holds this evaluation record's model."""
    variant = record.get("variant", ORIGINAL)
    if variant != ORIGINAL:
        return f"export.{record['name']}.{variant}"
    return f"{record['kind']}.{record['name']}"


def primary_metric(task_type: str) -> str:
    """The metric that ranks models of a task type."""
    if task_type not in PRIMARY_METRIC:
        raise KeyError(f"no primary metric for task type {task_type!r}; add it to PRIMARY_METRIC")
    return PRIMARY_METRIC[task_type]


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a record's metrics (a confusion matrix or per-class lists are left out)."""
    return {
        name: float(value)
        for name, value in metrics.items()
        if isinstance(value, (int, float, Real)) and not isinstance(value, bool)
    }


def metric_names(records: list[dict[str, Any]]) -> list[str]:
    """The scalar metrics of the records, in the order they first appear."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(scalar_metrics(record["metrics"])))
    return list(names)


def metrics_table(
    experiment: str,
    records: list[dict[str, Any]],
    task_types: dict[str, str],
    benchmarks: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """Flatten evaluation records, with their models' timings from the tasks' `benchmark` records (one per task
    and seed), into the report's table (columns of the metrics.csv contract). A task's figures all come from one
    clock: CPU time when some seed's timing was noisy, its headline clock otherwise."""
    timings = {(record["task"], record.get("seed")): record for record in benchmarks or []}
    clocks = headline_clocks(benchmarks or [])
    rows = []
    for record in records:
        variant = record.get("variant", ORIGINAL)
        timing = timings.get((record["task"], record.get("seed")))
        rows.append(
            {
                "experiment": experiment,
                "task": record["task"],
                "seed": record.get("seed"),
                "kind": record["kind"],
                "role": record["role"],
                "model": record["name"],
                "variant": variant,
                "label": model_label(record["name"], variant),
                "primary_metric": primary_metric(task_types[record["task"]]),
                **scalar_metrics(record["metrics"]),
                **per_class_columns(record["metrics"]),
                **checkpoint_columns(record),
                **_speed(timing, benchmark_id(record), clocks.get(record["task"], "wall")),
                **_agreement(record),
                "params": int(record["params"]),
                "size_mb": record.get("size_mb"),
            }
        )
    return add_pareto(add_retention(_counts_as_integers(pd.DataFrame(rows))))


def _agreement(record: dict[str, Any]) -> dict[str, float]:
    """An export's agreement with its float32 student on the test split (`evaluation.metrics.agreement`): the share
    of equal labels as a percentage and the largest probability difference; nothing for other models."""
    found = record.get("agreement")
    if not found:
        return {}
    return {"agreement_pct": 100 * float(found["labels_equal"]), "max_prob_diff": float(found["max_prob_diff"])}


def _counts_as_integers(table: pd.DataFrame) -> pd.DataFrame:
    """Columns that count (support, steps, validation rows) as whole numbers, empty where a model has none (untrained:
    no checkpoint), so that metrics.csv reads `54`, not `54.0`."""
    counts = [name for name in table.columns if name in COUNT_COLUMNS or name.startswith(class_column("support", ""))]
    return table.astype(dict.fromkeys(counts, "Int64"))


def headline_clocks(benchmarks: list[dict[str, Any]]) -> dict[str, str]:
    """Per task, the clock its speed figures are read on: `cpu` when some seed's benchmark chose it (the timing
    was noisy), `wall` otherwise, so that the seeds of a task are averaged on one clock."""
    clocks: dict[str, str] = {}
    for record in benchmarks:
        if clocks.get(record["task"]) != "cpu":
            clocks[record["task"]] = record["headline_clock"]
    return clocks


def _speed(timing: dict[str, Any] | None, model_id: str, clock: str) -> dict[str, Any]:
    """A model's speed columns on `clock` from its task's benchmark record (empty when it was not timed)."""
    if timing is None or model_id not in timing["models"]:
        return {}
    entry = timing["models"][model_id]
    latency = entry["latency_ms"][clock]
    speedup = entry["speedup"][clock] if timing["reference_is_teacher"] else {}
    memory = entry.get("memory") or {}
    generation = entry.get("generation") or {}
    return {
        "latency_ms_per_sample": latency["median"],
        "latency_iqr_ms": latency["iqr"],
        "latency_clock": clock,
        "throughput_per_s": entry["throughput_per_s"],
        "speedup": speedup.get("median"),
        "speedup_low": speedup.get("low"),
        "speedup_high": speedup.get("high"),
        "memory_mb": memory.get("model_peak_mb"),
        **{key: generation.get(key) for key in GENERATION_SPEED},
        "timing_noisy": timing["noisy"],
        "device": timing["device"],
        "threads": timing["settings"]["threads"],
    }


def primary_scores(rows: pd.DataFrame) -> pd.Series:
    """Each row's primary score."""
    return pd.Series([row[row["primary_metric"]] for _, row in rows.iterrows()], index=rows.index, dtype=float)


def best_teacher(rows: pd.DataFrame) -> str | None:
    """The teacher with the best primary score among one task's rows (the first of equals; a summarised table: the
    best mean), or None when no teacher is scored."""
    teachers = rows[rows["kind"] == "teacher"]
    scores = primary_scores(teachers).dropna()
    return None if scores.empty else str(teachers.loc[scores.idxmax(), "model"])


def add_retention(table: pd.DataFrame) -> pd.DataFrame:
    """Add `retention_pct`: the score as % of the best teacher's (the best primary score in the task and seed;
    the benchmark times speed-ups against the same teacher). Tasks without a scored teacher get empty cells."""
    table = table.copy()
    table["retention_pct"] = float("nan")
    for column in ("latency_ms_per_sample", "speedup"):
        if column not in table:
            table[column] = float("nan")
    for _, rows in _by_run(table):
        scores = primary_scores(rows)
        teachers = scores[rows["kind"] == "teacher"].dropna()
        if not teachers.empty:
            table.loc[rows.index, "retention_pct"] = 100 * scores / scores[teachers.idxmax()]
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
        front = pareto_front(primary_scores(rows).tolist(), rows["latency_ms_per_sample"].tolist())
        table.loc[rows.index, "pareto_optimal"] = front
    return table


# Columns shown without their spread over seeds: the same for every seed, a spread already, or secondary (the
# tables must fit the page).
_NO_SPREAD = {
    "params",
    "size_mb",
    "throughput_per_s",
    "latency_iqr_ms",
    "memory_mb",
    "max_prob_diff",
    *GENERATION_SPEED,
}


def value_text(value: Any, pattern: str, sd: Any = None) -> str:
    """A value as the tables show it: `0.8917`, `0.8917 ± 0.0382` with its sd over seeds, `–` for none."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if sd is None or pd.isna(sd):
        return pattern.format(value)
    return f"{pattern.format(value)} ± {pattern.format(sd)}"


def _spreads(rows: pd.DataFrame, key: str) -> list[Any]:
    """A column's sd over seeds (`<key>_sd`, from `report.seed_statistics.summarise`), or None per row."""
    column = f"{key}_sd"
    return [None] * len(rows) if key in _NO_SPREAD or column not in rows else list(rows[column])


def _shown(rows: pd.DataFrame, columns: list[tuple[str, str, str]]) -> pd.DataFrame:
    """The columns that are filled for some row, titled, as formatted text (mean ± sd where rows summarise
    several seeds)."""
    return pd.DataFrame(
        {
            title: [value_text(value, pattern, sd) for value, sd in zip(rows[key], _spreads(rows, key))]
            for key, title, pattern in columns
            if key in rows and rows[key].notna().any()
        }
    )


def _several_seeds(rows: pd.DataFrame) -> bool:
    return "n" in rows and bool(rows["n"].max() > 1)


def quality_table(rows: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One task's scores as the report shows them: Role | Model | (Seeds) | metrics (primary first) | retention |
    the chosen checkpoint's step (`chosen_step`, text from `report.chosen_checkpoints.steps_text`) and validation score.

    Columns empty for every row of the task are left out. Summarised rows (`report.seed_statistics.summarise`) show
    mean ± sd, and the number of seeds when some model has several. Markdown and HTML render this frame.
    """
    primary = rows["primary_metric"].iloc[0]
    ordered = [primary] + [name for name in metrics if name != primary]
    columns = [("role", "Role", "{}"), ("label", "Model", "{}")]
    if _several_seeds(rows):
        columns.append(("n", "Seeds", "{:.0f}"))
    columns += [(name, METRIC_TITLES.get(name, name.replace("_", " ")), "{:.4f}") for name in ordered]
    columns += [
        ("retention_pct", "Retention (%)", "{:.1f}"),
        ("chosen_step", "Chosen step", "{}"),
        ("checkpoint_score", "Validation score", "{:.4f}"),
    ]
    return _shown(rows, columns)


def _speedup_text(row: pd.Series) -> str | None:
    """A speed-up as `median [low–high]` (its 95 % interval, one seed) or `mean ± sd` (of the seeds' medians)."""
    if pd.isna(row["speedup"]):
        return None
    sd = row.get("speedup_sd")
    if sd is not None and not pd.isna(sd):
        return f"{row['speedup']:.2f} ± {sd:.2f}"
    return f"{row['speedup']:.2f} [{row['speedup_low']:.2f}–{row['speedup_high']:.2f}]"


def speed_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One task's speed and size: Model | latency, its IQR, throughput | speed-up with its 95 % interval (one
    seed) or its sd over seeds | a generating model's tokens/s and time to first token | peak memory | size on disk |
    parameters (the same rows as `quality_table`)."""
    rows = rows.assign(speedup_text=[_speedup_text(row) for _, row in rows.iterrows()])
    speedup_title = "Speed-up (×)" if _several_seeds(rows) else "Speed-up (×) [95 % CI]"
    columns = [(key, speedup_title if key == "speedup_text" else title, form) for key, title, form in _SPEED_COLUMNS]
    return _shown(rows, [("label", "Model", "{}"), *columns])


def agreement_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One task's exports against the float32 student each was made from: Model | primary score | labels equal (%) |
    largest probability difference (summarised rows: mean ± sd over seeds, the difference's largest mean). Empty when
    the task has no export with agreement figures."""
    if "agreement_pct" not in rows:
        return pd.DataFrame()
    exports = rows[rows["agreement_pct"].notna()]
    primary = rows["primary_metric"].iloc[0]
    columns = [
        ("label", "Export", "{}"),
        (primary, METRIC_TITLES.get(primary, primary), "{:.4f}"),
        ("agreement_pct", "Same label as the fp32 student (%)", "{:.2f}"),
        ("max_prob_diff", "Largest probability difference", "{:.5f}"),
    ]
    return _shown(exports, columns) if len(exports) else pd.DataFrame()


_CLASS_SCORE_TITLES = {"precision": "Precision", "recall": "Recall", "f1": "F1"}


def _class_score(row: pd.Series, score: str, label: str) -> str:
    key = class_column(score, label)
    return value_text(row[key], "{:.4f}", row.get(f"{key}_sd"))


def per_class_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One task's per-class scores: Model | Class | Support | Precision | Recall | F1, one row per model with
    per-class scores and class (summarised rows: mean ± sd over seeds; the support, the class's test rows, as its
    mean). Empty when no model has them."""
    titles = ["Model", "Class", "Support", *_CLASS_SCORE_TITLES.values()]
    labels = class_labels(rows)
    if not labels:
        return pd.DataFrame(columns=titles)
    scored = rows[rows[class_column("support", labels[0])].notna()]
    lines = [
        [row["label"], label, value_text(row[class_column("support", label)], "{:.0f}")]
        + [_class_score(row, score, label) for score in _CLASS_SCORE_TITLES]
        for _, row in scored.iterrows()
        for label in labels
    ]
    return pd.DataFrame(lines, columns=titles)
