"""Label-budget sweeps (`data.label_budget` as a list): the plan per budget cell (folders, keys, what the cells
share), the config checks of the list, and the report's per-cell statistics and budget curve on small tables."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest

from scalingdown.pipeline import paths
from scalingdown.pipeline.config.label_budgets import budget_cells, check_budgets, folder_label
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.experiment import Plan, shared_teachers
from scalingdown.report import plots
from scalingdown.report.budget_curve import BUDGET, BUDGET_ROWS, add_budget_columns, curve_tasks, swept_cells
from scalingdown.report.compose import report_blocks
from scalingdown.report.document import to_markdown
from scalingdown.report.reproducibility import reproducibility
from scalingdown.report.seed_statistics import paired_comparisons, summarise
from scalingdown.report.tables import metrics_table
from tests.pipeline.conftest import config_error, resolved_tiny_config, set_task_key, tiny_written

TASK = "tasks.sentiment"


def _sweep(budgets: list | float, seeds: list[int] | None = None, teacher_budget: float | None = 1.0) -> dict:
    """The tiny experiment with the students' label budget `budgets` (a list: a sweep)."""
    config = resolved_tiny_config()
    task = config["tasks"]["sentiment"]
    task["data"]["label_budget"] = budgets
    if teacher_budget is not None:
        task["teachers"]["big"]["label_budget"] = teacher_budget
    if seeds is not None:
        del config["seed"]
        config["seeds"] = seeds
    return config


# -- the plan ------------------------------------------------------------------------------------------------------
def test_each_budget_is_a_cell_with_its_own_folder_and_the_seeds_below_it():
    plan = Plan(_sweep([0.25, 0.5, 1.0], seeds=[7, 8]))
    assert list(plan.tasks) == [
        f"sentiment/budget-{label}/seed-{seed}" for label in ("0.25", "0.5", "all") for seed in (7, 8)
    ]
    cell = plan.tasks["sentiment/budget-0.25/seed-8"]
    assert (cell.name, cell.cell, cell.budget, cell.seed) == ("sentiment", "sentiment/budget-0.25", 0.25, 8)
    assert plan.student("sentiment/budget-0.25/seed-8", "distilled").model_dir == (
        "results/tiny/sentiment/budget-0.25/seed-8/students/distilled/model"
    )
    assert all(re.fullmatch(paths.TASK_FOLDER_PATTERN, folder) for folder in plan.tasks)
    # one seed without `seeds`: the cells alone
    assert list(Plan(_sweep([0.5, 1.0])).tasks) == ["sentiment/budget-0.5", "sentiment/budget-all"]


def test_a_single_budget_keeps_todays_folder_and_keys_and_a_one_element_list_is_a_cell():
    single, listed = Plan(_sweep(0.5)), Plan(_sweep([0.5]))
    assert list(single.tasks) == ["sentiment"] and list(listed.tasks) == ["sentiment/budget-0.5"]
    plain, cell = single.tasks["sentiment"], listed.tasks["sentiment/budget-0.5"]
    assert plain.cell == "sentiment" and (plain.data_key, plain.teachers["big"].logits_key) == (
        cell.data_key,
        cell.teachers["big"].logits_key,
    )


def test_the_all_labels_teacher_is_one_model_per_seed_shared_by_every_budget():
    plan = Plan(_sweep([0.25, 0.5, 1.0], seeds=[7, 8]))
    by_seed: dict[int, set[str]] = {}
    for task in plan.tasks.values():
        by_seed.setdefault(task.seed, set()).add(task.teachers["big"].key)
    assert {seed: len(keys) for seed, keys in by_seed.items()} == {7: 1, 8: 1}
    assert shared_teachers(plan) == {key for keys in by_seed.values() for key in keys}
    # its cache covers each cell's own rows; the every-label cell is the experiment without budgets
    assert len({task.teachers["big"].logits_key for task in plan.tasks.values()}) == 6
    unbudgeted = Plan(_sweep(1.0, seeds=[7, 8])).tasks["sentiment/seed-7"]
    everything = plan.tasks["sentiment/budget-all/seed-7"]
    assert (everything.data_key, everything.teachers["big"].logits) == (
        unbudgeted.data_key,
        unbudgeted.teachers["big"].logits,
    )
    # the students start from the same weights at every budget; the history of the shared teacher is read once
    assert len({task.students["distilled"].init_dir for task in plan.tasks.values()}) == 2
    assert len(plan.histories()) == len(set(plan.histories()))


def test_a_teacher_on_the_students_labels_is_trained_per_budget():
    plan = Plan(_sweep([0.25, 0.5, 1.0], teacher_budget=None))
    cells = list(plan.tasks.values())
    assert len({task.teachers["big"].key for task in cells}) == 3 and shared_teachers(plan) == set()
    assert [task.teachers["big"].data_key == task.data_key for task in cells] == [True, True, True]


def _artefacts(plan: Plan) -> set[str]:
    """What jobs build: prepared data, teachers, caches, initial weights, students, evaluation records."""
    found = set(plan.cached_artefacts()) | set(plan.eval_files()) | set(plan.benchmark_files())
    for task in plan.tasks.values():
        found |= {t.model_dir for t in task.teachers.values()} | {s.model_dir for s in task.students.values()}
    return found


def test_adding_a_budget_adds_only_that_budgets_artefacts():
    before, after = Plan(_sweep([0.25, 1.0])), Plan(_sweep([0.25, 0.5, 1.0]))
    added = _artefacts(after) - _artefacts(before)
    assert _artefacts(before) <= _artefacts(after)
    cell = after.tasks["sentiment/budget-0.5"]
    assert {path for path in added if "results/tiny/" in path} == {
        path for path in added if path.startswith("results/tiny/sentiment/budget-0.5/")
    }
    assert {path for path in added if path.startswith(paths.CACHE)} == {cell.data_dir, cell.teachers["big"].logits}


@pytest.mark.parametrize(
    ("budget", "label"),
    [(0.05, "0.05"), (0.1, "0.1"), (1e-05, "0.00001"), (200, "200"), (200.0, "200"), (1, "all"), (1.0, "all")],
)
def test_a_budget_folder_label_is_readable_and_a_valid_folder(budget, label):
    assert folder_label(budget) == label
    assert re.fullmatch(paths.TASK_FOLDER_PATTERN, paths.task_folder("sentiment", 13, label))


def test_the_cells_keep_the_configs_order():
    assert budget_cells({"label_budget": [200, 0.1, 1.0]}) == [(200, "200"), (0.1, "0.1"), (None, "all")]
    assert budget_cells({"label_budget": 0.1}) == [(0.1, None)] and budget_cells({}) == [(None, None)]


# -- config checks -------------------------------------------------------------------------------------------------
SWEEP_CASES = {
    "sweep-empty": ([], f"{TASK}.data.label_budget", "an empty list runs nothing"),
    "sweep-duplicate": ([0.1, 0.5, 0.1], f"{TASK}.data.label_budget[2]", "budget of element [0] (10 % of the labels)"),
    "sweep-1-and-1.0": ([1, 0.5, 1.0], f"{TASK}.data.label_budget[2]", "budget of element [0] (all labels) again"),
    "sweep-bad-element": ([0.5, 0], f"{TASK}.data.label_budget[1]", "0 is not a budget"),
    "sweep-element-not-a-number": ([0.5, "half"], f"{TASK}.data.label_budget[1]", "found 'half'"),
    "sweep-count-above-the-training-rows": (
        [0.5, 100],
        f"{TASK}.data.label_budget[1]",
        "100 labelled rows is more than the 36 training rows",
    ),
}


@pytest.mark.parametrize(("budgets", "key", "problem"), list(SWEEP_CASES.values()), ids=list(SWEEP_CASES))
def test_a_bad_budget_list_is_refused_before_any_job_naming_the_key(tmp_path, budgets, key, problem):
    error = config_error(tiny_written(set_task_key("data", "label_budget", budgets)), tmp_path)
    assert (error.key, problem in error.problem) == (key, True), error.problem


def test_a_budget_list_is_accepted(tmp_path):
    with pytest.raises(AssertionError, match="accepted"):
        config_error(tiny_written(set_task_key("data", "label_budget", [0.25, 0.5, 1.0])), tmp_path)


def test_a_budget_list_on_a_multiple_choice_task_is_refused():
    task = {"type": "multiple_choice", "data": {"loader": "winogrande", "label_budget": [0.1, 0.5]}, "teachers": {}}
    with pytest.raises(ConfigError) as raised:
        check_budgets("tasks.mc", task, None)
    assert raised.value.key == "tasks.mc.data.label_budget" and "not multiple_choice tasks" in raised.value.problem


def test_a_budget_list_on_a_generative_task_is_accepted_but_transfer_text_is_not():
    task = {"type": "generative_qa", "data": {"loader": "triviaqa", "label_budget": [0.1, 0.5]}, "teachers": {}}
    check_budgets("tasks.qa", task, None)
    task["data"]["transfer"] = {"loader": "text_lines"}
    with pytest.raises(ConfigError) as raised:
        check_budgets("tasks.qa", task, None)
    assert raised.value.key == "tasks.qa.data.transfer" and "classification tasks" in raised.value.problem


# -- the report ----------------------------------------------------------------------------------------------------
def _record(task: str, seed: int, kind: str, name: str, accuracy: float) -> dict:
    return {
        "task": task,
        "seed": seed,
        "kind": kind,
        "role": kind,
        "name": name,
        "metrics": {"accuracy": accuracy},
        "params": 10,
    }


# accuracy by (cell, model): a cell's seeds differ by ±0.01
SCORES = {
    ("sentiment/budget-0.25", "teacher", "big"): 0.80,
    ("sentiment/budget-0.25", "student", "gold_only"): 0.50,
    ("sentiment/budget-0.25", "student", "distilled"): 0.60,
    ("sentiment/budget-all", "teacher", "big"): 0.80,
    ("sentiment/budget-all", "student", "gold_only"): 0.70,
    ("sentiment/budget-all", "student", "distilled"): 0.71,
}


def _table(plan: Plan) -> pd.DataFrame:
    records = [
        _record(cell, seed, kind, name, score + (0.01 if seed == 8 else -0.01))
        for (cell, kind, name), score in SCORES.items()
        for seed in (7, 8)
    ]
    types = {task.cell: task.type for task in plan.tasks.values()}
    return add_budget_columns(metrics_table("exp", records, types), plan)


def _manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan: Plan) -> None:
    """Manifests of every cell's prepared data: 9 labelled rows at 0.25 (seed 8: 10), 36 with every label."""
    monkeypatch.chdir(tmp_path)
    for task in plan.tasks.values():
        labelled = 36 if task.budget is None else 9 + (task.seed == 8)
        folder = Path(task.data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = f'{{"splits": {{"train": {{"rows": 36}}}}, "labelled_rows": {labelled}, "transfer_rows": 0}}'
        (folder / "manifest.json").write_text(
            manifest if task.budget is not None else '{"splits": {"train": {"rows": 36}}}'
        )


@pytest.fixture
def swept(tmp_path, monkeypatch) -> tuple[Plan, pd.DataFrame]:
    plan = Plan(_sweep([0.25, 1.0], seeds=[7, 8]))
    _manifests(tmp_path, monkeypatch, plan)
    return plan, _table(plan)


def test_the_metrics_table_says_each_rows_budget_and_labelled_rows(swept):
    _, table = swept
    rows = table.set_index(["task", "seed", "model"])
    assert rows.loc[("sentiment/budget-0.25", 8, "distilled"), [BUDGET, BUDGET_ROWS]].tolist() == ["0.25", 10.0]
    assert rows.loc[("sentiment/budget-all", 7, "big"), [BUDGET, BUDGET_ROWS]].tolist() == ["all", 36.0]
    # an experiment without a sweep keeps its columns
    plain = Plan(resolved_tiny_config())
    records = [_record("sentiment", 7, "student", "gold_only", 0.5)]
    assert BUDGET not in add_budget_columns(metrics_table("exp", records, {"sentiment": "classification"}), plain)


def test_seeds_are_folded_and_students_paired_within_a_budget_not_across_budgets(swept):
    plan, table = swept
    summary = summarise(table).set_index(["task", "model"])
    assert summary.loc[("sentiment/budget-0.25", "distilled"), "accuracy"] == pytest.approx(0.60)
    assert summary.loc[("sentiment/budget-all", "distilled"), "accuracy"] == pytest.approx(0.71)
    assert summary.loc[("sentiment/budget-0.25", "gold_only"), "n"] == 2
    assert summary.loc[("sentiment/budget-0.25", "gold_only"), BUDGET_ROWS] == pytest.approx(9.5)
    comparisons = paired_comparisons(table, plan.twins()).set_index("task")
    assert [test.mean for test in comparisons["test"]] == pytest.approx([0.10, 0.01])
    assert comparisons.loc["sentiment/budget-0.25", "seeds"] == [7, 8]


def test_the_budget_curve_draws_one_line_per_model_over_the_budgets(swept, tmp_path):
    plan, table = swept
    cells = swept_cells(plan)
    assert cells == {"sentiment/budget-0.25": "sentiment", "sentiment/budget-all": "sentiment"}
    drawn = plots.budget_curve(summarise(table), cells, tmp_path / "curve.png")
    assert drawn == {"sentiment": ["teacher big", "student gold_only", "student distilled"]}
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    blocks = report_blocks(
        "exp", table, ["accuracy"], reproducibility({"experiment": "exp"}, [], [], None), budget_curve=True
    )
    markdown = to_markdown(blocks)
    assert "](budget_curve.png)" in markdown
    assert "## Task: sentiment/budget-0.25" in markdown and "## Task: sentiment/budget-all" in markdown


def test_only_a_sweep_of_two_or_more_budgets_declares_the_budget_curve():
    """The rule's outputs and the stage's files come from `Plan.report_files`: no empty figure without a curve."""
    for config in (resolved_tiny_config(), _sweep(0.5), _sweep([0.5]), _sweep([0.5], seeds=[7, 8])):
        plan = Plan(config)
        assert plan.budget_curve_tasks() == [] and set(plan.report_files()) == set(paths.REPORT_FILES) - {
            "budget_curve",
            "shape_front",  # no student sweeps shapes either
        }
    sweep = Plan(_sweep([0.25, 1.0], seeds=[7, 8]))
    assert sweep.budget_curve_tasks() == ["sentiment"]
    assert sweep.report_files()["budget_curve"] == "results/tiny/report/budget_curve.png"


def test_without_two_budgets_the_report_shows_no_budget_curve(swept):
    plan, table = swept
    one_cell = table[table["task"] == "sentiment/budget-all"]
    assert curve_tasks(summarise(one_cell), swept_cells(plan)) == []
    blocks = report_blocks("exp", one_cell, ["accuracy"], reproducibility({"experiment": "exp"}, [], [], None))
    assert "budget_curve.png" not in to_markdown(blocks)


def test_a_sweep_config_is_not_changed_by_planning():
    config = _sweep([0.25, 1.0])
    kept = copy.deepcopy(config)
    Plan(config)
    assert config == kept
