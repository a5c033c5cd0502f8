"""Building each stage's typed spec from the plan: what a job of that stage needs, and nothing more.

The rules pass `spec.to_json()` as the `spec` param, so a job reruns exactly when its spec changes. The specs that
need no plan (`prepare`, `init_student`, the shared parts) are `specs.builders`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from scalingdown.pipeline import paths
from scalingdown.pipeline.config.candidates import selection_metric, varied
from scalingdown.pipeline.config.settings import cache_settings, finetune_settings
from scalingdown.pipeline.errors import UnknownKey
from scalingdown.pipeline.names import divergence_table
from scalingdown.pipeline.names.export_variants import CALIBRATED, CALIBRATION_TEXTS
from scalingdown.pipeline.names.families import family_of
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.members import TeacherPlan
from scalingdown.pipeline.specs.builders import (
    init_spec,
    prepare_spec,
    remote_code,
    task_family,
    text_task,
    training_spec,
)
from scalingdown.pipeline.specs.definitions import (
    BenchmarkModel,
    BenchmarkSettings,
    BenchmarkSpec,
    CalibratedExportSpec,
    CardStudent,
    CardTask,
    DistillSpec,
    DistillTeacher,
    EnsembleSpec,
    EvaluateSpec,
    ExportSpec,
    FinetuneSpec,
    InitSpec,
    LogitsSpec,
    LossSpec,
    ModelCardsSpec,
    PrepareSpec,
    RecordInput,
    ReportSpec,
    SelectCandidate,
    SelectTeacherSpec,
    ShipSpec,
    TeacherName,
    TopkLogitsSpec,
    WeightingSpec,
)

# The Hub ids of the datasets the built-in loaders read (a model card's `datasets`); a `hub` source names its own.
DATASET_HUB_IDS = {"phrasebank": "takala/financial_phrasebank"}


class Member(NamedTuple):
    """A teacher or student as `evaluate` and `benchmark` see it: the model id their records carry (a teacher's key,
    a student's name), its role in the report, its config and its label map (a teacher's; empty for a student)."""

    model: str
    role: str
    spec: dict[str, Any]
    label_map: dict[str, str]


class StageSpecs:
    """Every stage's spec, by the wildcard values of its rule."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def prepare(self, data_key: str) -> PrepareSpec:
        """The `prepare` spec of the data `data_key` names."""
        data = self.plan.data_by_key(data_key)
        return prepare_spec(data.task, data.spec, data.seed, data.budget, data.transfer, data.validation_budget)

    def finetune(self, teacher_key: str) -> FinetuneSpec:
        """The `finetune_teacher` spec of a teacher (or a fine-tuning candidate) by its key."""
        teacher = self.plan.teacher_by_key(teacher_key)
        task = self.plan.task(teacher.task)
        if teacher.candidates:
            raise UnknownKey(
                f"teacher {teacher.name!r} of task {task.name!r} is selected among candidates, not fine-tuned"
            )
        settings = finetune_settings(teacher.spec["finetune"])
        if isinstance(settings, bool):
            raise UnknownKey(f"teacher {teacher.name!r} of task {task.name!r} is not fine-tuned (finetune: false)")
        settings = dict(settings)
        method, lora = settings.pop("method"), settings.pop("lora", None)
        return FinetuneSpec(
            type=task.type,
            teacher=teacher.name,
            model=teacher.spec["model"],
            max_length=teacher.spec["max_length"],
            training=training_spec(task.type, settings, self.plan.launch_spec("finetune_teacher")),
            method=method,
            lora=lora,
            label_map=teacher.label_map,
            labels=task.labels,
            seed=task.seed,
            text=text_task(task.spec, teacher.spec),
            trust_remote_code=remote_code(teacher.spec),
            family=task_family(task.spec),
        )

    def select_teacher(self, teacher_key: str) -> SelectTeacherSpec:
        """The selection among a teacher's fine-tuning candidates (`teacher_key` is its selection key)."""
        teacher = self.plan.teacher_by_key(teacher_key)
        task = self.plan.task(teacher.task)
        if not teacher.candidates:
            raise UnknownKey(f"teacher {teacher.name!r} of task {task.name!r} lists no fine-tuning candidates")
        metric, higher_is_better = selection_metric(task.type)
        return SelectTeacherSpec(
            task=task.name,
            teacher=teacher.name,
            metric=metric,
            higher_is_better=higher_is_better,
            candidates=[
                SelectCandidate(key=c.key, settings=varied(teacher.spec["finetune"], c.spec["finetune"]))
                for c in teacher.candidates
            ],
        )

    def logits(self, logits_key: str) -> LogitsSpec | TopkLogitsSpec:
        """The `teacher_logits` spec of a teacher's cache: the class of the task's family."""
        teacher = self.plan.teacher_by_logits_key(logits_key)
        task = self.plan.task(teacher.task)
        common = {
            "type": task.type,
            "teacher": teacher.name,
            "teacher_key": teacher.key,
            "model": teacher.model_ref,
            "max_length": teacher.spec["max_length"],
            "label_map": teacher.label_map,
            "labels": task.labels,
            "trust_remote_code": remote_code(teacher.spec),
        }
        if family_of(task.type).generative:
            settings = cache_settings(teacher.spec)
            return TopkLogitsSpec(
                **common,
                logits_key=teacher.logits_key,
                top_k=settings["top_k"],
                targets=settings["targets"],
                hidden_layers=settings["hidden_layers"],
                text=text_task(task.spec, teacher.spec),
                family=task_family(task.spec),
            )
        return LogitsSpec(**common, hidden_layers=list(teacher.hidden_layers))

    def init(self, init_key: str) -> InitSpec:
        """The `init_student` spec of the initial weights `init_key` names."""
        student = self.plan.student_by_init_key(init_key)
        task = self.plan.task(student.task)
        return init_spec(task.spec, student.spec, task.seed)

    def distill(self, task_name: str, student_name: str) -> DistillSpec:
        """The `distill` spec of a student: its training, loss, weighting and teachers (cached or online)."""
        student = self.plan.student(task_name, student_name)
        task = self.plan.task(task_name)
        online = student.online
        return DistillSpec(
            type=task.type,
            student=student.name,
            max_length=student.spec["max_length"],
            training=training_spec(task.type, student.spec["training"], self.plan.launch_spec("distill"), task.seed),
            loss=LossSpec.from_dict(divergence_table.with_defaults(student.spec["loss"]), "loss"),
            teacher_mode="online" if online else "cached",
            weighting=WeightingSpec.from_dict(student.spec["weighting"], "weighting"),
            teachers=[self._distill_teacher(teacher, task.type, online) for teacher in student.teachers],
            labels=task.labels,
            text=text_task(task.spec, student.spec),
            trust_remote_code=remote_code(student.spec, *(t.spec for t in student.teachers if online)),
            family=task_family(task.spec),
        )

    @staticmethod
    def _distill_teacher(teacher: TeacherPlan, task_type: str, online: bool) -> DistillTeacher:
        """A teacher as `distill` sees it: its key, model and max length (what its cache must match; what online
        mode loads), in online mode its label map, and for a generative family's task its cache settings."""
        cache = cache_settings(teacher.spec) if family_of(task_type).generative else {}
        return DistillTeacher(
            name=teacher.name,
            key=teacher.key,
            model=teacher.model_ref,
            max_length=teacher.spec["max_length"],
            label_map=teacher.label_map if online else None,
            logits_key=teacher.logits_key if cache else None,
            top_k=cache.get("top_k"),
            targets=cache.get("targets"),
            hidden_layers=cache.get("hidden_layers"),
        )

    def ensemble(self, task_name: str) -> EnsembleSpec:
        """The `teacher_ensemble` spec of a task with several teachers."""
        task = self.plan.task(task_name)
        return EnsembleSpec(
            task=task.name,
            labels=task.labels,
            teachers=[TeacherName(name=t.name, key=t.key) for t in task.teachers.values()],
        )

    def _member(self, task_name: str, kind: str, name: str) -> Member:
        if kind == "teacher":
            teacher = self.plan.teacher(task_name, name)
            return Member(teacher.key, "teacher", teacher.spec, teacher.label_map)
        student = self.plan.student(task_name, name)
        return Member(name, student.role, student.spec, {})

    def evaluate(self, task_name: str, kind: str, name: str, variant: str | None = None) -> EvaluateSpec:
        """A teacher's or student's `evaluate` spec; with `variant`, that of one of the student's exports."""
        task = self.plan.task(task_name)
        if variant is not None and variant not in self.plan.student(task_name, name).exports:
            raise UnknownKey(f"student {name!r} of task {task_name!r} has no export {variant!r}")
        member = self._member(task_name, kind, name)
        return EvaluateSpec(
            type=task.type,
            task=task.name,
            kind=kind,
            name=name,
            model=member.model,
            role=member.role,
            max_length=member.spec["max_length"],
            labels=task.labels,
            batch_size=self.plan.config["benchmark"]["batch_size"],
            label_map=member.label_map,
            text=text_task(task.spec, member.spec, scoring=True),
            trust_remote_code=remote_code(member.spec),
            variant=variant,
            family=task_family(task.spec),
            reference=self.plan.agreement_reference(task_name, kind, name) if variant is None else None,
        )

    def export(self, task_name: str, student_name: str, variant: str) -> ExportSpec:
        """One variant the student's exports need (those listed, and ONNX fp32 under ONNX int8)."""
        if variant not in self.plan.student(task_name, student_name).built_exports or variant in CALIBRATED:
            raise UnknownKey(f"student {student_name!r} of task {task_name!r} has no export {variant!r}")
        return ExportSpec(task=task_name, student=student_name, variant=variant, format=paths.FORMAT_VERSIONS["export"])

    def export_calibrated(self, task_name: str, student_name: str, variant: str) -> CalibratedExportSpec:
        """A calibrated variant of a student's exports (static int8), calibrated on its task's training texts."""
        student = self.plan.student(task_name, student_name)
        if variant not in CALIBRATED or variant not in student.exports:
            raise UnknownKey(f"student {student_name!r} of task {task_name!r} has no calibrated export {variant!r}")
        return CalibratedExportSpec(
            task=task_name,
            student=student_name,
            variant=variant,
            max_length=student.spec["max_length"],
            calibration_texts=CALIBRATION_TEXTS,
            seed=self.plan.task(task_name).seed,
            format=paths.FORMAT_VERSIONS["export"],
        )

    def benchmark(self, task_name: str) -> BenchmarkSpec:
        """Every model of the task as the benchmark times it, in `Plan.benchmarked_models` order."""
        task = self.plan.task(task_name)
        models = []
        for timed in self.plan.benchmarked_models(task_name):
            member = self._member(task_name, "teacher" if timed.kind == "teacher" else "student", timed.name).spec
            models.append(
                BenchmarkModel(
                    id=timed.id,
                    kind=timed.kind,
                    name=timed.name,
                    variant=timed.variant,
                    max_length=member["max_length"],
                    text=text_task(task.spec, member, scoring=True),
                    trust_remote_code=remote_code(member) and timed.variant == "fp32",
                )
            )
        return BenchmarkSpec(
            type=task.type,
            task=task.name,
            models=models,
            settings=BenchmarkSettings.from_dict(self.plan.config["benchmark"], "benchmark"),
            family=task_family(task.spec),
        )

    def _card_task(self, task_name: str, folder: str) -> CardTask:
        task = self.plan.task(task_name)
        data = task.spec["data"]
        options = data.get("options") or {}
        hub = (options.get("hub") or {}).get("id") if isinstance(options.get("hub"), dict) else None
        source = options.get("path") or hub or "generated rows"
        datasets = [hub] if hub else [DATASET_HUB_IDS[data["loader"]]] if data["loader"] in DATASET_HUB_IDS else []
        return CardTask(
            experiment=self.plan.experiment,
            task=folder,
            type=task.type,
            labels=task.labels,
            dataset=f"{task.name} ({data['loader']}: {source})",
            datasets=datasets,
        )

    def _card_students(self, task_name: str) -> list[CardStudent]:
        task = self.plan.task(task_name)
        return [
            CardStudent(
                name=name,
                role=student.role,
                model=str(student.spec["model"]),
                teachers={teacher.name: str(teacher.spec["model"]) for teacher in student.teachers},
                max_length=int(student.spec["max_length"]),
                loss={key: student.spec["loss"][key] for key in ("ce", "kd", "temperature", "hidden")}
                if student.teachers
                else {"ce": 1.0},
                epochs=float(student.spec["training"]["epochs"]),
                layers=list(student.spec["init"]["layers"]) if student.spec["init"].get("layers") else None,
                twin=student.baseline,
            )
            for name, student in task.students.items()
            if student.trained
        ]

    def model_cards(self, task_name: str) -> ModelCardsSpec:
        """The `model_cards` spec of a task folder: its trained students and exports get cards."""
        task = self.plan.task(task_name)
        return ModelCardsSpec(
            task=self._card_task(task_name, task.folder),
            students=self._card_students(task_name),
            evals=[
                RecordInput(kind, name, variant, task.seed)
                for kind, name, variant, _ in self.plan.record_inputs(task_name)
            ],
            carded=[
                RecordInput(kind, name, variant, task.seed)
                for kind, name, variant, _ in self.plan.carded_models(task_name)
            ],
        )

    def ship(self, cell: str) -> ShipSpec:
        """The `ship` spec of a cell with a `ship` budget: every seed's records and candidate directories."""
        tasks = self.plan.cell_tasks(cell)
        first = tasks[0]
        budget = first.spec.get("ship")
        if budget is None:
            raise UnknownKey(f"task {first.name!r} has no ship budget")
        return ShipSpec(
            task=self._card_task(first.folder, cell),
            max_latency_ms=budget.get("max_latency_ms"),
            max_size_mb=budget.get("max_size_mb"),
            students=self._card_students(first.folder),
            evals=[
                RecordInput(kind, name, variant, task.seed)
                for task in tasks
                for kind, name, variant, _ in self.plan.record_inputs(task.folder)
            ],
            seeds=[task.seed for task in tasks],
            candidates=[
                RecordInput(kind, name, variant, task.seed)
                for task in tasks
                for kind, name, variant, _ in self.plan.carded_models(task.folder)
            ],
            untrained=[name for name, student in first.students.items() if not student.trained],
        )

    def report(self) -> ReportSpec:
        """The `report` spec: the experiment and its resolved config."""
        return ReportSpec(experiment=self.plan.experiment, config=self.plan.config)
