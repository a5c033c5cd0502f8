"""Every path the workflow writes, in one place: the rules use these functions with wildcard names
(`data_dir("{data_key}")` is the rule's output pattern), the plan with real keys.

Shared artefacts live under `results/cache/` and carry a hash of what determines them in their name, so
that experiments share them; an experiment's own outputs live under `results/<experiment>/`.
Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

RESULTS = "results"
CACHE = f"{RESULTS}/cache"

# Bump a number when the code that produces that artefact changes what it writes: the new value changes
# every path of that kind, so old caches are never reused by mistake. `logits` covers every teacher cache,
# `topk` text-to-text caches alone (it enters their key: 2 = the tail summed in log space and the validation
# perplexity recorded).
FORMAT_VERSIONS = {"data": 3, "teacher": 1, "logits": 3, "student": 1, "topk": 2, "export": 1}

# The report's files: output name in the rule -> file name in the report folder. `budget_curve` is written only
# when some task sweeps two or more label budgets (`Plan.report_files` says which an experiment writes).
REPORT_FILES = {
    "metrics": "metrics.csv",
    "markdown": "report.md",
    "html": "report.html",
    "reproducibility": "reproducibility.json",
    "training_curves": "training_curves.png",
    "validation_curves": "validation_curves.png",
    "score_latency": "score_latency.png",
    "confusion_matrices": "confusion_matrices.png",
    "budget_curve": "budget_curve.png",
}


# -- shared artefacts (results/cache) ---------------------------------------------------------------------------
def data_dir(data_key: str) -> str:
    """A task's prepared splits (Parquet) and manifest."""
    return f"{CACHE}/data/{data_key}"


def teacher_dir(teacher_key: str) -> str:
    """A fine-tuned teacher: `model/`, `history.json` and, while it trains, `checkpoints/`."""
    return f"{CACHE}/teachers/{teacher_key}"


def teacher_model(teacher_key: str) -> str:
    """A fine-tuned teacher's model directory."""
    return f"{teacher_dir(teacher_key)}/model"


def teacher_history(teacher_key: str) -> str:
    """A fine-tuned teacher's training history (JSON)."""
    return f"{teacher_dir(teacher_key)}/history.json"


def teacher_checkpoints(teacher_key: str) -> str:
    """Resumable training state; deliberately not a declared output (Snakemake deletes those)."""
    return f"{teacher_dir(teacher_key)}/checkpoints"


def teacher_selection(teacher_key: str) -> str:
    """A selected teacher's record of its candidates (`select_teacher`): their settings, keys and validation scores."""
    return f"{teacher_dir(teacher_key)}/selection.json"


# The key of a teacher selected among fine-tuning candidates ends in this; the rules tell the `select_teacher`
# outputs from the `finetune_teacher` ones by it (the same folders under `results/cache/teachers/`).
SELECTED_SUFFIX = ".selected"
SELECTED_TEACHER_KEY = r"[^/]+\.selected"
FINETUNED_TEACHER_KEY = r"[^/]+(?<!\.selected)"


def logits_file(logits_key: str) -> str:
    """A teacher's logit cache (one Parquet file with its fingerprint)."""
    return f"{CACHE}/logits/{logits_key}-f{FORMAT_VERSIONS['logits']}.parquet"


def student_init_dir(init_key: str) -> str:
    """A student's starting weights, shared by every student (of any experiment) with the same init."""
    return f"{CACHE}/student-init/{init_key}"


# -- an experiment's own outputs (results/<experiment>) --------------------------------------------------------
# The rules' `{task}` wildcard: a task's folder under the experiment root (see `task_folder`).
TASK_FOLDER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*(/budget-(all|[0-9]+(\.[0-9]+)?))?(/seed-[0-9]+)?"


def experiment_root(experiment: str) -> str:
    """Where an experiment's own outputs live."""
    return f"{RESULTS}/{experiment}"


def task_folder(task: str, seed: int | None = None, budget: str | None = None) -> str:
    """Where one task's students and evaluations live under the experiment root: `<task>`, with
    `/budget-<budget>` when the task lists several label budgets (`config.label_budgets.folder_label`), and
    `/seed-<seed>` when the experiment lists `seeds` (`plan.seeds`). The `task` argument of the functions
    below is this."""
    cell = task if budget is None else f"{task}/budget-{budget}"
    return cell if seed is None else f"{cell}/seed-{seed}"


def student_dir(root: str, task: str, student: str) -> str:
    """A trained student: `model/`, `history.json` and, while it trains, `checkpoints/`."""
    return f"{root}/{task}/students/{student}"


def student_model(root: str, task: str, student: str) -> str:
    """A trained student's model directory."""
    return f"{student_dir(root, task, student)}/model"


def student_history(root: str, task: str, student: str) -> str:
    """A trained student's training history (JSON)."""
    return f"{student_dir(root, task, student)}/history.json"


def student_inputs_checked(root: str, task: str, student: str) -> str:
    """The record of `check_distill_inputs`, a temporary input of `distill` (deleted once `distill` ran)."""
    return f"{student_dir(root, task, student)}/inputs-checked.json"


def student_checkpoints(root: str, task: str, student: str) -> str:
    """Resumable training state; deliberately not a declared output (Snakemake deletes those)."""
    return f"{student_dir(root, task, student)}/checkpoints"


def export_dir(root: str, task: str, student: str, variant: str) -> str:
    """One shipping variant of a student (`onnx-fp32`, `onnx-int8`, `torch-int8`): a directory that runs alone."""
    return f"{student_dir(root, task, student)}/export/{variant}"


def eval_file(root: str, task: str, kind: str, name: str) -> str:
    """One model's evaluation record; `kind` is `teacher` or `student`."""
    return f"{root}/{task}/eval/{kind}.{name}.json"


def export_eval_file(root: str, task: str, student: str, variant: str) -> str:
    """The evaluation record of one export of a student."""
    return f"{root}/{task}/eval/export.{student}.{variant}.json"


def benchmark_file(root: str, task: str) -> str:
    """The interleaved timing record of every model of a task (teachers, students, exports)."""
    return f"{root}/{task}/eval/benchmark.json"


def ensemble_file(root: str, task: str) -> str:
    """Teacher agreement and ensemble scores of a task (from the cached test logits)."""
    return f"{root}/{task}/eval/ensemble.json"


def report_dir(root: str) -> str:
    """The experiment's report folder."""
    return f"{root}/report"


def report_file(root: str, name: str) -> str:
    """A report file by its output name (a key of `REPORT_FILES`)."""
    return f"{report_dir(root)}/{REPORT_FILES[name]}"


def log_file(root: str, stage: str, name: str) -> str:
    """The log of one job of `stage` (its rule's `log:`)."""
    return f"{root}/logs/{stage}/{name}.log"
