"""The interface every model family implements: what the stages need from a family.

A model family is the kind of model a task is learned with (`pipeline.names.families` says which task types each
serves and what the pipeline layer knows of it). All of a family's code is one package, `scalingdown.families.<name>`,
whose module `family` has the members below; `families.registry` maps each family's name to that module. A stage
finds the family of its job once, from the spec's task type (`registry.family_for`), and calls only these members, so
that a new family is a new package and a line in the registry, not a branch in every stage.

What a family provides, by stage:

- `finetune_teacher`: `fit_teacher` (gold labels or targets alone; LoRA when the job says so);
- `teacher_logits`: `cache_teacher`, which writes the teacher outputs the family's students learn from, with the
  fingerprint its readers check (the cache is read and checked again inside `fit_student`);
- `init_student`: `build_student`; `distill`: `fit_student` (from the caches, online teachers, or gold alone);
- `check_distill_inputs`: `check_student_inputs` (the checks `fit_student` makes of the teacher caches before it
  trains, run in a job of their own before `distill`, so that a refused cache leaves the previous student in place);
- `evaluate`: `score` (the test split's metrics of a model as trained or of one of its exports);
- `benchmark`: `timing_inputs` (one input per test row) and `timeable` (a model as the timing loop runs it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import pandas as pd
from transformers import PreTrainedModel

from scalingdown.evaluation.timing import Timeable
from scalingdown.pipeline.names.families import FamilyInfo
from scalingdown.pipeline.specs.definitions import (
    BenchmarkModel,
    DistillSpec,
    EvaluateSpec,
    FinetuneSpec,
    InitSpec,
    LogitsSpec,
    LossSpec,
    TopkLogitsSpec,
    TrainingSpec,
)
from scalingdown.training.trainer import TrainedRun

# What a teacher learns from when it is fine-tuned: the gold labels or targets alone.
GOLD_ONLY = LossSpec(ce=1.0, kd=0.0, temperature=1.0, hidden=0.0, hidden_projection="auto", hidden_map={})


@dataclass(frozen=True)
class TrainingJob:
    """How one training job runs, in every family: the trainer settings, the folder of its resumable checkpoints,
    what a checkpoint must match to be resumed, and the LoRA settings of a teacher fine-tuned with LoRA."""

    training: TrainingSpec
    checkpoints: str
    resume_key: dict[str, Any]
    lora: dict[str, Any] | None = None


class Trained(NamedTuple):
    """A model trained in place, its tokenizer, its run (the training history and the kept checkpoint) and, where the
    family writes one, its model card (`README.md` of the saved directory)."""

    model: PreTrainedModel
    tokenizer: Any
    run: TrainedRun
    card: str | None = None


class Scores(NamedTuple):
    """A model's scores on the test split: the fields of its `evaluate` record beyond which model it is (test rows,
    labels, metrics, parameters, size on disk, and whatever else the family records), and a line for the log."""

    fields: dict[str, Any]
    summary: str


class ModelFamily(Protocol):
    """The members of a family's `family` module (see the module docstring for which stage calls which)."""

    info: FamilyInfo
    pipeline_tag: str  # the Hub's task of its models (a model card's `pipeline_tag`)

    def fit_teacher(self, spec: FinetuneSpec, data: str, job: TrainingJob) -> Trained:
        """Fine-tune the teacher of `spec` on the prepared `data` (gold labels or targets alone)."""
        ...

    def cache_teacher(
        self, spec: LogitsSpec | TopkLogitsSpec, data: str, out: str, batch_size: int, experiment: str | None
    ) -> None:
        """Run the teacher once over `data` and write its cache to `out` (atomically, with its fingerprint and the
        provenance of `experiment`)."""
        ...

    def build_student(self, spec: InitSpec) -> PreTrainedModel:
        """A student's starting weights: pretrained, a subset of a model's layers, or a seeded random init."""
        ...

    def fit_student(self, spec: DistillSpec, data: str, init: str, logits: list[str], job: TrainingJob) -> Trained:
        """Train the student initialised from `init` on `data`: from its teachers' caches `logits` (checked against
        the data first), from online teachers, or on gold labels or targets alone."""
        ...

    def check_student_inputs(self, spec: DistillSpec, data: str, init: str, logits: list[str]) -> None:
        """Raise the error `fit_student` would raise for the teacher caches `logits` (checked against `data`, and
        against the student initialised from `init` where the family needs it), without training."""
        ...

    def score(self, spec: EvaluateSpec, data: str, model: str) -> Scores:
        """Score `model` (a directory or reference; an export directory when `spec.variant` is set) on the test
        split of `data`."""
        ...

    def card_usage(self, variant: str) -> str:
        """How a model card tells to load one of its students (`variant`: `fp32` or an export); `DIRECTORY` is the
        card's folder."""
        ...

    def timing_inputs(self, test: pd.DataFrame) -> list[Any]:
        """What the benchmark times every model of a task on: one input per row of the test split."""
        ...

    def timeable(
        self, entry: BenchmarkModel, task_type: str, location: str, data: str, threads: int, batch_size: int
    ) -> Timeable:
        """One model of a benchmark (`entry`, loaded from `location`) as the timing loop runs it."""
        ...
