"""Results over seeds: every model's mean ± sd and n, and the paired test of a distilled student against its
gold-only twin.

The metrics table has one row per model and seed. `summarise` folds the seeds into one row per model;
`paired_comparisons` takes, seed by seed, the difference between a distilled student's primary score and its
twin's (same task, same seed: same split, same starting weights) and asks whether their mean exceeds twice its
standard error — the report's test of whether distillation paid beyond seed-to-seed noise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.report.tables import add_pareto

SEED = "seed"
# The columns that say where a model was trained besides its seed: seeds are folded and models paired within them.
CELL = ["task"]
# A model: its kind and name, and for a student's export the variant (`fp32` for the model itself).
MODEL = [*CELL, "kind", "model", "variant"]
# Numeric columns that identify or describe a measurement rather than measure: never averaged.
_NOT_MEASURED = {SEED, "pareto_optimal", "threads", "latency_runs", "batch_size"}


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model (per task): `n` (its seeds), the mean of every measured column and its sd over the seeds
    as `<column>_sd` (NaN for one seed); other columns keep their first value. The Pareto flags are recomputed on
    the means. Rows keep the order in which models first appear."""
    model = [column for column in MODEL if column in table]
    measured = [
        column
        for column in table.columns
        if column not in _NOT_MEASURED and column not in MODEL and pd.api.types.is_numeric_dtype(table[column])
    ]
    rows = []
    for _, group in table.groupby(model, sort=False, dropna=False):
        row = group.iloc[0].drop(labels=[SEED], errors="ignore").to_dict()
        row["n"] = len(group)
        for column in measured:
            values = group[column].dropna().astype(float)
            row[column] = values.mean() if len(values) else float("nan")
            row[f"{column}_sd"] = values.std(ddof=1) if len(values) > 1 else float("nan")
        rows.append(row)
    return add_pareto(pd.DataFrame(rows))


@dataclass(frozen=True)
class PairedTest:
    """Per-seed differences (distilled − twin) of a score: their mean, its standard error (sd / √n, NaN for one
    seed) and whether the mean lies beyond twice that standard error."""

    differences: tuple[float, ...]

    @property
    def n(self) -> int:
        """How many seeds are paired."""
        return len(self.differences)

    @property
    def mean(self) -> float:
        """The mean difference (NaN without seeds)."""
        return statistics.fmean(self.differences) if self.differences else float("nan")

    @property
    def standard_error(self) -> float:
        """The standard error of the mean difference: sd / √n (NaN for one seed)."""
        if self.n < 2:
            return float("nan")
        return statistics.stdev(self.differences) / math.sqrt(self.n)

    @property
    def beyond_noise(self) -> bool | None:
        """|mean| > 2 standard errors; None with fewer than two seeds (no standard error)."""
        if self.n < 2:
            return None
        return abs(self.mean) > 2 * self.standard_error

    @property
    def verdict(self) -> str:
        """The test's outcome in words, for the report."""
        if self.beyond_noise is None:
            return "one seed: no test (list several seeds)"
        if not self.beyond_noise:
            return "within seed noise"
        return "gain beyond seed noise" if self.mean > 0 else "loss beyond seed noise"


def paired_comparisons(table: pd.DataFrame, twins: Mapping[tuple[str, str], str]) -> pd.DataFrame:
    """One row per distilled student with a gold-only twin: task, student, baseline, metric, the seeds both have,
    the per-seed differences of the primary metric, and the `PairedTest` of them.

    Exports of a student are not compared (their scores follow the student's). `twins` maps (task, student) to
    the twin's name (`pipeline.config.twins`); students whose twin has no rows are left out.
    """
    students = table[table["kind"] == "student"]
    if "variant" in students:
        students = students[students["variant"] == ORIGINAL]
    rows = []
    for (task, student), baseline in twins.items():
        mine = students[(students["task"] == task) & (students["model"] == student)]
        theirs = students[(students["task"] == task) & (students["model"] == baseline)]
        if mine.empty or theirs.empty:
            continue
        metric = str(mine["primary_metric"].iloc[0])
        pairs = mine[[SEED, metric]].merge(theirs[[SEED, metric]], on=SEED, suffixes=("", "_twin"), sort=True)
        differences = tuple(float(a - b) for a, b in zip(pairs[metric], pairs[f"{metric}_twin"]))
        rows.append(
            {
                "task": task,
                "student": student,
                "baseline": baseline,
                "metric": metric,
                "seeds": [_seed_value(seed) for seed in pairs[SEED]],
                "test": PairedTest(differences),
            }
        )
    return pd.DataFrame(rows, columns=["task", "student", "baseline", "metric", "seeds", "test"])


def _seed_value(seed: object) -> int | None:
    return None if seed is None or pd.isna(seed) else int(str(seed))


def seeds_of(table: pd.DataFrame) -> list[int]:
    """The seeds the table's rows come from, sorted (empty when the records carry none)."""
    return sorted({int(seed) for seed in table[SEED].dropna()}) if SEED in table else []


def per_seed_text(seeds: Sequence[int | None], values: Sequence[float], pattern: str = "{:+.4f}") -> str:
    """`+0.0120 (13), −0.0040 (14)`: each seed's value, labelled with the seed."""
    return ", ".join(
        pattern.format(value) + ("" if seed is None else f" ({seed})") for seed, value in zip(seeds, values)
    )
