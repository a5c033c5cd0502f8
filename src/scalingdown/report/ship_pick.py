"""The pick under a budget (`tasks.<task>.ship`): the most accurate student or export whose latency and size fit.

One pick per task (per cell of a label-budget sweep), over its seeds: each model's mean primary score, mean latency
(the benchmark's headline clock, one clock for all the seeds, as the report's speed table) and size, from the
summarised metrics table (`report.seed_statistics.summarise`). A model fits when its mean latency and size are within
the budget (a model the benchmark did not time never fits a latency budget); of those that fit, the best mean score
wins, then the faster, then the smaller; untrained students are baselines, never picked. The weights shipped are
those of the seed whose model scored best on the validation split (its kept checkpoint; an export: its student's;
ties: the first seed), so no seed is chosen on its test score. Used by the `ship` stage (which writes the pick) and
the report (which states it), on the same records.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

import pandas as pd

from scalingdown.pipeline.config.shipping import ShipBudget
from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.report.per_class import class_column, class_labels
from scalingdown.report.seed_statistics import paired_comparisons
from scalingdown.report.tables import best_teacher


@dataclass(frozen=True)
class Pick:
    """What the budget picks in one task: the model's summarised row (None: none fits), its seed to ship, the
    fastest and the smallest candidates (to say by how much a budget is missed), the best teacher's row and the
    paired test against the gold-only twin of the picked model's student (None without a twin); `never_recalled`:
    the models not shipped because they never predict right a class the teacher does (`missed_class`), as
    (label, class)."""

    budget: ShipBudget
    row: pd.Series | None
    seed: int | None
    fastest: pd.Series | None
    smallest: pd.Series | None
    teacher: pd.Series | None
    twin: str | None
    twin_difference: float | None
    twin_standard_error: float | None
    candidates: int
    never_recalled: tuple[tuple[str, str], ...] = ()


def _fits(row: pd.Series, budget: ShipBudget) -> bool:
    latency, size = row.get("latency_ms_per_sample"), row.get("size_mb")
    if budget.max_latency_ms is not None and (latency is None or pd.isna(latency) or latency > budget.max_latency_ms):
        return False
    return budget.max_size_mb is None or not (size is None or pd.isna(size) or size > budget.max_size_mb)


def candidates(summary: pd.DataFrame, untrained: Set[str] = frozenset()) -> pd.DataFrame:
    """One task's summarised student and export rows that may ship: scored, not untrained baselines, and not
    missing a class (`missed_class`)."""
    metric = summary["primary_metric"].iloc[0]
    rows = summary[(summary["kind"] == "student") & ~summary["model"].isin(list(untrained))]
    rows = rows[rows[metric].notna()]
    teacher = _teacher_row(summary)
    return rows[[missed_class(row, teacher) is None for _, row in rows.iterrows()]]


def missed_class(row: pd.Series, teacher: pd.Series | None) -> str | None:
    """A class of the test split the summarised model never predicted right on any seed (mean recall 0) though the
    best teacher does (mean recall above 0; without a teacher, any class): such a model is never shipped, whatever
    its accuracy. None when it misses no class, or when its record has no per-class scores."""
    for label in class_labels(row.to_frame().T):
        recall, support = row.get(class_column("recall", label)), row.get(class_column("support", label))
        if pd.isna(recall) or recall > 0 or pd.isna(support) or support == 0:
            continue
        known = None if teacher is None else teacher.get(class_column("recall", label))
        if known is None or pd.isna(known) or known > 0:
            return label
    return None


def _teacher_row(summary: pd.DataFrame) -> pd.Series | None:
    """The best teacher's summarised row (None without a teacher)."""
    name = best_teacher(summary)
    return None if name is None else summary[(summary["kind"] == "teacher") & (summary["model"] == name)].iloc[0]


def pick(
    summary: pd.DataFrame,
    table: pd.DataFrame,
    budget: ShipBudget,
    twins: Mapping[str, str],
    untrained: Set[str] = frozenset(),
) -> Pick:
    """The pick in one task: `summary` is its summarised metrics table, `table` its rows per seed (for the seed to
    ship and the paired twin test), `twins` each distilled student's gold-only twin, `untrained` the untrained
    students."""
    metric = str(summary["primary_metric"].iloc[0])
    found = candidates(summary, untrained)
    teacher = _teacher_row(summary)
    scored = summary[(summary["kind"] == "student") & ~summary["model"].isin(list(untrained))]
    never_recalled = tuple(
        (str(row["label"]), str(missed_class(row, teacher)))
        for _, row in scored.iterrows()
        if missed_class(row, teacher) is not None
    )
    fitting = found[[_fits(row, budget) for _, row in found.iterrows()]]
    if fitting.empty:
        return Pick(
            budget,
            None,
            None,
            _first(found, "latency_ms_per_sample"),
            _first(found, "size_mb"),
            teacher,
            None,
            None,
            None,
            len(found),
            never_recalled,
        )
    ordered = fitting.sort_values(
        [metric, "latency_ms_per_sample", "size_mb"], ascending=[False, True, True], na_position="last", kind="stable"
    )
    row = ordered.iloc[0]
    twin = twins.get(str(row["model"]))
    difference, error = _twin_test(table, str(row["model"]), twin)
    seed = _seed_to_ship(table, row)
    return Pick(budget, row, seed, None, None, teacher, twin, difference, error, len(found), never_recalled)


def _first(rows: pd.DataFrame, column: str) -> pd.Series | None:
    present = rows[rows[column].notna()] if column in rows else rows.iloc[0:0]
    return None if present.empty else present.sort_values(column, kind="stable").iloc[0]


def _seed_to_ship(table: pd.DataFrame, row: pd.Series) -> int | None:
    """The seed whose student (the picked model's own, for an export) kept the best validation score; ties and
    records without one: the first seed."""
    students = table[(table["kind"] == "student") & (table["model"] == row["model"]) & (table["variant"] == ORIGINAL)]
    seeds = [int(seed) for seed in students["seed"].dropna()] if "seed" in students else []
    if not seeds:
        return None
    scores = students["checkpoint_score"].tolist() if "checkpoint_score" in students else [math.nan] * len(seeds)
    best = max(range(len(seeds)), key=lambda index: (-math.inf if pd.isna(scores[index]) else scores[index], -index))
    return seeds[best]


def _twin_test(table: pd.DataFrame, student: str, twin: str | None) -> tuple[float | None, float | None]:
    """The mean per-seed difference (student − twin) of the primary score and its standard error (None: no twin)."""
    if twin is None:
        return None, None
    cell = str(table["task"].iloc[0])
    comparisons = paired_comparisons(table, {(cell, student): twin})
    if comparisons.empty:
        return None, None
    test = comparisons.iloc[0]["test"]
    return test.mean, None if test.n < 2 else test.standard_error


def pick_line(pick_: Pick, where: str) -> str:
    """The report's line for a pick: the model, its score against the teacher and the twin, latency, size and where
    it was written; or why nothing fits."""
    budget = pick_.budget.text
    excluded = (
        f" Not shipped whatever their score, as they never predict right a class of the test split that the "
        f"teacher does: "
        f"{', '.join(f'`{model}` ({label})' for model, label in pick_.never_recalled)}."
        if pick_.never_recalled
        else ""
    )
    return _pick_sentence(pick_, where, budget) + excluded


def _pick_sentence(pick_: Pick, where: str, budget: str) -> str:
    if pick_.row is None:
        if not pick_.candidates:
            return f"Shipped under the budget ({budget}): nothing (this task has no trained student or export)."
        misses = []
        if pick_.fastest is not None and pick_.budget.max_latency_ms is not None:
            misses.append(
                f"the fastest, `{pick_.fastest['label']}`, takes {pick_.fastest['latency_ms_per_sample']:.2f} ms"
            )
        if pick_.smallest is not None and pick_.budget.max_size_mb is not None:
            misses.append(f"the smallest, `{pick_.smallest['label']}`, is {pick_.smallest['size_mb']:.1f} MiB")
        detail = f": {'; '.join(misses)}" if misses else ""
        return f"Shipped under the budget ({budget}): no model fits, so nothing was shipped ({where} says so){detail}."
    facts = "; ".join(pick_facts(pick_))
    return f"Shipped under the budget ({budget}): `{pick_.row['label']}` (seed {pick_.seed}) to `{where}`: {facts}."


def pick_facts(pick_: Pick) -> list[str]:
    """The picked model's figures in words: score, against the teacher, against the twin, latency, size."""
    row = pick_.row
    if row is None:
        return []
    metric = str(row["primary_metric"])
    facts = [f"{metric} {_mean_sd(row, metric, '{:.4f}')}"]
    if pick_.teacher is not None:
        delta = row[metric] - pick_.teacher[metric]
        facts.append(
            f"{delta * 100:+.2f} points against the teacher `{pick_.teacher['model']}` ({pick_.teacher[metric]:.4f})"
        )
    if pick_.twin is not None and pick_.twin_difference is not None:
        error = "" if pick_.twin_standard_error is None else f", standard error {pick_.twin_standard_error * 100:.2f}"
        facts.append(f"{pick_.twin_difference * 100:+.2f} points against its gold-only twin `{pick_.twin}`{error}")
    if pd.notna(row.get("latency_ms_per_sample")):
        clock = "CPU" if row.get("latency_clock") == "cpu" else "wall"
        speedup = "" if pd.isna(row.get("speedup")) else f", {row['speedup']:.1f}× the teacher"
        facts.append(f"{row['latency_ms_per_sample']:.2f} ms per text at batch size 1 ({clock} time{speedup})")
    if pd.notna(row.get("size_mb")):
        facts.append(f"{row['size_mb']:.1f} MiB on disk")
    return facts


def _mean_sd(row: pd.Series, key: str, pattern: str) -> str:
    sd = row.get(f"{key}_sd")
    return pattern.format(row[key]) + ("" if sd is None or pd.isna(sd) else f" ± {pattern.format(sd)}")


def shipped_variant(row: pd.Series) -> str:
    """The variant of a picked row (`fp32` for the student as trained)."""
    return str(row.get("variant", ORIGINAL))


def as_record(pick_: Pick) -> dict[str, Any]:
    """The pick as the ship record states it (plain JSON values)."""

    def plain(value: Any) -> Any:
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else value

    row = pick_.row
    return {
        "budget": pick_.budget._asdict(),
        "budget_text": pick_.budget.text,
        "shipped": None
        if row is None
        else {
            "model": str(row["model"]),
            "variant": shipped_variant(row),
            "label": str(row["label"]),
            "seed": pick_.seed,
            "metric": str(row["primary_metric"]),
            "score": plain(float(row[row["primary_metric"]])),
            "score_sd": plain(float(row.get(f"{row['primary_metric']}_sd", math.nan))),
            "latency_ms": plain(float(row.get("latency_ms_per_sample", math.nan))),
            "latency_clock": row.get("latency_clock"),
            "speedup": plain(float(row.get("speedup", math.nan))),
            "size_mb": plain(float(row.get("size_mb", math.nan))),
            "teacher": None if pick_.teacher is None else str(pick_.teacher["model"]),
            "teacher_score": None if pick_.teacher is None else plain(float(pick_.teacher[row["primary_metric"]])),
            "twin": pick_.twin,
            "twin_difference": plain(pick_.twin_difference),
            "twin_standard_error": plain(pick_.twin_standard_error),
            "facts": pick_facts(pick_),
        },
        "candidates": pick_.candidates,
        "never_recalled": [{"model": model, "class": label} for model, label in pick_.never_recalled],
    }
