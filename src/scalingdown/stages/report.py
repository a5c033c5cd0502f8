"""The `report` stage: metrics.csv, the plots, report.md and a self-contained report.html."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.pipeline.config.shipping import ShipBudget
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import atomic_path, claim_directory, write_json, write_text
from scalingdown.pipeline.paths import REPORT_FILES, shipped_dir
from scalingdown.pipeline.plan.experiment import Plan, shared_teachers
from scalingdown.pipeline.plan.members import ReportInput
from scalingdown.pipeline.specs.definitions import ReportSpec
from scalingdown.report import plots
from scalingdown.report.budget_curve import add_budget_columns, swept_cells
from scalingdown.report.compose import report_blocks
from scalingdown.report.data_warnings import few_label_warnings
from scalingdown.report.diagnostics import diagnostics
from scalingdown.report.document import to_html, to_markdown
from scalingdown.report.reproducibility import reproducibility
from scalingdown.report.seed_statistics import paired_comparisons, summarise
from scalingdown.report.selection import selection_blocks
from scalingdown.report.shape_sweep import add_shape_columns, pareto_columns, swept_tasks
from scalingdown.report.ship_pick import pick, pick_line
from scalingdown.report.tables import metric_names, metrics_table
from scalingdown.report.teachers import cache_blocks, teacher_blocks
from scalingdown.report.training_data import training_data_blocks, training_rows


def _read_json(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class UnplannedInput(UserError):
    """A file given to the report that the experiment's plan does not produce."""


def _owner(inputs: dict[str, ReportInput], path: str) -> ReportInput:
    """What a report input belongs to (its task, seed, kind and model), from the plan."""
    owner = inputs.get(os.path.abspath(path))
    if owner is None:
        raise UnplannedInput(
            f"{path}: not an evaluation, history, ensemble, benchmark or selection record of this experiment's plan"
        )
    return owner


def _seeded(record: dict[str, Any], owner: ReportInput) -> dict[str, Any]:
    """An evaluation, benchmark or ensemble record with the seed it was made with, and as its task the cell the
    report compares it within (the task's name, or its budget cell in a label-budget sweep)."""
    return {**record, "seed": owner.task.seed, "task": owner.task.cell}


def history_name(owner: ReportInput, shared: Set[str] = frozenset()) -> str:
    """A readable model name for a history: `<cell>: <student>` or `<cell>: teacher <teacher>` (the cell: the task's
    name, or its budget cell in a sweep; a teacher whose key is in `shared`, the same model in every cell, is named
    by its task)."""
    if owner.kind == "teacher":
        where = owner.task.name if owner.task.teachers[owner.name].key in shared else owner.task.cell
        return f"{where}: teacher {owner.name}"
    return f"{owner.task.cell}: {owner.name}"


def _per_cell(logs: dict[str, list[Any]], plan: Plan, shared: Set[str]) -> dict[str, list[Any]]:
    """The histories by name with each shared teacher's also under every cell's name (the diagnostics look a
    teacher up in the cell of the student it teaches)."""
    found = dict(logs)
    for task in plan.tasks.values():
        for teacher in task.teachers.values():
            if teacher.key in shared:
                found[f"{task.cell}: teacher {teacher.name}"] = logs.get(f"{task.name}: teacher {teacher.name}", [])
    return found


def chosen_steps(evaluated: list[tuple[ReportInput, dict[str, Any]]], shared: Set[str]) -> dict[str, list[float]]:
    """The step each trained model was kept at (its record's `checkpoint`), per seed, under its history's name
    (`history_name`): the markers on the validation curves. A teacher shared by the cells of a sweep counts once per
    seed; exports and untrained models have no checkpoint of their own."""
    steps: dict[str, dict[int, float]] = {}
    for owner, record in evaluated:
        checkpoint = record.get("checkpoint")
        if owner.kind != "export" and checkpoint and checkpoint.get("step") is not None:
            steps.setdefault(history_name(owner, shared), {})[owner.task.seed] = float(checkpoint["step"])
    return {name: list(by_seed.values()) for name, by_seed in steps.items()}


def ship_lines(
    plan: Plan, table: pd.DataFrame, twins: Mapping[tuple[str, str], str], untrained: Set[tuple[str, str]]
) -> dict[str, str]:
    """Per cell with a `ship` budget, the summary's line on what the `ship` stage writes there (`report.ship_pick`:
    the same pick from the same records)."""
    lines = {}
    for cell in plan.ship_cells():
        rows = table[table["task"] == cell]
        if rows.empty:
            continue
        budget = ShipBudget.from_config(plan.cell_tasks(cell)[0].spec["ship"])
        mine = {student: twin for (task, student), twin in twins.items() if task == cell}
        baselines = {student for task, student in untrained if task == cell}
        lines[cell] = pick_line(pick(summarise(rows), rows, budget, mine, baselines), shipped_dir(plan.root, cell))
    return lines


def _remove_undeclared(folder: Path, files: dict[str, Path]) -> None:
    """Remove a report file this experiment no longer writes (a budget curve left by a former sweep), so that the
    folder holds only what the report describes."""
    for name, file in REPORT_FILES.items():
        if name not in files:
            (folder / file).unlink(missing_ok=True)


def report(
    spec: ReportSpec,
    evals: list[str],
    histories: list[str],
    cached: list[str],
    ensembles: list[str],
    benchmarks: list[str],
    workflow_dir: str | None,
    out: str,
    selections: list[str] | None = None,
) -> None:
    """Write the report files (`paths.REPORT_FILES`) into the folder `out`.

    `cached` are the shared artefacts the experiment used (their provenance is reported);
    `workflow_dir` is the workflow checkout whose git commit is reported; `ensembles` are the
    `teacher_ensemble` records (one per multi-teacher task) for the Teachers section; `benchmarks` the
    tasks' timing records, where every speed column comes from; `selections` the `select_teacher` records (one per
    teacher with fine-tuning candidates, and seed).
    """
    folder = claim_directory(out, "report")
    config, experiment = spec.config, spec.experiment
    plan = Plan(config)
    inputs = {os.path.abspath(path): owner for path, owner in plan.report_inputs().items()}
    evaluated = [(_owner(inputs, path), _read_json(path)) for path in evals]
    records = [_seeded(record, owner) for owner, record in evaluated]
    timings = [_seeded(_read_json(path), _owner(inputs, path)) for path in benchmarks]
    task_types = {task.cell: task.type for task in plan.tasks.values()}
    table = add_shape_columns(add_budget_columns(metrics_table(experiment, records, task_types, timings), plan), plan)
    files = {name: folder / REPORT_FILES[name] for name in plan.report_files()}
    _remove_undeclared(folder, files)
    with atomic_path(files["metrics"]) as temporary:
        table.to_csv(temporary, index=False)

    logs: dict[str, list[Any]] = {}
    shared = shared_teachers(plan)
    for path in histories:
        logs.setdefault(history_name(_owner(inputs, path), shared), []).append(_read_json(path))
    plots.training_curves(logs, files["training_curves"])
    plots.validation_curves(logs, files["validation_curves"], chosen_steps(evaluated, shared))
    plots.score_latency(summarise(table), files["score_latency"])
    confusions = plots.confusion_matrices(records, files["confusion_matrices"])
    if "budget_curve" in files:
        plots.budget_curve(summarise(table), swept_cells(plan), files["budget_curve"])
    if "shape_front" in files:
        plots.shape_front(pareto_columns(summarise(table)), swept_tasks(plan), files["shape_front"])

    repro = reproducibility(config, timings, cached, workflow_dir)
    write_json(files["reproducibility"], repro)
    teachers = selection_blocks([_seeded(_read_json(path), _owner(inputs, path)) for path in selections or []])
    teachers += teacher_blocks([_seeded(_read_json(path), _owner(inputs, path)) for path in ensembles])
    teachers += cache_blocks(cached)
    warnings = few_label_warnings(cached)
    twins = plan.twins()
    student_teachers = {
        (task.cell, student.name): [teacher.name for teacher in student.teachers]
        for task in plan.tasks.values()
        for student in task.students.values()
    }
    untrained = {
        (task.cell, student.name)
        for task in plan.tasks.values()
        for student in task.students.values()
        if not student.trained
    }
    findings = diagnostics(
        table, paired_comparisons(table, twins), student_teachers, _per_cell(logs, plan, shared), untrained
    )
    blocks = report_blocks(
        experiment,
        table,
        metric_names(records),
        repro,
        teachers,
        timings,
        warnings,
        twins,
        diagnostics=findings,
        training_data=training_data_blocks(training_rows(plan, records)),
        budget_curve="budget_curve" in files,
        confusion_matrices=confusions,
        untrained=untrained,
        ship_lines=ship_lines(plan, table, twins, untrained),
        shape_front="shape_front" in files,
    )
    write_text(files["markdown"], to_markdown(blocks))
    write_text(files["html"], to_html(blocks, f"ScalingDown report: {experiment}", folder))
