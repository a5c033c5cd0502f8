"""The experiment plan: its tasks, teachers and students, the keys of the shared artefacts they use, and the
lookups the rules make by wildcard.

Shared artefacts (prepared data, fine-tuned teachers, teacher logits, student initialisations) are named by a
hash of everything that determines them (`pipeline.keys`), so experiments that share a teacher and a dataset
share one cache and a student setting never reaches a teacher's path. The stage specs are built from the plan
by `pipeline.stage_specs`; the paths come from `pipeline.paths`.

Each task is planned once per seed (`pipeline.seeds`): `Plan.tasks` is keyed by the task's folder (`<task>`, or
`<task>/seed-<seed>` when the config lists `seeds`), which is also the value of the rules' `{task}` wildcard, and
the `task` of a teacher or student plan is that folder. With a label budget (`pipeline.budgets`) the students
learn from their own prepared data (`DataPlan`: the labelled rows and the transfer rows) and a teacher from its own
(its `label_budget`, else the students' labelled rows); a teacher with every label shares the data, and so the
fine-tuned model, of an experiment without budgets. A list of budgets is a sweep: each budget is a cell
(`<task>/budget-<label>`, then per seed), planned as a task of its own; what does not depend on the budget (a teacher
with its own `label_budget`, the students' initial weights) has the same key in every cell and so is built once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from scalingdown.pipeline import divergences, keys, paths
from scalingdown.pipeline.budgets import Budget, budget_cells, normalised
from scalingdown.pipeline.candidates import candidates, selection_metric
from scalingdown.pipeline.canonical import canonical
from scalingdown.pipeline.config import hidden_pairs
from scalingdown.pipeline.errors import UnknownKey
from scalingdown.pipeline.exports import SOURCES, variants, variants_with_sources
from scalingdown.pipeline.launch import launcher_prefix
from scalingdown.pipeline.seeds import experiment_seeds, seed_folders, with_default_seed
from scalingdown.pipeline.tasks import is_seq2seq
from scalingdown.pipeline.twins import gold_twin

T = TypeVar("T")


@dataclass(frozen=True)
class DataPlan:
    """One prepared dataset: a task at one seed, with a label budget (None: every label) and, with `transfer`,
    the task's transfer text appended unlabelled."""

    key: str
    task: str
    spec: dict[str, Any]
    seed: int
    budget: Budget | None = None
    transfer: bool = False

    @property
    def dir(self) -> str:
        return paths.data_dir(self.key)


@dataclass(frozen=True)
class TeacherPlan:
    """One teacher of one task (at one seed): its config, the key of its (fine-tuned) model and of its logit cache.

    `logits_key` also depends on what the cache holds beyond the logits: for classification the hidden states
    (0 = embeddings) some student of this teacher maps to (`hidden_layers`); for text-to-text tasks the cache
    settings (top_k, targets, hidden layers). Changing those recomputes the cache but never re-fine-tunes.
    `data_key` is the data the teacher is fine-tuned on (its own label budget); the cache covers the students' data
    of its task (labelled and transfer rows), so where the two differ `logits_key` names the students' data too.
    A teacher whose `finetune` lists candidates (`pipeline.candidates`) has them in `candidates`, each a teacher plan
    of its own (fine-tuned under its own key); its `key` is then a selection key and its model the best candidate's.
    """

    task: str
    name: str
    key: str
    spec: dict[str, Any]
    logits_key: str
    hidden_layers: tuple[int, ...] = ()
    data_key: str = ""
    candidates: tuple[TeacherPlan, ...] = ()

    @property
    def data_dir(self) -> str:
        """The prepared data the teacher is fine-tuned on."""
        return paths.data_dir(self.data_key)

    @property
    def finetuned(self) -> bool:
        return self.spec["finetune"] is not False

    @property
    def model_dir(self) -> str:
        return paths.teacher_model(self.key)

    @property
    def history(self) -> str:
        return paths.teacher_history(self.key)

    @property
    def selection(self) -> str:
        """The record of the candidates' validation scores (a teacher with `candidates` only)."""
        return paths.teacher_selection(self.key)

    @property
    def logits(self) -> str:
        return paths.logits_file(self.logits_key)

    @property
    def model_ref(self) -> str:
        """What downstream stages load: the fine-tuned directory, or the configured model."""
        return self.model_dir if self.finetuned else str(self.spec["model"])

    @property
    def label_map(self) -> dict[str, str]:
        """The model's label names mapped to the task's (`labels` of the teacher; empty = by name)."""
        return dict(self.spec.get("labels") or {})


@dataclass(frozen=True)
class StudentPlan:
    """One student of one task (at one seed): how it is initialised and trained, and where it lands.

    `baseline` is its gold-only twin (`pipeline.twins`), the student the report compares it with seed by seed.
    """

    task: str
    name: str
    spec: dict[str, Any]
    teachers: tuple[TeacherPlan, ...]
    root: str
    init_key: str
    baseline: str | None = None

    @property
    def init_student(self) -> str | None:
        """The student whose trained model this one starts from (multi-stage chains), if any."""
        init = self.spec["init"]
        return str(init["student"]) if init["method"] == "student" else None

    @property
    def init_dir(self) -> str:
        """Initial weights: another student's trained model (chains), else the shared init directory of every
        student (of any experiment) with the same init spec."""
        if self.init_student:
            return paths.student_model(self.root, self.task, self.init_student)
        return paths.student_init_dir(self.init_key)

    @property
    def model_dir(self) -> str:
        return paths.student_model(self.root, self.task, self.name)

    @property
    def history(self) -> str:
        return paths.student_history(self.root, self.task, self.name)

    @property
    def trained(self) -> bool:
        return bool(self.spec["train"])

    @property
    def online(self) -> bool:
        """Whether the teachers run inside the training loop instead of being read from their logit caches."""
        return bool(self.teachers) and self.spec["teacher_mode"] == "online"

    @property
    def evaluated_dir(self) -> str:
        return self.model_dir if self.trained else self.init_dir

    @property
    def exports(self) -> list[str]:
        """The shipping variants the student's `export` list asks for (`onnx-fp32`, `onnx-int8`, `torch-int8`)."""
        return variants(list(self.spec.get("export") or []))

    @property
    def built_exports(self) -> list[str]:
        """The variants built for `exports`: those, and what they are made from (ONNX fp32 for ONNX int8)."""
        return variants_with_sources(self.exports)

    def export_dir(self, variant: str) -> str:
        return paths.export_dir(self.root, self.task, self.name, variant)

    def export_source(self, variant: str) -> str:
        """What an export is made from: the student's model, or the variant it quantizes (ONNX int8 <- fp32)."""
        return self.export_dir(SOURCES[variant]) if variant in SOURCES else self.evaluated_dir

    @property
    def role(self) -> str:
        """The row label in the report, derived from the config."""
        if not self.trained:
            return "student (untrained)"
        start = f", starting from {self.init_student}" if self.init_student else ""
        if not self.teachers:
            return f"student (gold labels only{start})"
        online = ", online" if self.online else ""
        hidden = ", hidden-layer MSE" if self.spec["loss"]["hidden"] > 0 else ""
        loss = divergences.with_defaults(self.spec["loss"])
        name = loss.get("divergence", divergences.DEFAULT)
        divergence = (
            "" if name == divergences.DEFAULT else ", " + divergences.label(name, loss.get("beta"), loss.get("alpha"))
        )
        teachers = " + ".join(t.name for t in self.teachers)
        return f"student (distilled from {teachers}{divergence}{hidden}{online}{start})"


@dataclass(frozen=True)
class TaskPlan:
    """One task at one seed: its prepared data and the teachers and students trained on it.

    `name` is the task's name in the config; `folder` is where its outputs live in the experiment (the rules'
    `{task}` wildcard, `paths.task_folder`); `budget` is the students' label budget in this cell (None: every
    label) and `data_key` their prepared data. `cell` is what the report compares within and folds seeds over:
    the task's name, or `<task>/budget-<label>` in a budget sweep (the folder without its seed).
    """

    name: str
    spec: dict[str, Any]
    data_key: str
    seed: int
    folder: str
    teachers: dict[str, TeacherPlan] = field(default_factory=dict)
    students: dict[str, StudentPlan] = field(default_factory=dict)
    budget: Budget | None = None
    cell: str = ""

    @property
    def type(self) -> str:
        return str(self.spec["type"])

    @property
    def labels(self) -> list[str] | None:
        return self.spec.get("labels")

    @property
    def data_dir(self) -> str:
        return paths.data_dir(self.data_key)


@dataclass(frozen=True)
class ReportInput:
    """What one file the report reads belongs to: a task at one seed, a kind (`teacher`, `student`, `export`,
    `ensemble`, `benchmark`, `selection`) and the model's name (the student's for an export, the teacher's for a
    selection record; empty for an ensemble or benchmark record)."""

    task: TaskPlan
    kind: str
    name: str


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
            for budget, label in budget_cells(spec["data"]):
                for seed in self.seeds:
                    folder = paths.task_folder(name, seed if folders else None, label)
                    task = self._plan_task(name, spec, seed, folder, budget)
                    self.tasks[task.folder] = replace(task, cell=paths.task_folder(name, None, label))
        self._by_teacher_key = {
            plan.key: plan
            for task in self.tasks.values()
            for teacher in task.teachers.values()
            for plan in (teacher, *teacher.candidates)
        }
        self._by_logits_key = {t.logits_key: t for task in self.tasks.values() for t in task.teachers.values()}
        self._by_init_key = {s.init_key: s for task in self.tasks.values() for s in task.students.values()}

    # -- construction ---------------------------------------------------------------------------------------------
    def _data(self, name: str, spec: dict[str, Any], seed: int, budget: Budget | None, transfer: bool) -> str:
        """The key of a task's prepared data at `seed` with `budget` (and transfer text), planned once."""
        transfer = transfer and spec["data"].get("transfer") is not None
        key = keys.data_key(name, spec, seed, budget, transfer)
        self._by_data_key.setdefault(key, DataPlan(key, name, spec, seed, budget, transfer))
        return key

    def _plan_task(self, name: str, spec: dict[str, Any], seed: int, folder: str, budget: Budget | None) -> TaskPlan:
        data_key = self._data(name, spec, seed, budget, transfer=True)
        task = TaskPlan(name=name, spec=spec, data_key=data_key, seed=seed, folder=folder, budget=budget)
        mapped_layers: dict[str, set[int]] = {teacher: set() for teacher in spec["teachers"]}
        for student in spec["students"].values():
            for _, teacher_name, teacher_layer in hidden_pairs(student["loss"]):
                mapped_layers[teacher_name].add(teacher_layer)
        for teacher_name, teacher in spec["teachers"].items():
            own = normalised(teacher["label_budget"]) if "label_budget" in teacher else budget
            teacher_data = self._data(name, spec, seed, own, transfer=False)
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
        for student_name, student in spec["students"].items():
            task.students[student_name] = StudentPlan(
                task=folder,
                name=student_name,
                spec=student,
                teachers=tuple(task.teachers[t] for t in student["teachers"]),
                root=self.root,
                init_key=keys.init_key(name, spec, student, seed),
                baseline=gold_twin(spec["students"], student_name),
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
        return self._lookup(self.tasks, name, "task")

    def data_by_key(self, data_key: str) -> DataPlan:
        return self._lookup(self._by_data_key, data_key, "prepared data")

    def teacher_by_key(self, key: str) -> TeacherPlan:
        return self._lookup(self._by_teacher_key, key, "teacher")

    def teacher_by_logits_key(self, logits_key: str) -> TeacherPlan:
        return self._lookup(self._by_logits_key, logits_key, "teacher logit cache")

    def student_by_init_key(self, init_key: str) -> StudentPlan:
        return self._lookup(self._by_init_key, init_key, "student initialisation")

    def student(self, task: str, name: str) -> StudentPlan:
        return self._lookup(self.task(task).students, name, f"student of task {task!r}")

    def teacher(self, task: str, name: str) -> TeacherPlan:
        return self._lookup(self.task(task).teachers, name, f"teacher of task {task!r}")

    def data_plans(self) -> list[DataPlan]:
        """Every prepared dataset of the experiment, each once."""
        return list(self._by_data_key.values())

    def data_files(self, data_key: str) -> list[str]:
        """Input files of a task's loader and of its transfer loader (see `config.data_file_options`), sorted and
        without repeats."""
        from scalingdown.pipeline.config import source_files

        data = self.data_by_key(data_key)
        sources = [data.spec["data"]] + ([data.spec["data"]["transfer"]] if data.transfer else [])
        return source_files(source.get("options", {}) for source in sources)

    def evaluated_model(self, task: str, kind: str, name: str) -> str:
        """The directory (or model reference) that `evaluate` loads."""
        if kind == "teacher":
            return self.teacher(task, name).model_ref
        return self.student(task, name).evaluated_dir

    def benchmarked_models(self, task_name: str) -> list[tuple[str, str, str, str]]:
        """What a task's `benchmark` job times, in order: (record id, kind, name, variant) of every teacher,
        every student and every export of a student (`export.<student>.<variant>`)."""
        task = self.task(task_name)
        models = [(f"teacher.{name}", "teacher", name, "fp32") for name in task.teachers]
        for name, student in task.students.items():
            models.append((f"student.{name}", "student", name, "fp32"))
            models += [(f"export.{name}.{variant}", "export", name, variant) for variant in student.exports]
        return models

    def benchmarked_location(self, task: str, kind: str, name: str, variant: str) -> str:
        """The directory (or model reference) the benchmark loads for one of `benchmarked_models`."""
        if kind == "export":
            return self.student(task, name).export_dir(variant)
        return self.evaluated_model(task, kind, name)

    def benchmark_locations(self, task: str) -> list[str]:
        """The directories or references of `benchmarked_models`, in the same order (the benchmark's `--models`)."""
        return [
            self.benchmarked_location(task, kind, name, variant)
            for _, kind, name, variant in self.benchmarked_models(task)
        ]

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
        """One ensemble record per classification task (and seed) with at least two teachers."""
        return [
            paths.ensemble_file(self.root, task.folder)
            for task in self.tasks.values()
            if len(task.teachers) >= 2 and not is_seq2seq(task.type)
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
        """The local teacher directories an online `distill` loads (none in cached mode)."""
        plan = self.student(task, student)
        return [d for t in plan.teachers for d in local_model(t.model_ref)] if plan.online else []

    def log(self, stage: str, name: str) -> str:
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
        """The command prefix a training rule runs `scalingdown` with (see `pipeline.launch`)."""
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
