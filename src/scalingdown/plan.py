"""The experiment plan: every stage's spec (its params) and output path, derived from the config.

Paths of shared artefacts (prepared data, fine-tuned teachers, teacher logits) carry a hash of
everything that determines them, so experiments that share a teacher and a dataset share one
cache, and a student setting never reaches a teacher's path. Student outputs live under the
experiment. Standard library only: the Snakefile imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scalingdown.config import canonical, canonical_json, hidden_pairs, lora_settings, short_hash

RESULTS = "results"
CACHE = f"{RESULTS}/cache"

# Bump a number when the code that produces that artefact changes what it writes: the new
# value changes every path of that kind, so old caches are never reused by mistake.
FORMAT_VERSIONS = {"data": 1, "teacher": 1, "logits": 2, "student": 1}

# Path templates shared with the rules (workflow/rules/*.smk) as output patterns.
DATA_DIR = CACHE + "/data/{data_key}"
TEACHER_DIR = CACHE + "/teachers/{teacher_key}"
LOGITS_FILE = CACHE + "/logits/{logits_key}-f" + str(FORMAT_VERSIONS["logits"]) + ".parquet"
STUDENT_INIT_DIR = CACHE + "/student-init/{init_key}"


@dataclass(frozen=True)
class TeacherPlan:
    """One teacher of one task: its fine-tune spec, model directory and logit cache.

    `hidden_layers` are the hidden states (0 = embeddings) that some student of this teacher
    maps to; the logit cache stores their pooled values, and its key names them, so a change
    of a hidden map recomputes the cache while other student settings do not.
    """

    task: str
    name: str
    key: str
    spec: dict[str, Any]
    finetuned: bool
    model_dir: str
    hidden_layers: tuple[int, ...] = ()

    @property
    def model_ref(self) -> str:
        """What downstream stages load: the fine-tuned directory, or the configured model."""
        return self.model_dir if self.finetuned else self.spec["model"]

    @property
    def label_map(self) -> dict[str, str]:
        """The model's label names mapped to the task's (`labels` of the teacher; empty = by name)."""
        return self.spec.get("labels") or {}

    @property
    def logits_key(self) -> str:
        if not self.hidden_layers:
            return self.key
        return f"{self.key}.h" + "_".join(str(layer) for layer in self.hidden_layers)

    @property
    def logits(self) -> str:
        return LOGITS_FILE.format(logits_key=self.logits_key)


@dataclass(frozen=True)
class StudentPlan:
    """One student of one task: how it is initialised and trained, and where it lands."""

    task: str
    name: str
    spec: dict[str, Any]
    teachers: tuple[TeacherPlan, ...]
    root: str
    init_key: str

    @property
    def init_dir(self) -> str:
        """Initial weights, shared by every student (of any experiment) with the same init spec."""
        return STUDENT_INIT_DIR.format(init_key=self.init_key)

    @property
    def model_dir(self) -> str:
        return f"{self.root}/model"

    @property
    def history(self) -> str:
        return f"{self.root}/history.json"

    @property
    def checkpoints(self) -> str:
        """Resumable training state; deliberately not a declared output (Snakemake deletes those)."""
        return f"{self.root}/checkpoints"

    @property
    def trained(self) -> bool:
        return bool(self.spec["train"])

    @property
    def evaluated_dir(self) -> str:
        return self.model_dir if self.trained else self.init_dir

    @property
    def role(self) -> str:
        """The row label in the report, derived from the config."""
        if not self.trained:
            return "student (untrained)"
        if not self.teachers:
            return "student (gold labels only)"
        hidden = ", hidden-layer MSE" if self.spec["loss"]["hidden"] > 0 else ""
        return "student (distilled from " + " + ".join(t.name for t in self.teachers) + hidden + ")"


@dataclass(frozen=True)
class TaskPlan:
    """One task: its prepared data and the teachers and students trained on it."""

    name: str
    spec: dict[str, Any]
    data_key: str
    data_dir: str
    teachers: dict[str, TeacherPlan] = field(default_factory=dict)
    students: dict[str, StudentPlan] = field(default_factory=dict)


class Plan:
    """All paths and stage specs of one experiment."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = canonical(config)
        self.experiment: str = self.config["experiment"]
        self.seed: int = self.config["seed"]
        self.threads: int = self.config["threads"]
        self.root = f"{RESULTS}/{self.experiment}"
        self.tasks = {name: self._plan_task(name, spec) for name, spec in self.config["tasks"].items()}

    # -- construction -------------------------------------------------------------------------
    def _plan_task(self, name: str, spec: dict[str, Any]) -> TaskPlan:
        prepare = self._prepare_spec(name, spec)
        data_key = f"{name}-{short_hash(prepare)}"
        task = TaskPlan(name=name, spec=spec, data_key=data_key, data_dir=DATA_DIR.format(data_key=data_key))
        mapped_layers: dict[str, set[int]] = {teacher: set() for teacher in spec["teachers"]}
        for student in spec["students"].values():
            for _, teacher_name, teacher_layer in hidden_pairs(student["loss"]):
                mapped_layers[teacher_name].add(teacher_layer)
        for teacher_name, teacher in spec["teachers"].items():
            task.teachers[teacher_name] = self._plan_teacher(
                task, teacher_name, teacher, tuple(sorted(mapped_layers[teacher_name]))
            )
        for student_name, student in spec["students"].items():
            task.students[student_name] = StudentPlan(
                task=name,
                name=student_name,
                spec=student,
                teachers=tuple(task.teachers[t] for t in student["teachers"]),
                root=f"{self.root}/{name}/students/{student_name}",
                init_key=f"{name}-{short_hash(self._init_spec(spec, student))}",
            )
        return task

    def _plan_teacher(self, task: TaskPlan, name: str, spec: dict[str, Any],
                      hidden_layers: tuple[int, ...]) -> TeacherPlan:
        identity = {
            "data": task.data_key,
            "labels": task.spec.get("labels"),
            "model": spec["model"],
            "max_length": spec["max_length"],
            "finetune": self._finetune_settings(spec["finetune"]),
            "seed": self.seed,
            "format": FORMAT_VERSIONS["teacher"],
        }
        if spec.get("labels"):
            identity["label_map"] = spec["labels"]
        key = f"{task.name}.{name}-{short_hash(identity)}"
        return TeacherPlan(
            task=task.name,
            name=name,
            key=key,
            spec=spec,
            finetuned=spec["finetune"] is not False,
            model_dir=TEACHER_DIR.format(teacher_key=key) + "/model",
            hidden_layers=hidden_layers,
        )

    @staticmethod
    def _finetune_settings(finetune: dict[str, Any] | bool) -> dict[str, Any] | bool:
        """A teacher's fine-tune settings with the LoRA file replaced by its content (what determines the model)."""
        if finetune is False or finetune["method"] != "lora":
            return finetune
        settings = {key: value for key, value in finetune.items() if key != "lora_config"}
        return {**settings, "lora": canonical(lora_settings(finetune))}

    def _init_spec(self, task: dict[str, Any], student: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": student["model"],
            "init": student["init"],
            "labels": task.get("labels"),
            "seed": self.seed,
            "format": FORMAT_VERSIONS["student"],
        }

    def _prepare_spec(self, name: str, task: dict[str, Any]) -> dict[str, Any]:
        return {
            "task": name,
            "type": task["type"],
            "labels": task.get("labels"),
            "data": task["data"],
            "seed": self.seed,
            "format": FORMAT_VERSIONS["data"],
        }

    # -- lookups used by the rules ------------------------------------------------------------
    def task_by_data_key(self, data_key: str) -> TaskPlan:
        return next(t for t in self.tasks.values() if t.data_key == data_key)

    def teacher_by_key(self, key: str) -> TeacherPlan:
        return next(t for task in self.tasks.values() for t in task.teachers.values() if t.key == key)

    def teacher_by_logits_key(self, key: str) -> TeacherPlan:
        return next(t for task in self.tasks.values() for t in task.teachers.values() if t.logits_key == key)

    def data_files(self, data_key: str) -> list[str]:
        """Input files of a task's loader: every option named `path` or ending in `_path` (str or list)."""
        options = self.task_by_data_key(data_key).spec["data"].get("options", {})
        files: list[str] = []
        for key, value in sorted(options.items()):
            if key == "path" or key.endswith("_path"):
                files += value if isinstance(value, list) else [value]
        return files

    def student_by_init_key(self, init_key: str) -> StudentPlan:
        return next(s for task in self.tasks.values() for s in task.students.values() if s.init_key == init_key)

    def student(self, task: str, name: str) -> StudentPlan:
        return self.tasks[task].students[name]

    def eval_file(self, task: str, kind: str, name: str) -> str:
        return f"{self.root}/{task}/eval/{kind}.{name}.json"

    def ensemble_file(self, task: str) -> str:
        """Teacher agreement and ensemble scores of a task (from the cached test logits)."""
        return f"{self.root}/{task}/eval/ensemble.json"

    def ensemble_files(self) -> list[str]:
        """One ensemble record per task with at least two teachers."""
        return [self.ensemble_file(task.name) for task in self.tasks.values() if len(task.teachers) >= 2]

    def eval_files(self) -> list[str]:
        """Every evaluation the report needs: all teachers and all students of all tasks."""
        files = []
        for task in self.tasks.values():
            files += [self.eval_file(task.name, "teacher", t) for t in task.teachers]
            files += [self.eval_file(task.name, "student", s) for s in task.students]
        return files

    def histories(self) -> list[str]:
        """Training logs the report plots: every fine-tuned teacher and every trained student."""
        files = []
        for task in self.tasks.values():
            files += [TEACHER_DIR.format(teacher_key=t.key) + "/history.json"
                      for t in task.teachers.values() if t.finetuned]
            files += [s.history for s in task.students.values() if s.trained]
        return files

    @property
    def report_dir(self) -> str:
        return f"{self.root}/report"

    def log(self, stage: str, name: str) -> str:
        return f"{self.root}/logs/{stage}/{name}.log"

    # -- stage specs (the params of each rule) ------------------------------------------------
    def prepare_spec(self, data_key: str) -> str:
        task = self.task_by_data_key(data_key)
        return canonical_json(self._prepare_spec(task.name, task.spec))

    def finetune_spec(self, teacher_key: str) -> str:
        teacher = self.teacher_by_key(teacher_key)
        task = self.tasks[teacher.task].spec
        settings = dict(self._finetune_settings(teacher.spec["finetune"]))
        method, lora = settings.pop("method"), settings.pop("lora", None)
        return canonical_json(
            {
                "teacher": teacher.name,
                "model": teacher.spec["model"],
                "max_length": teacher.spec["max_length"],
                "training": settings,
                "method": method,
                "lora": lora,
                "label_map": teacher.label_map,
                "labels": task.get("labels"),
                "seed": self.seed,
            }
        )

    def logits_spec(self, logits_key: str) -> str:
        teacher = self.teacher_by_logits_key(logits_key)
        return canonical_json(
            {
                "teacher": teacher.name,
                "teacher_key": teacher.key,
                "model": teacher.model_ref,
                "max_length": teacher.spec["max_length"],
                "hidden_layers": list(teacher.hidden_layers),
                "label_map": teacher.label_map,
                "labels": self.tasks[teacher.task].spec.get("labels"),
            }
        )

    def init_spec(self, init_key: str) -> str:
        student = self.student_by_init_key(init_key)
        return canonical_json(self._init_spec(self.tasks[student.task].spec, student.spec))

    def distill_spec(self, task: str, student: str) -> str:
        plan = self.student(task, student)
        return canonical_json(
            {
                "student": plan.name,
                "max_length": plan.spec["max_length"],
                "training": {"seed": self.seed, **plan.spec["training"]},
                "loss": plan.spec["loss"],
                "weighting": plan.spec["weighting"],
                "teachers": [{"name": t.name, "key": t.key} for t in plan.teachers],
                "labels": self.tasks[task].spec.get("labels"),
            }
        )

    def ensemble_spec(self, task: str) -> str:
        task_plan = self.tasks[task]
        return canonical_json(
            {
                "task": task,
                "labels": task_plan.spec.get("labels"),
                "teachers": [{"name": t.name, "key": t.key} for t in task_plan.teachers.values()],
            }
        )

    def evaluate_spec(self, task: str, kind: str, name: str) -> str:
        task_plan = self.tasks[task]
        label_map: dict[str, str] = {}
        if kind == "teacher":
            teacher = task_plan.teachers[name]
            model, role, max_length = teacher.key, "teacher", teacher.spec["max_length"]
            label_map = teacher.label_map
        else:
            student = task_plan.students[name]
            model, role, max_length = name, student.role, student.spec["max_length"]
        return canonical_json(
            {
                **({"label_map": label_map} if label_map else {}),
                "task": task,
                "kind": kind,
                "name": name,
                "model": model,
                "role": role,
                "max_length": max_length,
                "labels": task_plan.spec.get("labels"),
                "benchmark": self.config["benchmark"],
                "threads": self.threads,
            }
        )

    def report_spec(self) -> str:
        return canonical_json({"experiment": self.experiment, "config": self.config})

    def evaluated_model(self, task: str, kind: str, name: str) -> str:
        """The directory (or model reference) that `evaluate` loads."""
        task_plan = self.tasks[task]
        if kind == "teacher":
            return task_plan.teachers[name].model_ref
        return task_plan.students[name].evaluated_dir


def local_model(ref: str) -> list[str]:
    """A model reference as rule input: `[directory]` for a local directory, `[]` for hub/package/tiny."""
    return [ref] if ":" not in ref else []
