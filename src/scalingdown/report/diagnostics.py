"""Diagnostics a user can act on: a teacher that scores below the gold-only student it is meant to improve, and a
distilled student that is worse than its gold-only twin beyond the paired test. Each comes with its evidence (test
scores, the teacher's validation curve, the per-seed differences) and what to try.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from scalingdown.report.document import Block, Heading, Paragraph
from scalingdown.report.seed_statistics import per_seed_text
from scalingdown.report.tables import METRIC_TITLES

History = list[dict[str, Any]]

TEACHER_ADVICE = (
    "What to try: unless it already saw every training label, give it more (`teachers.{teacher}.label_budget`, "
    "e.g. 1.0: every training label); train it longer or at another learning "
    "rate (`finetune.epochs`, `finetune.learning_rate`: a validation curve still rising wants more epochs, one that "
    "peaks early a lower rate or fewer epochs; list several, e.g. `finetune.learning_rate: [5.0e-5, 1.0e-4, "
    "2.0e-4]`, and the workflow keeps the best on the validation split), or use a stronger model; until it beats "
    "the gold-only student, distilling from it will likely hurt."
)
STUDENT_ADVICE = (
    "What to try: first check its teachers (a teacher below the gold-only student is flagged above); then lean "
    "more on the labels (raise `loss.ce`, lower `loss.kd`) or soften less (a lower `loss.temperature`); with "
    "few labels, more transfer text (`data.transfer`) helps only if the teacher is right on it. Until then the "
    "gold-only student `{baseline}` is the better model."
)


def _score(summary: pd.DataFrame, task: str, kind: str, model: str) -> pd.Series | None:
    rows = summary[(summary["task"] == task) & (summary["kind"] == kind) & (summary["model"] == model)]
    return None if rows.empty else rows.iloc[0]


def _score_text(row: pd.Series, metric: str) -> str:
    spread = row.get(f"{metric}_sd")
    sd = f" ± {spread:.4f}" if spread is not None and pd.notna(spread) else ""
    return f"{row[metric]:.4f}{sd} (n = {int(row['n'])})"


def validation_text(runs: Sequence[History], metric: str) -> str:
    """Where a model's validation `metric` peaked during training, per run: `best 0.71 at step 40 of 60`."""
    key = f"eval_{metric}"
    found = []
    for history in runs:
        points = [(entry["step"], entry[key]) for entry in history if key in entry and "step" in entry]
        if points:
            step, best = max(points, key=lambda point: point[1])
            found.append(f"best {best:.4f} at step {step} of {points[-1][0]}")
    return "; ".join(found)


def diagnostics(
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    student_teachers: Mapping[tuple[str, str], Sequence[str]],
    histories: Mapping[str, Sequence[History]],
) -> list[Block]:
    """Bold findings with evidence and advice: every teacher of a distilled student scoring below that student's
    gold-only twin, and every distilled student whose paired test says it lost to its twin.

    `summary` is `seeds.summarise` of the metrics table, `comparisons` `seeds.paired_comparisons`,
    `student_teachers` (task, student) → its teachers, `histories` the training histories by report name
    (`<task>: teacher <name>`)."""
    blocks: list[Block] = []
    flagged: set[tuple[str, str, str]] = set()
    for row in comparisons.itertuples(index=False):
        twin = _score(summary, row.task, "student", row.baseline)
        if twin is None:
            continue
        title = METRIC_TITLES.get(row.metric, row.metric)
        for teacher in student_teachers.get((row.task, row.student), ()):
            scored = _score(summary, row.task, "teacher", teacher)
            if scored is None or (row.task, teacher, row.baseline) in flagged or scored[row.metric] >= twin[row.metric]:
                continue
            flagged.add((row.task, teacher, row.baseline))
            curve = validation_text(histories.get(f"{row.task}: teacher {teacher}", []), row.metric)
            curve = f" Its validation {title} during fine-tuning (validation_curves.png): {curve}." if curve else ""
            blocks.append(
                Paragraph(
                    f"Teacher `{teacher}` of task {row.task} scores below the gold-only student `{row.baseline}`: "
                    f"test {title} {_score_text(scored, row.metric)} against {_score_text(twin, row.metric)}."
                    + curve
                    + " "
                    + TEACHER_ADVICE.format(teacher=teacher),
                    strong=True,
                )
            )
    for row in comparisons.itertuples(index=False):
        test = row.test
        if not test.beyond_noise or test.mean >= 0:
            continue
        title = METRIC_TITLES.get(row.metric, row.metric)
        blocks.append(
            Paragraph(
                f"Distilled student `{row.student}` of task {row.task} is worse than its gold-only twin "
                f"`{row.baseline}` beyond seed noise: {title} difference per seed "
                f"{per_seed_text(row.seeds, test.differences)}, mean {test.mean:+.4f}, standard error "
                f"{test.standard_error:.4f}. " + STUDENT_ADVICE.format(baseline=row.baseline),
                strong=True,
            )
        )
    return [Heading("Diagnostics"), *blocks] if blocks else []
