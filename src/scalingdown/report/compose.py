"""The report's content as document blocks: the summary (the conclusion, first), tables per task (mean ± sd over
seeds) with per-class scores, the paired comparison of each distilled student with its gold-only twin, figures,
reproducibility block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any

import pandas as pd
import yaml

from scalingdown.pipeline.paths import REPORT_FILES
from scalingdown.report.chosen_checkpoints import EARLY_STOP_MARK, steps_text
from scalingdown.report.diagnostics import Finding, diagnostic_blocks
from scalingdown.report.document import Alert, Block, Code, Figure, Heading, Paragraph, Table
from scalingdown.report.seed_statistics import MODEL, paired_comparisons, per_seed_text, seeds_of, summarise
from scalingdown.report.shape_sweep import shape_table
from scalingdown.report.summary import summary_blocks
from scalingdown.report.tables import (
    METRIC_TITLES,
    agreement_table,
    best_teacher,
    headline_clocks,
    per_class_table,
    quality_table,
    speed_table,
)

# The report's figures: output name (see pipeline.paths.REPORT_FILES) -> caption, in the order they appear.
FIGURES = {
    "training_curves": "Training loss over steps: the total and each loss term (CE, each divergence, …) in its own "
    "panel (several seeds: their mean, with a ±sd band).",
    "validation_curves": "Validation scores over steps, one panel per metric (several seeds: their mean, with a "
    "±sd band).",
    "score_latency": "Primary score against latency at batch 1 (the benchmark's headline clock); the dashed line "
    "is the Pareto front (squares: teachers, circles: students, triangles: students' exports; several seeds: "
    "means with ±sd error bars).",
    "confusion_matrices": "Confusion matrices on the test split (rows: gold label; colour: share of the row; "
    "several seeds: summed).",
}
# The figure of a label-budget sweep, shown only when some task sweeps two or more budgets.
BUDGET_CURVE = (
    "Test score against the labelled training rows of the students, one panel per task that sweeps label budgets "
    "(`data.label_budget` as a list; each tick: the rows and the budget), one line per model: students solid, "
    "teachers dashed (a teacher with its own label budget is the same model at every budget); several seeds: means "
    "with ±sd error bars."
)
# The figure of a shape sweep, shown only when some student sweeps shapes.
SHAPE_FRONT = (
    "Primary score against latency at batch size 1 (left) and against size on disk (right), per task that sweeps "
    "student shapes (`init.layers` as a list of layer lists, `max_length` as a list): every teacher, student and "
    "export, means with ±sd error bars over seeds; the dashed lines are the Pareto fronts, and the models on them "
    "are named."
)
# How many of a noisy run's reasons the warning lists (the record has them all).
_REASONS_SHOWN = 3
_CLOCKS = {
    "wall": "wall time",
    "cpu": "process CPU time (the run was noisy; other processes disturb it less than wall time)",
}


def _setup_text(setup: dict[str, Any]) -> str:
    device = setup["device"] + (f" ({setup['device_name']})" if setup.get("device_name") else "")
    return (
        f"{device}, {setup['threads']} thread(s); models of a task interleaved in one process, "
        f"{setup['rounds']} rounds × {setup['calls_per_round']} calls at batch size 1 after {setup['warmup']} "
        f"warm-up calls; throughput at batch size {setup['batch_size']}"
    )


def _seeds_text(seeds: list[int]) -> str:
    if len(seeds) > 1:
        return (
            f" Every number is the mean ± sd over the seeds {', '.join(map(str, seeds))}: each seed re-splits the "
            "data and retrains every teacher and student (the Seeds column counts them per model); retention and "
            "speed-up are computed per seed, then averaged."
        )
    if seeds:
        return (
            f" One seed ({seeds[0]}): no spread is measured; list several under `seeds` for mean ± sd and a paired "
            "test of each distilled student against its gold-only twin."
        )
    return ""


def _intro(repro: dict[str, Any], seeds: list[int]) -> list[Block]:
    setups = repro["timing"]
    blocks: list[Block] = [
        Paragraph(
            "Scores on the test split. Retention is the score as % of the best teacher's in the task; speed-up is "
            "how many times faster than that teacher a model answers at batch size 1. Every model of a task "
            "(teachers, students and the students' exports) is timed together by the task's `benchmark` job; "
            "each task's speed section says how." + _seeds_text(seeds)
        )
    ]
    if len(setups) > 1:
        blocks.append(
            Alert(
                "the tasks were not all timed the same way, so speeds across tasks are not comparable: "
                + "; ".join(_setup_text(s) for s in setups)
                + "."
            )
        )
    return blocks


def _noise_reasons(timings: list[dict[str, Any]]) -> str:
    """The reasons the noisy records give (`seed n: …` with several seeds), the first few of them."""
    reasons = []
    for timing in timings:
        if timing["noisy"]:
            prefix = f"seed {timing['seed']}: " if len(timings) > 1 and timing.get("seed") is not None else ""
            reasons += [prefix + reason for reason in timing["noisy_because"]]
    more = len(reasons) - _REASONS_SHOWN
    return "; ".join(reasons[:_REASONS_SHOWN]) + (f"; {more} more in the records" if more > 0 else "")


def _timing_blocks(timings: list[dict[str, Any]], reference: str | None, clock: str) -> list[Block]:
    """How a task's models were timed (from its benchmark records, one per seed, all timed the same way), on
    which clock its figures are, and a warning when some timing was noisy."""
    if not timings:
        return [Paragraph("This task has no benchmark record, so its models have no speed figures.")]
    timing = timings[0]
    settings, unit = timing["settings"], timing["unit"]
    against = f"`{reference}`" if reference and timing["reference_is_teacher"] else "the first model (no teacher)"
    jobs = "job" if len(timings) == 1 else f"job of each of the {len(timings)} seeds"
    text = (
        f"Timed by the `benchmark` {jobs} on {timing['device']} ({timing['device_name']}) with {settings['threads']} "
        f"thread(s): {len(timing['models'])} models in one process, {settings['rounds']} rounds in rotated order, "
        f"each running every model on the same {settings['calls_per_round']} {unit}s at batch size 1 and one "
        f"batch of {settings['batch_size']} (throughput), after {settings['warmup']} warm-up call(s). Latency is the "
        f"median per {unit} at batch size 1 and IQR its interquartile range; speed-up against {against} is the "
        "median over rounds of the per-round ratio, with its 95 % distribution-free interval"
        + (" (the table: mean ± sd of the seeds' medians)" if len(timings) > 1 else "")
        + f". Headline clock: {_CLOCKS[clock]}."
    )
    if timing.get("memory_method"):
        note = f"; {timing['memory_note']}" if timing.get("memory_note") else ""
        text += (
            " Peak memory: each model loaded and run alone in a fresh child process, above that process's own "
            f"baseline (the record states the method){note}."
        )
    blocks: list[Block] = [Paragraph(text)]
    if any(record["noisy"] for record in timings):
        blocks.append(
            Alert(
                "the timing was noisy, so this task's latencies and speed-ups are on CPU time; rerun `benchmark` on "
                "a quiet machine for wall-time figures.",
                details=f"Noisy timing: {_noise_reasons(timings)}. Rule: {timing['noisy_rule']}.",
            )
        )
    return blocks


def _task_blocks(
    task: str, rows: pd.DataFrame, metrics: list[str], timings: list[dict[str, Any]], clock: str
) -> list[Block]:
    metric = rows["primary_metric"].iloc[0]
    title = METRIC_TITLES.get(metric, metric)
    best_name = best_teacher(rows)
    if best_name is None:
        reference = "This task has no scored teacher, so retention and speed-up are not defined."
    else:
        best = rows[(rows["kind"] == "teacher") & (rows["model"] == best_name)].iloc[0]
        latency = "" if pd.isna(best["latency_ms_per_sample"]) else f", {best['latency_ms_per_sample']:.2f} ms"
        reference = f"Reference teacher: `{best_name}` ({title} {best[metric]:.4f}{latency})."
    front = ", ".join(f"`{name}`" for name in rows.loc[rows["pareto_optimal"], "label"])
    return [
        Heading(f"Task: {task}"),
        Paragraph(f"Ranked by {title}. {reference}{_selection_text(rows)}"),
        Table(quality_table(rows, metrics)),
        *_per_class_blocks(task, rows),
        Heading("Speed and size", 3),
        *_timing_blocks(timings, best_name, clock),
        Table(speed_table(rows)),
        Paragraph(f"On the {title}–latency Pareto front (no other model is both better and faster): {front}."),
        *_agreement_blocks(task, rows),
        *_shape_blocks(task, rows),
    ]


def _agreement_blocks(task: str, rows: pd.DataFrame) -> list[Block]:
    """How each export of the task agrees with the float32 student it was made from (nothing without exports)."""
    return _table_block(
        agreement_table(rows),
        f"Exports against their students: {task}",
        "Each export's test predictions against those of the float32 student it was made from, on the same texts: "
        "the share with the same label and the largest difference of any class probability. Dynamic int8 scales "
        "activations by each batch, static int8 by scales calibrated once on training texts.",
    )


def _shape_blocks(task: str, rows: pd.DataFrame) -> list[Block]:
    """The task's student shapes with their score, latency, size and fronts (nothing without a shape sweep)."""
    return _table_block(
        shape_table(rows),
        f"Student shapes: {task}",
        "Each shape of a swept student (kept layers, input length) and its exports: score, latency at batch size "
        "1 and size, and whether no other model of the task (teachers included) is both better and faster, or both "
        "better and smaller (see the shape-front figure).",
    )


def _table_block(frame: pd.DataFrame, heading: str, text: str) -> list[Block]:
    """A table under its heading and a paragraph saying what it holds; nothing when the table is empty."""
    return [] if frame.empty else [Heading(heading, 3), Paragraph(text), Table(frame)]


def _per_class_blocks(task: str, rows: pd.DataFrame) -> list[Block]:
    """The per-class section of a task (nothing when no model of it has per-class scores)."""
    frame = per_class_table(rows)
    if frame.empty:
        return []
    return [
        Heading(f"Per class: {task}", 3),
        Paragraph(
            "Each class's scores on the test split: precision (of the rows predicted as the class, the share that "
            "are), recall (of the class's rows, the share found) and F1; support is the class's test rows. A "
            "model whose recall on a class is below half of the best teacher's, or below chance, is flagged under "
            "Diagnostics."
        ),
        Table(frame),
    ]


def _selection_text(rows: pd.DataFrame) -> str:
    """How the trained models' checkpoints were chosen, when their records say (the Chosen step column)."""
    if "chosen_step" not in rows or rows["chosen_step"].isna().all():
        return ""
    metrics = sorted({str(name).removeprefix("eval_") for name in rows["checkpoint_metric"].dropna()})
    named = " / ".join(METRIC_TITLES.get(name, name) for name in metrics)
    stopped = (
        f"; {EARLY_STOP_MARK}: training stopped early on some seed (`training.early_stopping`)"
        if rows["chosen_step"].str.contains(EARLY_STOP_MARK, na=False).any()
        else ""
    )
    return (
        f" Every trained model is scored at the checkpoint with the best validation {named} (ties: the earlier): "
        "Chosen step is that checkpoint's step / the last step trained (a range when the seeds differ), Validation "
        f"score its validation score{stopped}."
    )


def _with_chosen_steps(summary: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The summarised rows with `chosen_step`: each model's chosen steps over its seeds (`checkpoints.steps_text`)."""
    model = [column for column in MODEL if column in table]
    texts = {key: steps_text(rows) for key, rows in table.groupby(model, sort=False, dropna=False)}
    return summary.assign(chosen_step=[texts.get(tuple(row[model])) for _, row in summary.iterrows()])


def _paired_blocks(task: str, comparisons: pd.DataFrame) -> list[Block]:
    """The paired comparison of each distilled student of the task with its gold-only twin."""
    if comparisons.empty:
        return []
    metrics = sorted({METRIC_TITLES.get(metric, metric) for metric in comparisons["metric"]})
    rows = []
    for row in comparisons.itertuples(index=False):
        test = row.test
        rows.append(
            (
                row.student,
                row.baseline,
                per_seed_text(row.seeds, test.differences),
                f"{test.mean:+.4f}",
                "–" if test.n < 2 else f"{test.standard_error:.4f}",
                test.verdict,
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=["Student", "Gold-only twin", "Difference per seed", "Mean difference", "Standard error", "Verdict"],
    )
    return [
        Heading(f"Distilled against gold-only: {task}", 3),
        Paragraph(
            f"Each distilled student against its gold-only twin (same seed: same split and starting weights; trained "
            f"on the gold labels alone): the difference of {' / '.join(metrics)} (distilled − twin) seed by seed, "
            "its mean, and the standard error of that mean (sd of the differences / √n). A gain is taken as real "
            "when the mean exceeds twice its standard error; `students.<name>.baseline` picks another twin."
        ),
        Table(frame),
    ]


def _versions_text(packages: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in packages.items())


def _git_text(git: dict[str, Any]) -> str:
    if git["commit"] is None:
        return str(git["note"])
    return str(git["commit"]) + (" (with uncommitted changes)" if git["dirty"] else " (clean)")


def reproducibility_blocks(repro: dict[str, Any]) -> list[Block]:
    """The reproducibility block: what produced the numbers, and which cached artefacts were reused."""
    seeds = "; ".join(f"{key} = {value}" for key, value in repro["seeds"].items())
    facts = pd.DataFrame(
        [
            ("Config hash", f"{repro['config_hash']} (sha256 of the resolved config, shown below)"),
            ("Git commit of the workflow", _git_text(repro["git"])),
            ("Packages", _versions_text(repro["packages"])),
            ("Seeds", seeds + " (training seeds not set default to the experiment seed)"),
            ("Timing setup", " | ".join(_setup_text(s) for s in repro["timing"])),
        ],
        columns=["Field", "Value"],
    )
    artefacts = pd.DataFrame(
        [
            (a["artefact"], a["status"], a["stage"] or "–", a["created"] or "–", a["host"] or "–", a["path"])
            for a in repro["artefacts"]
        ],
        columns=["Artefact", "Status", "Built by stage", "Built at (UTC)", "Host", "Path"],
    )
    config = yaml.safe_dump(repro["config"], sort_keys=False, allow_unicode=True)
    return [
        Heading("Reproducibility"),
        Table(facts),
        Heading("Cached artefacts", 3),
        Paragraph(
            "Shared artefacts under `results/cache/` are built once and reused by every experiment with "
            "the same settings; each records which experiment built it."
        ),
        Table(artefacts),
        Code(config, "yaml", summary=f"Resolved config (hash {repro['config_hash']})"),
    ]


def report_blocks(
    experiment: str,
    table: pd.DataFrame,
    metrics: list[str],
    repro: dict[str, Any],
    teachers: list[Block] | None = None,
    benchmarks: list[dict[str, Any]] | None = None,
    warnings: list[Block] | None = None,
    twins: Mapping[tuple[str, str], str] | None = None,
    diagnostics: Sequence[Finding] = (),
    training_data: list[Block] | None = None,
    budget_curve: bool = False,
    confusion_matrices: bool = True,
    untrained: Set[tuple[str, str]] = frozenset(),
    ship_lines: Mapping[str, str] | None = None,
    shape_front: bool = False,
) -> list[Block]:
    """The whole report: the summary (`report.summary`: per task the model to ship, whether distilling paid, each
    diagnostic in a line), introduction, warnings about the data, diagnostics (`report.diagnostics`, in full), per
    task its scores (with each model's chosen checkpoint and per-class scores) and its speed (from its benchmark
    records, one per seed), mean ± sd over seeds, with the paired comparison of each distilled student against its
    gold-only twin (`twins`: (task, student) → twin), the rows each model learned from (`report.training_data`), the
    teachers' section (ensembles, agreement), the figures, the reproducibility block. `table` has one row per model
    and seed; `budget_curve`: the label-budget figure was drawn (some task sweeps budgets), so it is shown too;
    `confusion_matrices`: some model has a confusion matrix (else that figure is left out); `untrained`: the (task,
    student) pairs reported untrained, never the model to ship; `ship_lines`: per task with a `ship` budget, the line
    on what was shipped (`report.ship_pick.pick_line`); `shape_front`: the shape-sweep figure was drawn."""
    clocks = headline_clocks(benchmarks or [])
    comparisons = paired_comparisons(table, twins or {})
    summary = _with_chosen_steps(summarise(table), table)
    blocks: list[Block] = [
        Heading(f"ScalingDown report: {experiment}", 1),
        *summary_blocks(summary, comparisons, diagnostics, untrained, ship_lines or {}),
        *_intro(repro, seeds_of(table)),
        *(warnings or []),
        *diagnostic_blocks(diagnostics),
    ]
    for task, rows in summary.groupby("task", sort=False):
        timings = [record for record in benchmarks or [] if record["task"] == task]
        blocks += _task_blocks(str(task), rows, metrics, timings, clocks.get(str(task), "wall"))
        blocks += _paired_blocks(str(task), comparisons[comparisons["task"] == task])
    blocks += training_data or []
    blocks += teachers or []
    blocks.append(Heading("Figures"))
    shown = {name: caption for name, caption in FIGURES.items() if confusion_matrices or name != "confusion_matrices"}
    blocks += [Figure(REPORT_FILES[name], caption) for name, caption in shown.items()]
    if budget_curve:
        blocks.append(Figure(REPORT_FILES["budget_curve"], BUDGET_CURVE))
    if shape_front:
        blocks.append(Figure(REPORT_FILES["shape_front"], SHAPE_FRONT))
    return blocks + reproducibility_blocks(repro)
