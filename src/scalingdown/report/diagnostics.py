"""Diagnostics a user can act on: a teacher that scores below the gold-only student it is meant to improve, a
distilled student that is worse than its gold-only twin beyond the paired test, and a model that misses a class (its
recall on the class below half of the best teacher's, or below chance). Each comes with its evidence (test scores,
the teacher's validation curve, the per-seed differences or recalls) and what to try, and with one line for the
report's summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

import pandas as pd

from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.report.document import Block, Heading, Paragraph
from scalingdown.report.per_class import class_column, class_labels
from scalingdown.report.seed_statistics import SEED, per_seed_text, summarise
from scalingdown.report.tables import METRIC_TITLES, best_teacher

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
RECALL_ADVICE = (
    "What to try: the confusion matrices (confusion_matrices.png) show where the class's rows go; give the model more "
    "labelled rows (`data.label_budget`; a teacher's own `label_budget`) or, for a student, more weight on them "
    "(raise `loss.ce`), and distil from a teacher that recalls the class (the per-class table). Until then the model "
    "is not fit to ship: it misses too many of this class's rows."
)


@dataclass(frozen=True)
class Finding:
    """One diagnostic of a task: `line` for the report's summary, `text` with its evidence and what to try; `model`
    names the model a missed class is about (`model_title`), empty for the other findings."""

    task: str
    line: str
    text: str
    model: str = ""


def diagnostic_blocks(findings: Sequence[Finding]) -> list[Block]:
    """The Diagnostics section: each finding in bold (nothing without findings)."""
    return [Heading("Diagnostics"), *(Paragraph(f.text, strong=True) for f in findings)] if findings else []


def _score(summary: pd.DataFrame, task: str, kind: str, model: str) -> pd.Series | None:
    rows = summary[(summary["task"] == task) & (summary["kind"] == kind) & (summary["model"] == model)]
    if "variant" in rows:
        rows = rows[rows["variant"] == ORIGINAL]
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


def _weak_teachers(
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    student_teachers: Mapping[tuple[str, str], Sequence[str]],
    histories: Mapping[str, Sequence[History]],
) -> list[Finding]:
    """Every teacher of a distilled student that scores below that student's gold-only twin (each once)."""
    findings: list[Finding] = []
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
            scores = f"test {title} {_score_text(scored, row.metric)} against {_score_text(twin, row.metric)}"
            curve = validation_text(histories.get(f"{row.task}: teacher {teacher}", []), row.metric)
            curve = f" Its validation {title} during fine-tuning (validation_curves.png): {curve}." if curve else ""
            findings.append(
                Finding(
                    row.task,
                    f"Teacher `{teacher}` scores below the gold-only student `{row.baseline}` ({scores}).",
                    f"Teacher `{teacher}` of task {row.task} scores below the gold-only student `{row.baseline}`: "
                    f"{scores}.{curve} {TEACHER_ADVICE.format(teacher=teacher)}",
                )
            )
    return findings


def _losing_students(comparisons: pd.DataFrame) -> list[Finding]:
    """Every distilled student whose paired test says it lost to its gold-only twin."""
    findings: list[Finding] = []
    for row in comparisons.itertuples(index=False):
        test = row.test
        if not test.beyond_noise or test.mean >= 0:
            continue
        title = METRIC_TITLES.get(row.metric, row.metric)
        summary = f"{title} {test.mean:+.4f} (standard error {test.standard_error:.4f}, {test.n} seeds)"
        findings.append(
            Finding(
                row.task,
                f"Distilled student `{row.student}` is worse than its gold-only twin `{row.baseline}` beyond seed "
                f"noise: {summary}.",
                f"Distilled student `{row.student}` of task {row.task} is worse than its gold-only twin "
                f"`{row.baseline}` beyond seed noise: {title} difference per seed "
                f"{per_seed_text(row.seeds, test.differences)}, mean {test.mean:+.4f}, standard error "
                f"{test.standard_error:.4f}. " + STUDENT_ADVICE.format(baseline=row.baseline),
            )
        )
    return findings


def _per_seed(rows: pd.DataFrame, key: str) -> dict[Any, float]:
    """A model's value of `key` by seed (seeds without it left out)."""
    return {seed: float(value) for seed, value in zip(rows[SEED], rows[key]) if pd.notna(value)}


def _seeds_text(values: Mapping[Any, float]) -> str:
    return per_seed_text([None if pd.isna(seed) else int(seed) for seed in values], list(values.values()), "{:.3f}")


def _on_seeds(seeds: Sequence[Any]) -> str:
    """` on seed 13`, ` on seeds 13, 15` (nothing for records without a seed)."""
    known = [str(int(seed)) for seed in seeds if seed is not None and not pd.isna(seed)]
    return f" on seed{'s' if len(known) > 1 else ''} {', '.join(known)}" if known else ""


def _recall_finding(
    task: str,
    model: str,
    label: str,
    recalls: Mapping[Any, float],
    teacher: tuple[str, Mapping[Any, float]] | None,
    chance: float,
) -> Finding | None:
    """The finding for one model (`model_title`) and class when, on some seed, its recall is below half of the
    reference teacher's on the same seed (`teacher`: its name and recalls by seed) or below chance; None otherwise.
    Its line gives the flagged seeds alone, its text every seed."""
    name, theirs = teacher or ("", {})
    halved = [seed for seed, value in recalls.items() if seed in theirs and value < theirs[seed] / 2]
    below = [seed for seed, value in recalls.items() if value < chance]
    if not halved and not below:
        return None
    flagged = [seed for seed in recalls if seed in halved or seed in below]
    values = ", ".join(f"{recalls[seed]:.3f}" for seed in flagged)
    teacher_values = ", ".join(f"{theirs[seed]:.3f}" for seed in flagged if seed in theirs)
    context = ([f"best teacher: {teacher_values}"] if teacher_values else []) + (
        [f"chance {chance:.3f}"] if below else []
    )
    against = f" against the best teacher `{name}`'s {_seeds_text(theirs)}" if theirs else ""
    reasons = [f"below half of the teacher's{_on_seeds(halved)}"] if halved else []
    reasons += [f"below chance (1/{round(1 / chance)} = {chance:.3f}){_on_seeds(below)}"] if below else []
    return Finding(
        task,
        f"{model} misses class `{label}`: recall {values}{_on_seeds(flagged)} ({'; '.join(context)}).",
        f"{model} of task {task} misses class `{label}`: its test recall {_seeds_text(recalls)}{against}; "
        f"{' and '.join(reasons)}. " + RECALL_ADVICE,
        model,
    )


def model_title(kind: str, variant: str, label: str) -> str:
    """A model as the diagnostics name it: `Teacher `big``, `Student `kd``, `Export `kd · ONNX int8`` (`label`: its
    name in the report's tables)."""
    return f"{'Teacher' if kind == 'teacher' else 'Student' if variant == ORIGINAL else 'Export'} `{label}`"


def missed_classes(
    table: pd.DataFrame, summary: pd.DataFrame, untrained: Set[tuple[str, str]] = frozenset()
) -> list[Finding]:
    """Every model (teacher, student or export) whose test recall on some class is, on some seed, below half of the
    task's best teacher's recall on that class in the same seed, or below chance (1 / the number of labels).

    `table` has one row per model and seed, `summary` is its `seeds.summarise` (the best teacher is the one with the
    best mean primary score, the report's reference teacher); students in `untrained` ((task, name): reported only
    as a baseline) are not checked."""
    findings: list[Finding] = []
    for task, rows in table.groupby("task", sort=False):
        labels = class_labels(rows)
        if not labels:
            continue
        chance = 1.0 / len(labels)
        best = best_teacher(summary[summary["task"] == task])
        reference = rows[(rows["kind"] == "teacher") & (rows["model"] == best)]
        for (kind, model, variant), mine in rows.groupby(["kind", "model", "variant"], sort=False):
            if kind == "student" and (task, model) in untrained:
                continue
            who = model_title(str(kind), str(variant), str(mine["label"].iloc[0]))
            compared = best is not None and (kind, model) != ("teacher", best)
            for label in labels:
                recall = class_column("recall", label)
                teacher = (str(best), _per_seed(reference, recall)) if compared else None
                finding = _recall_finding(str(task), who, label, _per_seed(mine, recall), teacher, chance)
                findings += [finding] if finding else []
    return findings


def diagnostics(
    table: pd.DataFrame,
    comparisons: pd.DataFrame,
    student_teachers: Mapping[tuple[str, str], Sequence[str]],
    histories: Mapping[str, Sequence[History]],
    untrained: Set[tuple[str, str]] = frozenset(),
) -> list[Finding]:
    """The findings, teachers first: every teacher of a distilled student scoring below that student's gold-only
    twin, every distilled student whose paired test says it lost to its twin, every model that misses a class.

    `table` is the metrics table (one row per model and seed), `comparisons` `seeds.paired_comparisons` of it,
    `student_teachers` (task, student) → its teachers, `histories` the training histories by report name
    (`<task>: teacher <name>`), `untrained` the (task, student) pairs reported untrained (not checked for classes)."""
    summary = summarise(table)
    return [
        *_weak_teachers(summary, comparisons, student_teachers, histories),
        *_losing_students(comparisons),
        *missed_classes(table, summary, untrained),
    ]
