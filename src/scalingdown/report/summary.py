"""The report's first screen: per task, the model to ship, whether distilling paid against the gold-only twin, and
each diagnostic in one line — the conclusion before the tables that back it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

import pandas as pd

from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.report.diagnostics import Finding, model_title
from scalingdown.report.document import Block, Bullets, Heading, Paragraph
from scalingdown.report.tables import METRIC_TITLES, best_teacher, value_text


def _mean_sd(row: pd.Series, key: str, pattern: str) -> str:
    return value_text(row[key], pattern, row.get(f"{key}_sd"))


def shipped_model(rows: pd.DataFrame, untrained: Set[tuple[str, str]] = frozenset()) -> pd.Series | None:
    """The model to ship among one task's summarised rows: the student or export with the best primary score (of
    equals, the faster, then the smaller); students in `untrained` ((task, name)) are baselines, not candidates."""
    metric = rows["primary_metric"].iloc[0]
    baseline = [(task, model) in untrained for task, model in zip(rows["task"], rows["model"])]
    candidates = rows[(rows["kind"] == "student") & ~pd.Series(baseline, index=rows.index, dtype=bool)]
    candidates = candidates[candidates[metric].notna()]
    if candidates.empty:
        return None
    keys = [key for key in (metric, "latency_ms_per_sample", "size_mb") if key in candidates]
    ordered = candidates.sort_values(
        keys, ascending=[False, True, True][: len(keys)], na_position="last", kind="stable"
    )
    return ordered.iloc[0]


def _ship_item(rows: pd.DataFrame, untrained: Set[tuple[str, str]], findings: Sequence[Finding]) -> Paragraph:
    best = shipped_model(rows, untrained)
    if best is None:
        return Paragraph("Model to ship: none (this task has no trained student).")
    metric = str(best["primary_metric"])
    facts = [f"{METRIC_TITLES.get(metric, metric)} {_mean_sd(best, metric, '{:.4f}')}"]
    teacher = best_teacher(rows)
    if teacher is not None and pd.notna(best.get("retention_pct")):
        facts.append(f"{_mean_sd(best, 'retention_pct', '{:.1f}')} % of the best teacher `{teacher}`")
    if pd.notna(best.get("speedup")):
        clock = " (CPU time: the timing was noisy)" if best.get("latency_clock") == "cpu" else ""
        facts.append(f"{_mean_sd(best, 'speedup', '{:.2f}')}× as fast as the teacher at batch size 1{clock}")
    if pd.notna(best.get("size_mb")):
        reference = rows[(rows["kind"] == "teacher") & (rows["model"] == teacher)]
        theirs = f" (the teacher: {reference['size_mb'].iloc[0]:.1f} MiB)" if len(reference) else ""
        facts.append(f"{best['size_mb']:.1f} MiB on disk{theirs}")
    title = model_title(str(best["kind"]), str(best.get("variant", ORIGINAL)), str(best["label"]))
    if any(finding.model == title for finding in findings):
        return Paragraph(
            f"Most accurate student or export: `{best['label']}`: {', '.join(facts)}; it misses a class (below), so "
            "it is not fit to ship as it is."
        )
    return Paragraph(f"Model to ship: `{best['label']}`: {', '.join(facts)}.")


def _paid_items(task: str, comparisons: pd.DataFrame) -> list[Paragraph]:
    """Whether distilling paid: each distilled student's paired test against its gold-only twin, with its numbers."""
    mine = comparisons[comparisons["task"] == task] if len(comparisons) else comparisons
    if mine.empty:
        return [
            Paragraph(
                "Did distilling pay? Not tested: no distilled student of this task has a gold-only twin (a student "
                "with `teachers: []` that starts from the same weights)."
            )
        ]
    items = []
    for row in mine.itertuples(index=False):
        test, title = row.test, METRIC_TITLES.get(row.metric, row.metric)
        pair = f"`{row.student}` − its gold-only twin `{row.baseline}`"
        if test.n < 2:
            items.append(
                Paragraph(
                    f"Did distilling pay? {pair}: {title} {test.mean:+.4f} on one seed, so there is no test of it "
                    "(list several `seeds` for a paired test)."
                )
            )
            continue
        answer = {"gain beyond seed noise": "Yes", "loss beyond seed noise": "No, it hurt"}.get(test.verdict, "Unclear")
        items.append(
            Paragraph(
                f"Did distilling pay? {answer}: {pair}: {title} {test.mean:+.4f}, paired over {test.n} seeds "
                f"(standard error {test.standard_error:.4f}): {test.verdict}."
            )
        )
    return items


def summary_blocks(
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    findings: Sequence[Finding],
    untrained: Set[tuple[str, str]] = frozenset(),
    ship_lines: Mapping[str, str] | None = None,
) -> list[Block]:
    """The Summary section: per task (the summarised metrics table's), the model to ship with its score, retention,
    speed-up and size (a task with a `ship` budget: the line on what was shipped within it, `ship_lines`), each
    distilled student's paired test against its twin, and each diagnostic's line (bold)."""
    blocks: list[Block] = [Heading("Summary")]
    for task, rows in summary.groupby("task", sort=False):
        mine = [finding for finding in findings if finding.task == task]
        shipped = (ship_lines or {}).get(str(task))
        items = [
            Paragraph(shipped) if shipped else _ship_item(rows, untrained, mine),
            *_paid_items(str(task), comparisons),
            *(Paragraph(finding.line, strong=True) for finding in mine),
        ]
        blocks += [Heading(f"Task: {task}", 3), Bullets(tuple(items))]
    return blocks
