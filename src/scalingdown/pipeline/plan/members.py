"""What the plan holds for one experiment: each prepared dataset, teacher, student and task (at one seed and label
budget), what a file the report reads belongs to, and what a benchmark times. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scalingdown.pipeline import paths
from scalingdown.pipeline.config.label_budgets import Budget
from scalingdown.pipeline.config.settings import teachers_online
from scalingdown.pipeline.config.shapes import ShapedStudent
from scalingdown.pipeline.names import divergence_table
from scalingdown.pipeline.names.export_variants import SOURCES, variants, variants_with_sources


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
    validation_budget: Budget | None = None

    @property
    def dir(self) -> str:
        """The prepared data's directory."""
        return paths.data_dir(self.key)


@dataclass(frozen=True)
class TeacherPlan:
    """One teacher of one task (at one seed): its config, the key of its (fine-tuned) model and of its logit cache.

    `logits_key` also depends on what the cache holds beyond the logits: for classification the hidden states
    (0 = embeddings) some student of this teacher maps to (`hidden_layers`); for text-to-text tasks the cache
    settings (top_k, targets, hidden layers). Changing those recomputes the cache but never re-fine-tunes.
    `data_key` is the data the teacher is fine-tuned on (its own label budget); the cache covers the students' data
    of its task (labelled and transfer rows), so where the two differ `logits_key` names the students' data too.
    A teacher whose `finetune` lists candidates (`config.candidates`) has them in `candidates`, each a teacher plan
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
        """Whether the teacher is fine-tuned here (`finetune` is not false)."""
        return self.spec["finetune"] is not False

    @property
    def model_dir(self) -> str:
        """The fine-tuned teacher's model directory."""
        return paths.teacher_model(self.key)

    @property
    def history(self) -> str:
        """The fine-tuned teacher's training history."""
        return paths.teacher_history(self.key)

    @property
    def selection(self) -> str:
        """The record of the candidates' validation scores (a teacher with `candidates` only)."""
        return paths.teacher_selection(self.key)

    @property
    def logits(self) -> str:
        """The teacher's cache file."""
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

    `baseline` is its gold-only twin (`config.twins`), the student the report compares it with seed by seed; `shape`
    the swept student and the shape this one is, for a student of a shape sweep (`config.shapes`).
    """

    task: str
    name: str
    spec: dict[str, Any]
    teachers: tuple[TeacherPlan, ...]
    root: str
    init_key: str
    baseline: str | None = None
    shape: ShapedStudent | None = None

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
        """The trained student's model directory."""
        return paths.student_model(self.root, self.task, self.name)

    @property
    def history(self) -> str:
        """The trained student's training history."""
        return paths.student_history(self.root, self.task, self.name)

    @property
    def trained(self) -> bool:
        """Whether the student is trained (`train: true`), rather than evaluated as initialised."""
        return bool(self.spec["train"])

    @property
    def online(self) -> bool:
        """Whether the teachers run inside the training loop instead of being read from their logit caches."""
        return teachers_online(self.teachers, self.spec["teacher_mode"])

    @property
    def on_policy(self) -> bool:
        """Whether the student also learns from its own samples scored by its teacher online (`loss.on_policy`, causal
        students): its `distill` then loads the teacher besides reading its cache."""
        return bool(self.teachers) and float(self.spec["loss"].get("on_policy", 0) or 0) > 0

    @property
    def evaluated_dir(self) -> str:
        """What `evaluate` scores: the trained model, or the initial weights of an untrained student."""
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
        """The directory of one of the student's export variants."""
        return paths.export_dir(self.root, self.task, self.name, variant)

    def export_source(self, variant: str) -> str:
        """What an export is made from: the student's model, or the variant it quantizes (ONNX int8 <- fp32)."""
        return self.export_dir(SOURCES[variant]) if variant in SOURCES else self.evaluated_dir

    @property
    def role(self) -> str:
        """The row label in the report, derived from the config (a shape's student: with its shape)."""
        role = self._role()
        return role if self.shape is None else f"{role[:-1]}; {shape_text(self.spec)})"

    def _role(self) -> str:
        if not self.trained:
            return "student (untrained)"
        start = f", starting from {self.init_student}" if self.init_student else ""
        if not self.teachers:
            return f"student (gold labels only{start})"
        online = ", online" if self.online else ""
        hidden = ", hidden-layer MSE" if self.spec["loss"]["hidden"] > 0 else ""
        loss = divergence_table.with_defaults(self.spec["loss"])
        name = loss.get("divergence", divergence_table.DEFAULT)
        divergence = (
            ""
            if name == divergence_table.DEFAULT
            else ", " + divergence_table.label(name, loss.get("beta"), loss.get("alpha"))
        )
        teachers = " + ".join(t.name for t in self.teachers)
        return f"student (distilled from {teachers}{divergence}{hidden}{online}{start})"


def shape_text(student: dict[str, Any]) -> str:
    """A student's shape in words: `2 layers [0, 3], 64 tokens` (layers only when it keeps a subset)."""
    layers = student["init"].get("layers")
    kept = f"{len(layers)} layer{'s' if len(layers) > 1 else ''} {list(layers)}, " if layers else ""
    return f"{kept}{student['max_length']} tokens"


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
        """The task type."""
        return str(self.spec["type"])

    @property
    def labels(self) -> list[str] | None:
        """The task's label names (classification), in the order students use."""
        return self.spec.get("labels")

    @property
    def data_dir(self) -> str:
        """The students' prepared data."""
        return paths.data_dir(self.data_key)


@dataclass(frozen=True)
class ReportInput:
    """What one file the report reads belongs to: a task at one seed, a kind (`teacher`, `student`, `export`,
    `ensemble`, `benchmark`, `selection`) and the model's name (the student's for an export, the teacher's for a
    selection record; empty for an ensemble or benchmark record)."""

    task: TaskPlan
    kind: str
    name: str


class BenchmarkedModel(NamedTuple):
    """One model a task's `benchmark` job times: its record id (`teacher.<name>`, `student.<name>`,
    `export.<student>.<variant>`), its kind (`teacher`, `student`, `export`), its name (the student's for an export)
    and its variant (`fp32` for a model as trained)."""

    id: str
    kind: str
    name: str
    variant: str
