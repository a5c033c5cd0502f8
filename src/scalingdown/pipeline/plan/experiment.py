"""The experiment plan: its tasks, teachers and students, the keys of the shared artefacts they use, and the
lookups the rules make by wildcard.

Shared artefacts (prepared data, fine-tuned teachers, teacher logits, student initialisations) are named by a
hash of everything that determines them (`plan.keys`), so experiments that share a teacher and a dataset
share one cache and a student setting never reaches a teacher's path. The stage specs are built from the plan
by `plan.stage_specs`; the paths come from `pipeline.paths`.

Each task is planned once per seed (`plan.seeds`): `Plan.tasks` is keyed by the task's folder (`<task>`, or
`<task>/seed-<seed>` when the config lists `seeds`), which is also the value of the rules' `{task}` wildcard, and
the `task` of a teacher or student plan is that folder. With a label budget (`config.label_budgets`) the students
learn from their own prepared data (`DataPlan`: the labelled rows and the transfer rows) and a teacher from its own
(its `label_budget`, else the students' labelled rows); a teacher with every label shares the data, and so the
fine-tuned model, of an experiment without budgets. A list of budgets is a sweep: each budget is a cell
(`<task>/budget-<label>`, then per seed), planned as a task of its own; what does not depend on the budget (a teacher
with its own `label_budget`, the students' initial weights) has the same key in every cell and so is built once.
A student that sweeps shapes (`config.shapes`: layer lists, lengths) is planned as one student per shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar

from scalingdown.pipeline import paths
from scalingdown.pipeline.canonical import canonical
from scalingdown.pipeline.config.candidates import candidates, selection_metric
from scalingdown.pipeline.config.data_files import source_files
from scalingdown.pipeline.config.label_budgets import Budget, budget_cells, normalised
from scalingdown.pipeline.config.settings import hidden_pairs
from scalingdown.pipeline.config.shapes import expand_students, shaped_students
from scalingdown.pipeline.config.twins import gold_twin
from scalingdown.pipeline.errors import UnknownKey
from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.pipeline.names.families import CAUSAL, family_of
from scalingdown.pipeline.plan import keys
from scalingdown.pipeline.plan.launch import launcher_prefix
from scalingdown.pipeline.plan.members import (
    BenchmarkedModel,
    DataPlan,
    ReportInput,
    StudentPlan,
    TaskPlan,
    TeacherPlan,
)
from scalingdown.pipeline.plan.seeds import experiment_seeds, seed_folders, with_default_seed

T = TypeVar("T")


class Plan:
    """What one experiment runs and where everything lands, from its validated config."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config: dict[str, Any] = with_default_seed(canonical(config))
        self.experiment: str = self.config["experiment"]
        self.seeds = experiment_seeds(self.config)
        self.threads: int = self.config["threads"]
        self.root = paths.experiment_root(self.experiment)
        folders = seed_folders(self.config)
        self.tasks: dict[str, TaskPlan] = {}
        self._by_data_key: dict[str, DataPlan] = {}
        for name, spec in self.config["tasks"].items():
            for cell in budget_cells(spec["data"]):
                for seed in self.seeds:
                    folder = paths.task_folder(name, seed if folders else None, cell.label)
                    task = self._plan_task(name, spec, seed, folder, cell.budget)
                    self.tasks[task.folder] = replace(task, cell=paths.task_folder(name, None, cell.label))
        self._by_teacher_key = {
            plan.key: plan
            for task in self.tasks.values()
            for teacher in task.teachers.values()
            for plan in (teacher, *teacher.candidates)
        }
        self._by_logits_key = {t.logits_key: t for task in self.tasks.values() for t in task.teachers.values()}
        self._by_init_key = {s.init_key: s for task in self.tasks.values() for s in task.students.values()}

    # -- construction ---------------------------------------------------------------------------------------------
    def _data(
        self, name: str, spec: dict[str, Any], seed: int, budget: Budget | None, transfer: bool, students: bool
    ) -> str:
        """The key of a task's prepared data at `seed` with `budget` (and transfer text), planned once; the
        `data.validation_budget` applies to the `students`' labels (and a teacher's that learns from them)."""
        transfer = transfer and spec["data"].get("transfer") is not None
        validation = normalised(spec["data"].get("validation_budget")) if students else None
        key = keys.data_key(name, spec, seed, budget, transfer, validation)
        self._by_data_key.setdefault(key, DataPlan(key, name, spec, seed, budget, transfer, validation))
        return key

    def _plan_task(self, name: str, spec: dict[str, Any], seed: int, folder: str, budget: Budget | None) -> TaskPlan:
        data_key = self._data(name, spec, seed, budget, transfer=True, students=True)
        task = TaskPlan(name=name, spec=spec, data_key=data_key, seed=seed, folder=folder, budget=budget)
        students = expand_students(spec["students"])
        shaped = shaped_students(spec["students"])
        mapped_layers: dict[str, set[int]] = {teacher: set() for teacher in spec["teachers"]}
        for student in students.values():
            for pair in hidden_pairs(student["loss"].get("hidden_map")):
                mapped_layers[pair.teacher].add(pair.teacher_layer)
        for teacher_name, teacher in spec["teachers"].items():
            own = normalised(teacher["label_budget"]) if "label_budget" in teacher else budget
            teacher_data = self._data(name, spec, seed, own, transfer=False, students="label_budget" not in teacher)
            listed = self._candidates(name, folder, teacher_name, spec, teacher, teacher_data, seed)
            key = (
                keys.selection_key(name, teacher_name, [c.key for c in listed], selection_metric(spec["type"])[0])
                if listed
                else keys.teacher_key(name, teacher_name, spec, teacher, teacher_data, seed, self.launch_spec)
            )
            layers = tuple(sorted(mapped_layers[teacher_name]))
            covered = data_key if teacher_data != data_key else None
            task.teachers[teacher_name] = TeacherPlan(
                task=folder,
                name=teacher_name,
                key=key,
                spec=teacher,
                logits_key=keys.logits_key(key, spec, teacher, layers, covered),
                hidden_layers=layers,
                data_key=teacher_data,
                candidates=listed,
            )
        for student_name, student in students.items():
            task.students[student_name] = StudentPlan(
                task=folder,
                name=student_name,
                spec=student,
                teachers=tuple(task.teachers[t] for t in student["teachers"]),
                root=self.root,
                init_key=keys.init_key(name, spec, student, seed),
                baseline=gold_twin(students, student_name),
                shape=shaped.get(student_name),
            )
        return task

    def _candidates(
        self,
        name: str,
        folder: str,
        teacher_name: str,
        spec: dict[str, Any],
        teacher: dict[str, Any],
        data_key: str,
        seed: int,
    ) -> tuple[TeacherPlan, ...]:
        """The fine-tuning candidates of a teacher whose `finetune` lists some (none otherwise): each a teacher with
        one value per setting, keyed like a teacher configured with those values (and so shared with one)."""
        found = []
        for settings in candidates(teacher["finetune"]):
            member = {**teacher, "finetune": settings}
            key = keys.teacher_key(name, teacher_name, spec, member, data_key, seed, self.launch_spec)
            found.append(TeacherPlan(folder, teacher_name, key, member, logits_key="", data_key=data_key))
        return tuple(found)

    # -- lookups by wildcard -------------------------------------------------------------------------------------
    def _lookup(self, index: Mapping[str, T], key: str, what: str) -> T:
        if key not in index:
            known = ", ".join(sorted(index)) or "none"
            raise UnknownKey(f"experiment {self.experiment!r} has no {what} {key!r} (known: {known})")
        return index[key]

    def task(self, name: str) -> TaskPlan:
        """A task by its folder (the rules' `{task}` wildcard)."""
        return self._lookup(self.tasks, name, "task")

    def data_by_key(self, data_key: str) -> DataPlan:
        """A prepared dataset by its key."""
        return self._lookup(self._by_data_key, data_key, "prepared data")

    def teacher_by_key(self, key: str) -> TeacherPlan:
        """A teacher (or a fine-tuning candidate) by its key."""
        return self._lookup(self._by_teacher_key, key, "teacher")

    def teacher_by_logits_key(self, logits_key: str) -> TeacherPlan:
        """A teacher by the key of its cache."""
        return self._lookup(self._by_logits_key, logits_key, "teacher logit cache")

    def student_by_init_key(self, init_key: str) -> StudentPlan:
        """A student (the first of those sharing it) by the key of its initial weights."""
        return self._lookup(self._by_init_key, init_key, "student initialisation")

    def student(self, task: str, name: str) -> StudentPlan:
        """A student of a task (by the task's folder)."""
        return self._lookup(self.task(task).students, name, f"student of task {task!r}")

    def teacher(self, task: str, name: str) -> TeacherPlan:
        """A teacher of a task (by the task's folder)."""
        return self._lookup(self.task(task).teachers, name, f"teacher of task {task!r}")

    def data_plans(self) -> list[DataPlan]:
        """Every prepared dataset of the experiment, each once."""
        return list(self._by_data_key.values())

    def data_files(self, data_key: str) -> list[str]:
        """Input files of a task's loader and of its transfer loader (see `config.data_files.data_file_options`),
        sorted and without repeats."""
        data = self.data_by_key(data_key)
        sources = [data.spec["data"]] + ([data.spec["data"]["transfer"]] if data.transfer else [])
        return source_files(source.get("options", {}) for source in sources)

    def evaluated_model(self, task: str, kind: str, name: str) -> str:
        """The directory (or model reference) that `evaluate` loads."""
        if kind == "teacher":
            return self.teacher(task, name).model_ref
        return self.student(task, name).evaluated_dir

    def agreement_reference(self, task: str, kind: str, name: str) -> str | None:
        """The teacher a causal student's `evaluate` compares it with (per-token KL, top-1 agreement): its first
        teacher, or for a student without teachers (the gold-only twin) the task's first; None for a teacher and for
        the other families."""
        plan = self.task(task)
        if kind == "teacher" or family_of(plan.type, plan.spec.get("family")).name != CAUSAL or not plan.teachers:
            return None
        own = self.student(task, name).teachers
        return (own[0] if own else next(iter(plan.teachers.values()))).model_ref

    def agreement_models(self, task: str, kind: str, name: str) -> list[str]:
        """The local directory of the teacher `agreement_reference` names, as rule input (none otherwise)."""
        reference = self.agreement_reference(task, kind, name)
        return local_model(reference) if reference is not None else []

    def benchmarked_models(self, task_name: str) -> list[BenchmarkedModel]:
        """What a task's `benchmark` job times, in order: every teacher, every student and every export of a
        student."""
        task = self.task(task_name)
        models = [BenchmarkedModel(f"teacher.{name}", "teacher", name, ORIGINAL) for name in task.teachers]
        for name, student in task.students.items():
            models.append(BenchmarkedModel(f"student.{name}", "student", name, ORIGINAL))
            models += [BenchmarkedModel(f"export.{name}.{v}", "export", name, v) for v in student.exports]
        return models

    def benchmarked_location(self, task: str, kind: str, name: str, variant: str) -> str:
        """The directory (or model reference) the benchmark loads for one of `benchmarked_models`."""
        if kind == "export":
            return self.student(task, name).export_dir(variant)
        return self.evaluated_model(task, kind, name)

    def benchmark_locations(self, task: str) -> list[str]:
        """The directories or references of `benchmarked_models`, in the same order (the benchmark's `--models`)."""
        return [
            self.benchmarked_location(task, timed.kind, timed.name, timed.variant)
            for timed in self.benchmarked_models(task)
        ]

    def record_inputs(self, task_name: str) -> list[tuple[str, str, str, str]]:
        """Every evaluation record of a task folder as (kind, name, variant, path): teachers, students, exports."""
        task = self.task(task_name)
        found = [
            ("teacher", name, ORIGINAL, paths.eval_file(self.root, task.folder, "teacher", name))
            for name in task.teachers
        ]
        for name, student in task.students.items():
            found.append(("student", name, ORIGINAL, paths.eval_file(self.root, task.folder, "student", name)))
            found += [
                ("export", name, variant, paths.export_eval_file(self.root, task.folder, name, variant))
                for variant in student.exports
            ]
        return found

    def carded_models(self, task_name: str) -> list[tuple[str, str, str, str]]:
        """The models of a task folder that get a model card, as (kind, name, variant, directory): every trained
        student and every export (an untrained student's weights are the shared initialisation, left alone)."""
        found = []
        for name, student in self.task(task_name).students.items():
            if student.trained:
                found.append(("student", name, ORIGINAL, student.model_dir))
            found += [("export", name, variant, student.export_dir(variant)) for variant in student.exports]
        return found

    def card_files(self) -> list[str]:
        """One model-card record per task folder with a carded model."""
        return [paths.model_cards_file(self.root, task) for task in self.tasks if self.carded_models(task)]

    def cell_tasks(self, cell: str) -> list[TaskPlan]:
        """The task plans of one cell (a task, or its budget cell in a sweep): one per seed, in seed order."""
        found = [task for task in self.tasks.values() if task.cell == cell]
        if not found:
            raise UnknownKey(f"experiment {self.experiment!r} has no task {cell!r}")
        return found

    def cell_records(self, cell: str) -> list[str]:
        """The evaluation records of a cell's tasks, seed by seed (the ship stage's `--evals`)."""
        return [path for task in self.cell_tasks(cell) for *_, path in self.record_inputs(task.folder)]

    def cell_candidates(self, cell: str) -> list[str]:
        """The directories of the models a cell may ship, seed by seed (the ship stage's `--models`)."""
        return [path for task in self.cell_tasks(cell) for *_, path in self.carded_models(task.folder)]

    def ship_cells(self) -> list[str]:
        """The cells whose task has a `ship` budget, each shipped once over its seeds."""
        return list(dict.fromkeys(task.cell for task in self.tasks.values() if task.spec.get("ship") is not None))

    def shipped_dirs(self) -> list[str]:
        """The `shipped/` directory of every cell with a `ship` budget."""
        return [paths.shipped_dir(self.root, cell) for cell in self.ship_cells()]

    def teacher_eval_files(self, task: str) -> list[str]:
        """The teachers' evaluation records of a task (the benchmark picks its speed-up reference from them)."""
        return [paths.eval_file(self.root, task, "teacher", name) for name in self.task(task).teachers]

    def benchmark_cores(self, local_cores: int | None) -> int:
        """Cores a benchmark job asks for: every core of a local run (`local_cores`, Snakemake's `--cores`), so
        that no other job of the run shares the machine while models are timed; on a cluster (`None`), at least
        the experiment's `threads` and `benchmark.threads`."""
        return max(self.threads, int(self.config["benchmark"]["threads"]), local_cores or 0)

    # -- what the report reads ------------------------------------------------------------------------------------
    def eval_files(self) -> list[str]:
        """Every evaluation the report needs: all teachers, all students and their exports, of all tasks (and
        seeds)."""
        files = []
        for task in self.tasks.values():
            files += [paths.eval_file(self.root, task.folder, "teacher", t) for t in task.teachers]
            for name, student in task.students.items():
                files.append(paths.eval_file(self.root, task.folder, "student", name))
                files += [paths.export_eval_file(self.root, task.folder, name, v) for v in student.exports]
        return files

    def benchmark_files(self) -> list[str]:
        """One interleaved timing record per task (and seed)."""
        return [paths.benchmark_file(self.root, task) for task in self.tasks]

    def ensemble_files(self) -> list[str]:
        """One ensemble record per task (and seed) with at least two teachers, in a family that makes them
        (classification)."""
        return [
            paths.ensemble_file(self.root, task.folder)
            for task in self.tasks.values()
            if len(task.teachers) >= 2 and family_of(task.type).teacher_ensemble
        ]

    def selection_files(self) -> list[str]:
        """The candidates' records of every teacher selected among fine-tuning candidates (Teachers section)."""
        return [t.selection for task in self.tasks.values() for t in task.teachers.values() if t.candidates]

    def histories(self) -> list[str]:
        """Training logs the report plots: every fine-tuned teacher and every trained student."""
        files = []
        for task in self.tasks.values():
            files += [t.history for t in task.teachers.values() if t.finetuned]
            files += [s.history for s in task.students.values() if s.trained]
        return list(dict.fromkeys(files))  # a teacher shared by the cells of a budget sweep: once

    def report_inputs(self) -> dict[str, ReportInput]:
        """What each file the report reads belongs to: evaluations (of exports too), training histories, ensemble,
        benchmark and teacher selection records, by path. The report tells seeds apart with it (a teacher's history
        lives under its cache key)."""
        found: dict[str, ReportInput] = {}
        for task in self.tasks.values():
            for kind, members in (("teacher", task.teachers), ("student", task.students)):
                for name in members:
                    found[paths.eval_file(self.root, task.folder, kind, name)] = ReportInput(task, kind, name)
            for teacher in task.teachers.values():
                if teacher.finetuned:  # a teacher shared by the cells of a sweep belongs to the first
                    found.setdefault(teacher.history, ReportInput(task, "teacher", teacher.name))
                if teacher.candidates:
                    found.setdefault(teacher.selection, ReportInput(task, "selection", teacher.name))
            for student in task.students.values():
                if student.trained:
                    found[student.history] = ReportInput(task, "student", student.name)
                for variant in student.exports:
                    export = paths.export_eval_file(self.root, task.folder, student.name, variant)
                    found[export] = ReportInput(task, "export", student.name)
            found[paths.ensemble_file(self.root, task.folder)] = ReportInput(task, "ensemble", "")
            found[paths.benchmark_file(self.root, task.folder)] = ReportInput(task, "benchmark", "")
        return found

    def budget_curve_tasks(self) -> list[str]:
        """The tasks that sweep two or more label budgets: the panels of the report's `budget_curve` figure."""
        cells: dict[str, set[str]] = {}
        for task in self.tasks.values():
            if task.cell != task.name:
                cells.setdefault(task.name, set()).add(task.cell)
        return [name for name, found in cells.items() if len(found) >= 2]

    def sweeps_shapes(self) -> bool:
        """Whether some student sweeps shapes (`config.shapes`): the report then draws `shape_front`."""
        return any(student.shape is not None for task in self.tasks.values() for student in task.students.values())

    def report_files(self) -> dict[str, str]:
        """The report's files (`paths.REPORT_FILES`) by output name: what the `report` rule declares and the stage
        writes. The label-budget figure only when some task sweeps two or more budgets, the shape front only when some
        student sweeps shapes (never an empty figure)."""
        optional = {"budget_curve": bool(self.budget_curve_tasks()), "shape_front": self.sweeps_shapes()}
        names = [name for name in paths.REPORT_FILES if optional.get(name, True)]
        return {name: paths.report_file(self.root, name) for name in names}

    def twins(self) -> dict[tuple[str, str], str]:
        """(task cell, distilled student) → its gold-only twin, for every student that has one (the cell: the task's
        name, or its budget cell in a sweep)."""
        return {
            (task.cell, student.name): student.baseline
            for task in self.tasks.values()
            for student in task.students.values()
            if student.baseline
        }

    def cached_artefacts(self) -> list[str]:
        """The shared artefacts under `results/cache/` this experiment's models were built from.

        The report tells, from each one's provenance record, which were built for this experiment and which
        were reused from another one.
        """
        found: list[str] = []
        for task in self.tasks.values():
            found.append(task.data_dir)
            found += [t.data_dir for t in task.teachers.values() if t.finetuned]
            found += [t.model_dir for t in task.teachers.values() if t.finetuned]
            found += [c.model_dir for t in task.teachers.values() for c in t.candidates]
            for student in task.students.values():
                found.append(student.init_dir)
                if student.trained:
                    found += self.distill_logits(task.folder, student.name)
        return list(dict.fromkeys(found))

    def distill_logits(self, task: str, student: str) -> list[str]:
        """The logit caches a student's `distill` reads (none when its teachers run online)."""
        plan = self.student(task, student)
        return [] if plan.online else [t.logits for t in plan.teachers]

    def distill_teacher_models(self, task: str, student: str) -> list[str]:
        """The local teacher directories an online or on-policy `distill` loads (none in cached mode)."""
        plan = self.student(task, student)
        loads = plan.online or plan.on_policy
        return [d for t in plan.teachers for d in local_model(t.model_ref)] if loads else []

    def log(self, stage: str, name: str) -> str:
        """The log of one job of `stage` (its rule's `log:`)."""
        return paths.log_file(self.root, stage, name)

    # -- how jobs run: cluster resources and the training launcher ----------------------------------------------
    def resources(self, stage: str) -> dict[str, Any]:
        """A heavy stage's job resources (`gpu`, `mem_mb`, `runtime`, `cpus_per_gpu`, `gpu_model`)."""
        return dict(self.config["resources"][stage])

    def processes(self, stage: str) -> int:
        """Training processes of one job of `stage`: `distributed.processes`, or one per GPU."""
        wanted = self.config["distributed"]["processes"]
        if wanted == "gpus":
            return max(1, int(self.config["resources"][stage]["gpu"]))
        return int(wanted)

    def launch_spec(self, stage: str) -> dict[str, Any]:
        """The launch settings that change a trained model: processes (the global batch) and DeepSpeed."""
        return {"processes": self.processes(stage), "deepspeed": self.config["distributed"]["deepspeed"]}

    def launcher(self, stage: str) -> str:
        """The command prefix a training rule runs `scalingdown` with (see `plan.launch`)."""
        launch = self.launch_spec(stage)
        return launcher_prefix(launch["processes"], deepspeed=launch["deepspeed"] is not None)

    def deepspeed_config(self) -> list[str]:
        """The DeepSpeed config file as a training rule's input (`[]` without DeepSpeed)."""
        path = self.config["distributed"]["deepspeed"]
        return [path] if path else []


def local_model(ref: str) -> list[str]:
    """A model reference as rule input: `[directory]` for a local directory, `[]` for hub/package/tiny."""
    return [ref] if ":" not in ref else []


def shared_teachers(plan: Plan) -> set[str]:
    """The keys of the teachers that several cells of a budget sweep share (a teacher with its own label budget)."""
    cells: dict[str, set[str]] = {}
    for task in plan.tasks.values():
        for teacher in task.teachers.values():
            cells.setdefault(teacher.key, set()).add(task.cell)
    return {key for key, found in cells.items() if len(found) > 1}
