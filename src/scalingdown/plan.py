"""The experiment plan: every stage's spec (its params) and output path, derived from the config.

Paths of shared artefacts (prepared data, fine-tuned teachers, teacher logits) carry a hash of
everything that determines them, so experiments that share a teacher and a dataset share one
cache, and a student setting never reaches a teacher's path. Student outputs live under the
experiment. Standard library only: the Snakefile imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scalingdown.config import (
    canonical,
    canonical_json,
    data_file_options,
    hidden_pairs,
    lora_settings,
    seq2seq_setting,
    short_hash,
)
from scalingdown.launch import launcher_prefix
from scalingdown.seq2seq.formats import is_seq2seq, prompt_for

RESULTS = "results"
CACHE = f"{RESULTS}/cache"

# Bump a number when the code that produces that artefact changes what it writes: the new
# value changes every path of that kind, so old caches are never reused by mistake.
FORMAT_VERSIONS = {"data": 2, "teacher": 1, "logits": 2, "student": 1}

# Path templates shared with the rules (workflow/rules/*.smk) as output patterns.
DATA_DIR = CACHE + "/data/{data_key}"
TEACHER_DIR = CACHE + "/teachers/{teacher_key}"
LOGITS_FILE = CACHE + "/logits/{logits_key}-f" + str(FORMAT_VERSIONS["logits"]) + ".parquet"
STUDENT_INIT_DIR = CACHE + "/student-init/{init_key}"


def remote_code(*members: dict[str, Any]) -> dict[str, bool]:
    """`{"trust_remote_code": True}` for a stage that loads a model whose config turns it on, else nothing
    (so specs, and the cache keys made from them, stay as they were for everyone else)."""
    return {"trust_remote_code": True} if any(member.get("trust_remote_code") for member in members) else {}


@dataclass(frozen=True)
class TeacherPlan:
    """One teacher of one task: its fine-tune spec, model directory and logit cache.

    `key` identifies the (fine-tuned) teacher; `logits_key` its cache, which also depends on what
    the cache holds beyond the logits: for classification the hidden states (0 = embeddings) that
    some student of this teacher maps to (their pooled values, `hidden_layers`); for seq2seq tasks
    the cache settings (top_k, targets, hidden layers). Changing those recomputes the cache but
    never re-fine-tunes the teacher.
    """

    task: str
    name: str
    key: str
    spec: dict[str, Any]
    finetuned: bool
    model_dir: str
    logits: str
    logits_key: str
    hidden_layers: tuple[int, ...] = ()

    @property
    def model_ref(self) -> str:
        """What downstream stages load: the fine-tuned directory, or the configured model."""
        return self.model_dir if self.finetuned else self.spec["model"]

    @property
    def label_map(self) -> dict[str, str]:
        """The model's label names mapped to the task's (`labels` of the teacher; empty = by name)."""
        return self.spec.get("labels") or {}


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
    def init_student(self) -> str | None:
        """The student whose trained model this one starts from (multi-stage chains), if any."""
        init = self.spec["init"]
        return init["student"] if init["method"] == "student" else None

    @property
    def init_dir(self) -> str:
        """Initial weights: another student's trained model (chains), else the shared init directory
        of every student (of any experiment) with the same init spec."""
        if self.init_student:
            return f"{self.root.rsplit('/', 1)[0]}/{self.init_student}/model"
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
    def online(self) -> bool:
        """Whether the teachers run inside the training loop instead of being read from their logit caches."""
        return bool(self.teachers) and self.spec["teacher_mode"] == "online"

    @property
    def evaluated_dir(self) -> str:
        return self.model_dir if self.trained else self.init_dir

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
        return "student (distilled from " + " + ".join(t.name for t in self.teachers) + f"{hidden}{online}{start})"


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

    def _plan_teacher(
        self, task: TaskPlan, name: str, spec: dict[str, Any], hidden_layers: tuple[int, ...]
    ) -> TeacherPlan:
        identity = {
            "data": task.data_key,
            "labels": task.spec.get("labels"),
            "model": spec["model"],
            "max_length": spec["max_length"],
            "finetune": self._finetune_settings(spec["finetune"]),
            "launch": self.launch_spec("finetune_teacher") if spec["finetune"] is not False else None,
            "seed": self.seed,
            "format": FORMAT_VERSIONS["teacher"],
            **self._text_fields(task.spec, spec),
        }
        if spec.get("labels"):
            identity["label_map"] = spec["labels"]
        key = f"{task.name}.{name}-{short_hash(identity)}"
        logits_key = key
        if is_seq2seq(task.spec["type"]):
            logits_key = f"{key}.topk-{short_hash(self._cache_settings(spec))}"
        elif hidden_layers:
            logits_key = f"{key}.h" + "_".join(str(layer) for layer in hidden_layers)
        return TeacherPlan(
            task=task.name,
            name=name,
            key=key,
            spec=spec,
            finetuned=spec["finetune"] is not False,
            model_dir=TEACHER_DIR.format(teacher_key=key) + "/model",
            hidden_layers=hidden_layers,
            logits=LOGITS_FILE.format(logits_key=logits_key),
            logits_key=logits_key,
        )

    @staticmethod
    def _text_fields(task: dict[str, Any], member: dict[str, Any]) -> dict[str, Any]:
        """What a text-to-text task adds to a teacher's or student's specs: the prompt and target length."""
        if not is_seq2seq(task["type"]):
            return {}
        return {
            "type": task["type"],
            "prompt": prompt_for(task["type"], task.get("prompt")),
            "max_target_length": seq2seq_setting(member, "max_target_length"),
        }

    @staticmethod
    def _cache_settings(teacher: dict[str, Any]) -> dict[str, Any]:
        """The settings of a seq2seq teacher cache beyond the teacher itself."""
        return {
            "top_k": seq2seq_setting(teacher, "top_k"),
            "targets": seq2seq_setting(teacher, "targets"),
            "hidden_layers": teacher.get("hidden_layers") or {},
        }

    @staticmethod
    def _finetune_settings(finetune: dict[str, Any] | bool) -> dict[str, Any] | bool:
        """A teacher's fine-tune settings with the LoRA file replaced by its content (what determines the model)."""
        if finetune is False or finetune["method"] != "lora":
            return finetune
        settings = {key: value for key, value in finetune.items() if key != "lora_config"}
        return {**settings, "lora": canonical(lora_settings(finetune))}

    def _init_spec(self, task: dict[str, Any], student: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": task["type"],
            "model": student["model"],
            "init": student["init"],
            "labels": task.get("labels"),
            "seed": self.seed,
            "format": FORMAT_VERSIONS["student"],
            **remote_code(student),
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

    def teacher_by_logits_key(self, logits_key: str) -> TeacherPlan:
        return next(t for task in self.tasks.values() for t in task.teachers.values() if t.logits_key == logits_key)

    def data_files(self, data_key: str) -> list[str]:
        """Input files of a task's loader: every option named `path`, `files` or ending in `_path` / `_files`
        (a string, or the strings in a list or mapping), sorted and without repeats."""
        options = self.task_by_data_key(data_key).spec["data"].get("options", {})
        return sorted({path for _, path in data_file_options(options)})

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
        """One ensemble record per classification task with at least two teachers."""
        return [
            self.ensemble_file(task.name)
            for task in self.tasks.values()
            if len(task.teachers) >= 2 and not is_seq2seq(task.spec["type"])
        ]

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
            files += [
                TEACHER_DIR.format(teacher_key=t.key) + "/history.json" for t in task.teachers.values() if t.finetuned
            ]
            files += [s.history for s in task.students.values() if s.trained]
        return files

    # -- how jobs run: cluster resources and the training launcher -----------------------------
    def resources(self, stage: str) -> dict[str, Any]:
        """A heavy stage's job resources (`gpu`, `mem_mb`, `runtime`, `cpus_per_gpu`, `gpu_model`)."""
        return dict(self.config["resources"][stage])

    def processes(self, stage: str) -> int:
        """Training processes of one job of `stage`: `distributed.processes`, or one per GPU."""
        wanted = self.config["distributed"]["processes"]
        if wanted == "gpus":
            return max(1, self.config["resources"][stage]["gpu"])
        return int(wanted)

    def launch_spec(self, stage: str) -> dict[str, Any]:
        """The launch settings that change a trained model: processes (the global batch) and DeepSpeed."""
        return {"processes": self.processes(stage), "deepspeed": self.config["distributed"]["deepspeed"]}

    def launcher(self, stage: str) -> str:
        """The command prefix a training rule runs `scalingdown` with (see `scalingdown.launch`)."""
        launch = self.launch_spec(stage)
        return launcher_prefix(launch["processes"], deepspeed=launch["deepspeed"] is not None)

    def deepspeed_config(self) -> list[str]:
        """The DeepSpeed config file as a training rule's input (`[]` without DeepSpeed)."""
        path = self.config["distributed"]["deepspeed"]
        return [path] if path else []

    def distill_logits(self, task: str, student: str) -> list[str]:
        """The logit caches a student's `distill` reads (none when its teachers run online)."""
        plan = self.student(task, student)
        return [] if plan.online else [t.logits for t in plan.teachers]

    def distill_teacher_models(self, task: str, student: str) -> list[str]:
        """The local teacher directories an online `distill` loads (none in cached mode)."""
        plan = self.student(task, student)
        return [d for t in plan.teachers for d in local_model(t.model_ref)] if plan.online else []

    def cached_artefacts(self) -> list[str]:
        """The shared artefacts under `results/cache/` this experiment's models were built from.

        The report tells, from each one's provenance record, which were built for this experiment
        and which were reused from another one.
        """
        paths: list[str] = []
        for task in self.tasks.values():
            paths.append(task.data_dir)
            paths += [t.model_dir for t in task.teachers.values() if t.finetuned]
            for student in task.students.values():
                paths.append(student.init_dir)
                if student.trained:
                    paths += self.distill_logits(task.name, student.name)
        return list(dict.fromkeys(paths))

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
                "type": task["type"],
                "teacher": teacher.name,
                "model": teacher.spec["model"],
                "max_length": teacher.spec["max_length"],
                "training": {**settings, **self.launch_spec("finetune_teacher")},
                "method": method,
                "lora": lora,
                "label_map": teacher.label_map,
                "labels": task.get("labels"),
                "seed": self.seed,
                **self._text_fields(task, teacher.spec),
                **remote_code(teacher.spec),
            }
        )

    def logits_spec(self, logits_key: str) -> str:
        teacher = self.teacher_by_logits_key(logits_key)
        task = self.tasks[teacher.task].spec
        extra: dict[str, Any] = {}
        if is_seq2seq(task["type"]):
            extra = {
                "logits_key": teacher.logits_key,
                **self._text_fields(task, teacher.spec),
                **self._cache_settings(teacher.spec),
            }
        return canonical_json(
            {
                "type": task["type"],
                "teacher": teacher.name,
                "teacher_key": teacher.key,
                "model": teacher.model_ref,
                "max_length": teacher.spec["max_length"],
                "hidden_layers": list(teacher.hidden_layers),
                "label_map": teacher.label_map,
                "labels": task.get("labels"),
                **extra,
                **remote_code(teacher.spec),
            }
        )

    def init_spec(self, init_key: str) -> str:
        student = self.student_by_init_key(init_key)
        return canonical_json(self._init_spec(self.tasks[student.task].spec, student.spec))

    def distill_spec(self, task: str, student: str) -> str:
        plan = self.student(task, student)
        task_spec = self.tasks[task].spec
        teachers = [self._distill_teacher(t, plan.online) for t in plan.teachers]
        if is_seq2seq(task_spec["type"]):
            teachers = [
                {**entry, "logits_key": t.logits_key, **self._cache_settings(t.spec)}
                for entry, t in zip(teachers, plan.teachers)
            ]
        return canonical_json(
            {
                "type": task_spec["type"],
                "student": plan.name,
                "max_length": plan.spec["max_length"],
                "training": {"seed": self.seed, **plan.spec["training"], **self.launch_spec("distill")},
                "loss": plan.spec["loss"],
                "teacher_mode": "online" if plan.online else "cached",
                "weighting": plan.spec["weighting"],
                "teachers": teachers,
                "labels": task_spec.get("labels"),
                **self._text_fields(task_spec, plan.spec),
                **remote_code(plan.spec, *(t.spec for t in plan.teachers if plan.online)),
            }
        )

    @staticmethod
    def _distill_teacher(teacher: TeacherPlan, online: bool) -> dict[str, Any]:
        """A teacher as `distill` sees it: its key, model and max length (what its cache must match; what
        online mode loads), and in online mode its label map."""
        entry = {
            "name": teacher.name,
            "key": teacher.key,
            "model": teacher.model_ref,
            "max_length": teacher.spec["max_length"],
        }
        if online:
            entry["label_map"] = teacher.label_map
        return entry

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
            model, role, member = teacher.key, "teacher", teacher.spec
            label_map = teacher.label_map
        else:
            student = task_plan.students[name]
            model, role, member = name, student.role, student.spec
        max_length = member["max_length"]
        return canonical_json(
            {
                "type": task_plan.spec["type"],
                **self._text_fields(task_plan.spec, member),
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
                **remote_code(member),
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
