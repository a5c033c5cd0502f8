"""Building each stage's typed spec from the plan: what a job of that stage needs, and nothing more.

The rules pass `spec.to_json()` as the `spec` param, so a job reruns exactly when its spec changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from scalingdown.pipeline import divergences, paths
from scalingdown.pipeline.candidates import selection_metric, varied
from scalingdown.pipeline.config import cache_settings, finetune_settings, seq2seq_setting
from scalingdown.pipeline.errors import UnknownKey
from scalingdown.pipeline.specs import (
    BenchmarkModel,
    BenchmarkSettings,
    BenchmarkSpec,
    DataSpec,
    DistillSpec,
    DistillTeacher,
    EnsembleSpec,
    EvaluateSpec,
    ExportSpec,
    FinetuneSpec,
    InitSettings,
    InitSpec,
    LogitsSpec,
    LossSpec,
    PrepareSpec,
    ReportSpec,
    SelectCandidate,
    SelectTeacherSpec,
    TeacherName,
    TextTask,
    TopkLogitsSpec,
    TrainingSpec,
    TransferSpec,
    WeightingSpec,
)
from scalingdown.pipeline.tasks import PRIMARY_METRIC, is_seq2seq, prompt_for

if TYPE_CHECKING:
    from scalingdown.pipeline.plan import Plan, TeacherPlan


def text_task(task: Mapping[str, Any], member: Mapping[str, Any], scoring: bool = False) -> TextTask | None:
    """The prompt and target length of a text-to-text task's teacher or student (None for classification); with
    `scoring` (the stages that score options: evaluate, benchmark) also the task's `option_score`, which training
    and the caches never see, so that changing it reruns only those stages."""
    if not is_seq2seq(task["type"]):
        return None
    return TextTask(
        prompt=prompt_for(task["type"], task.get("prompt")),
        max_target_length=seq2seq_setting(member, "max_target_length"),
        option_score=task.get("option_score", "sum") if scoring else "sum",
    )


def remote_code(*members: Mapping[str, Any]) -> bool:
    """Whether a stage loads a model whose config turns `trust_remote_code` on."""
    return any(member.get("trust_remote_code") for member in members)


def prepare_spec(
    task_name: str,
    task: Mapping[str, Any],
    seed: int,
    budget: float | None = None,
    transfer: bool = False,
    validation_budget: float | None = None,
) -> PrepareSpec:
    """The `prepare` spec of one task's data: at `seed`, with `budget` of the training labels (None: all; see
    `pipeline.budgets.normalised`), with `transfer` the task's `data.transfer` text appended unlabelled, and with
    `validation_budget` a share of the validation labels."""
    data = {
        key: value
        for key, value in task["data"].items()
        if key not in ("label_budget", "transfer", "validation_budget")
    }
    source = task["data"].get("transfer") if transfer else None
    return PrepareSpec(
        task=task_name,
        type=task["type"],
        labels=task.get("labels"),
        data=replace(
            DataSpec.from_dict(data, f"tasks.{task_name}.data"),
            label_budget=budget,
            validation_budget=validation_budget,
            transfer=None if source is None else TransferSpec.from_dict(source, f"tasks.{task_name}.data.transfer"),
        ),
        seed=seed,
        format=paths.FORMAT_VERSIONS["data"],
    )


def init_spec(task: Mapping[str, Any], student: Mapping[str, Any], seed: int) -> InitSpec:
    return InitSpec(
        type=task["type"],
        model=student["model"],
        init=InitSettings.from_dict(student["init"]),
        labels=task.get("labels"),
        seed=seed,
        format=paths.FORMAT_VERSIONS["student"],
        trust_remote_code=remote_code(student),
    )


def training_spec(
    task_type: str, settings: Mapping[str, Any], launch: Mapping[str, Any], seed: int | None = None
) -> TrainingSpec:
    """A training spec from the config's training settings and the launch settings; `seed` fills an unset seed.
    Checkpoints are selected by the task type's primary metric."""
    merged = {**({"seed": seed} if seed is not None else {}), **settings, **launch}
    return TrainingSpec.from_dict({**merged, "selection_metric": PRIMARY_METRIC[task_type]}, "training")


class StageSpecs:
    """Every stage's spec, by the wildcard values of its rule."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def prepare(self, data_key: str) -> PrepareSpec:
        data = self.plan.data_by_key(data_key)
        return prepare_spec(data.task, data.spec, data.seed, data.budget, data.transfer, data.validation_budget)

    def finetune(self, teacher_key: str) -> FinetuneSpec:
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
        if is_seq2seq(task.type):
            settings = cache_settings(teacher.spec)
            return TopkLogitsSpec(
                **common,
                logits_key=teacher.logits_key,
                top_k=settings["top_k"],
                targets=settings["targets"],
                hidden_layers=settings["hidden_layers"],
                text=text_task(task.spec, teacher.spec),
            )
        return LogitsSpec(**common, hidden_layers=list(teacher.hidden_layers))

    def init(self, init_key: str) -> InitSpec:
        student = self.plan.student_by_init_key(init_key)
        task = self.plan.task(student.task)
        return init_spec(task.spec, student.spec, task.seed)

    def distill(self, task_name: str, student_name: str) -> DistillSpec:
        student = self.plan.student(task_name, student_name)
        task = self.plan.task(task_name)
        online = student.online
        return DistillSpec(
            type=task.type,
            student=student.name,
            max_length=student.spec["max_length"],
            training=training_spec(task.type, student.spec["training"], self.plan.launch_spec("distill"), task.seed),
            loss=LossSpec.from_dict(divergences.with_defaults(student.spec["loss"]), "loss"),
            teacher_mode="online" if online else "cached",
            weighting=WeightingSpec.from_dict(student.spec["weighting"], "weighting"),
            teachers=[self._distill_teacher(teacher, task.type, online) for teacher in student.teachers],
            labels=task.labels,
            text=text_task(task.spec, student.spec),
            trust_remote_code=remote_code(student.spec, *(t.spec for t in student.teachers if online)),
        )

    @staticmethod
    def _distill_teacher(teacher: TeacherPlan, task_type: str, online: bool) -> DistillTeacher:
        """A teacher as `distill` sees it: its key, model and max length (what its cache must match; what online
        mode loads), in online mode its label map, and for a text-to-text task its cache settings."""
        seq2seq = cache_settings(teacher.spec) if is_seq2seq(task_type) else {}
        return DistillTeacher(
            name=teacher.name,
            key=teacher.key,
            model=teacher.model_ref,
            max_length=teacher.spec["max_length"],
            label_map=teacher.label_map if online else None,
            logits_key=teacher.logits_key if seq2seq else None,
            top_k=seq2seq.get("top_k"),
            targets=seq2seq.get("targets"),
            hidden_layers=seq2seq.get("hidden_layers"),
        )

    def ensemble(self, task_name: str) -> EnsembleSpec:
        task = self.plan.task(task_name)
        return EnsembleSpec(
            task=task.name,
            labels=task.labels,
            teachers=[TeacherName(name=t.name, key=t.key) for t in task.teachers.values()],
        )

    def _member(self, task_name: str, kind: str, name: str) -> tuple[str, str, dict[str, Any], dict[str, str]]:
        """A teacher's or student's model id (key or name), report role, config and label map."""
        if kind == "teacher":
            teacher = self.plan.teacher(task_name, name)
            return teacher.key, "teacher", teacher.spec, teacher.label_map
        student = self.plan.student(task_name, name)
        return name, student.role, student.spec, {}

    def evaluate(self, task_name: str, kind: str, name: str, variant: str | None = None) -> EvaluateSpec:
        """A teacher's or student's `evaluate` spec; with `variant`, that of one of the student's exports."""
        task = self.plan.task(task_name)
        if variant is not None and variant not in self.plan.student(task_name, name).exports:
            raise UnknownKey(f"student {name!r} of task {task_name!r} has no export {variant!r}")
        model, role, member, label_map = self._member(task_name, kind, name)
        return EvaluateSpec(
            type=task.type,
            task=task.name,
            kind=kind,
            name=name,
            model=model,
            role=role,
            max_length=member["max_length"],
            labels=task.labels,
            batch_size=self.plan.config["benchmark"]["batch_size"],
            label_map=label_map,
            text=text_task(task.spec, member, scoring=True),
            trust_remote_code=remote_code(member),
            variant=variant,
        )

    def export(self, task_name: str, student_name: str, variant: str) -> ExportSpec:
        """One variant the student's exports need (those listed, and ONNX fp32 under ONNX int8)."""
        if variant not in self.plan.student(task_name, student_name).built_exports:
            raise UnknownKey(f"student {student_name!r} of task {task_name!r} has no export {variant!r}")
        return ExportSpec(task=task_name, student=student_name, variant=variant, format=paths.FORMAT_VERSIONS["export"])

    def benchmark(self, task_name: str) -> BenchmarkSpec:
        """Every model of the task as the benchmark times it, in `Plan.benchmarked_models` order."""
        task = self.plan.task(task_name)
        models = []
        for record_id, kind, name, variant in self.plan.benchmarked_models(task_name):
            _, _, member, _ = self._member(task_name, "teacher" if kind == "teacher" else "student", name)
            models.append(
                BenchmarkModel(
                    id=record_id,
                    kind=kind,
                    name=name,
                    variant=variant,
                    max_length=member["max_length"],
                    text=text_task(task.spec, member, scoring=True),
                    trust_remote_code=remote_code(member) and variant == "fp32",
                )
            )
        return BenchmarkSpec(
            type=task.type,
            task=task.name,
            models=models,
            settings=BenchmarkSettings.from_dict(self.plan.config["benchmark"], "benchmark"),
        )

    def report(self) -> ReportSpec:
        return ReportSpec(experiment=self.plan.experiment, config=self.plan.config)
