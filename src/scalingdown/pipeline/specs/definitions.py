"""Typed stage specs: one frozen dataclass per stage, built by the plan (`plan.stage_specs`), parsed once by the
command line (`codec.parse_spec`). Field options and the JSON form: `codec`. Standard library only: the Snakefile
imports it.

The specs of the stages that dispatch to a model family carry `family` where a task is learnt by another family than
its type's own (`names.families.spec_family`: causal LMs on text-to-text task types); None, and left out, otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from scalingdown.pipeline.config.settings import HiddenPair, hidden_pairs, teachers_online
from scalingdown.pipeline.specs.codec import Spec, flattened, optional


# -- pieces shared by several stages ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TextTask(Spec):
    """What a text-to-text task adds to a model's specs: the prompt templates, the target length and (multiple
    choice) how an option is scored: `sum` or `mean` of its tokens' log-probabilities."""

    prompt: dict[str, str]
    max_target_length: int
    option_score: str = optional("sum")


@dataclass(frozen=True)
class TrainingSpec(Spec):
    """Trainer settings of a training stage (the config's `training` / `finetune` keys, plus how it is launched).

    `checkpoint` says which weights are kept: `best` (the checkpoint with the best validation `selection_metric`,
    the task type's primary metric, `names.tasks.PRIMARY_METRIC`) or `last`; `early_stopping` is the patience
    in evaluations (None: train every epoch).
    """

    epochs: float
    learning_rate: float
    batch_size: int
    gradient_accumulation_steps: int
    weight_decay: float
    warmup_ratio: float
    eval_steps: int
    logging_steps: int
    precision: str
    processes: int
    deepspeed: str | None
    checkpoint: str
    selection_metric: str
    seed: int | None = optional()
    checkpoint_steps: int | None = optional()
    freeze_embeddings: bool = optional(False)
    group_by_length: bool = optional(True)
    early_stopping: int | None = optional()


@dataclass(frozen=True)
class SplitSpec(Spec):
    """`data.split`: the validation and test fractions of the splits a source does not provide, and the column
    whose equal values keep rows in one split (`group_by`; None: rows are split one by one, stratified)."""

    validation: float
    test: float
    group_by: str | None = optional()


@dataclass(frozen=True)
class TransferSpec(Spec):
    """`data.transfer`: unlabelled text for distillation, from any loader (labels, if any, are ignored)."""

    loader: str
    options: dict[str, Any]


@dataclass(frozen=True)
class DataSpec(Spec):
    """A task's `data` config: the loader, its options, the split fractions and the training portion; for one cell
    of the experiment, the label budget (a fraction in (0, 1) or a count > 1 of training rows keeping their labels;
    None: all) and the transfer text appended without labels."""

    loader: str
    options: dict[str, Any]
    split: SplitSpec
    data_portion: float
    allow_few_labels: bool = optional(False)
    allow_absent_labels: bool = optional(False)
    label_budget: float | None = optional()
    validation_budget: float | None = optional()
    transfer: TransferSpec | None = optional()


# -- one spec per stage ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrepareSpec(Spec):
    """`prepare`: load, check, de-duplicate and split one task's dataset."""

    task: str
    type: str
    labels: list[str] | None
    data: DataSpec
    seed: int
    format: int


@dataclass(frozen=True)
class FinetuneSpec(Spec):
    """`finetune_teacher`: fine-tune a teacher on the task (all weights, or LoRA adapters merged after)."""

    type: str
    teacher: str
    model: str
    max_length: int
    training: TrainingSpec
    method: str
    lora: dict[str, Any] | None
    label_map: dict[str, str]
    labels: list[str] | None
    seed: int
    text: TextTask | None = flattened()
    trust_remote_code: bool = optional(False)
    family: str | None = optional()


@dataclass(frozen=True)
class LogitsSpec(Spec):
    """`teacher_logits` of a classification teacher: logits of every split and pooled hidden states."""

    generative: ClassVar[bool] = False
    type: str
    teacher: str
    teacher_key: str
    model: str
    max_length: int
    hidden_layers: list[int]
    label_map: dict[str, str]
    labels: list[str] | None
    trust_remote_code: bool = optional(False)
    family: str | None = optional()


@dataclass(frozen=True)
class TopkLogitsSpec(Spec):
    """`teacher_logits` of a generative family's teacher (text-to-text): top-k log-probabilities of every train
    target token."""

    generative: ClassVar[bool] = True
    type: str
    teacher: str
    teacher_key: str
    logits_key: str
    model: str
    max_length: int
    label_map: dict[str, str]
    labels: list[str] | None
    top_k: int
    targets: str
    hidden_layers: dict[str, list[int]]
    text: TextTask | None = flattened()
    trust_remote_code: bool = optional(False)
    family: str | None = optional()


@dataclass(frozen=True)
class InitSettings(Spec):
    """A student's `init` config: how its starting weights are made."""

    method: str
    layers: list[int] | None = optional()
    every: int | None = optional()
    student: str | None = optional()


@dataclass(frozen=True)
class InitSpec(Spec):
    """`init_student`: a student's starting weights (also the untrained baseline)."""

    type: str
    model: str
    init: InitSettings
    labels: list[str] | None
    seed: int
    format: int
    trust_remote_code: bool = optional(False)
    family: str | None = optional()


@dataclass(frozen=True)
class LossSpec(Spec):
    """A student's loss weights: `ce·CE + kd·T²·D + hidden·MSE`, the divergence D (forward KL unless set, with its
    parameter `beta` or `alpha`: see `names.divergence_table`), and what the hidden term matches; `on_policy` (causal
    students) is the share of optimizer steps that learn from the student's own samples scored by the teacher."""

    ce: float
    kd: float
    temperature: float
    hidden: float
    hidden_projection: str
    hidden_map: dict[str, dict[str, int]]
    hidden_layers: dict[str, list[list[int]]] | None = optional()
    divergence: str = optional("forward_kl")
    beta: float | None = optional()
    alpha: float | None = optional()
    on_policy: float = optional(0.0)

    def hidden_pairs(self) -> list[HiddenPair]:
        """`hidden_map` as sorted pairs (`config.settings.hidden_pairs`)."""
        return hidden_pairs(self.hidden_map)


@dataclass(frozen=True)
class WeightingSpec(Spec):
    """How several teachers are mixed: `uniform`, `fixed` (with `weights`), `validation`, `confidence`."""

    method: str
    weights: dict[str, float] | None = optional()


@dataclass(frozen=True)
class DistillTeacher(Spec):
    """A teacher as `distill` sees it: what its cache must match, what online mode loads, and for a text-to-text
    teacher the cache settings."""

    name: str
    key: str
    model: str
    max_length: int
    label_map: dict[str, str] | None = optional()
    logits_key: str | None = optional()
    top_k: int | None = optional()
    targets: str | None = optional()
    hidden_layers: dict[str, list[int]] | None = optional()


@dataclass(frozen=True)
class DistillSpec(Spec):
    """`distill`: train a student from its teachers' caches (or online teachers), or on gold labels alone."""

    type: str
    student: str
    max_length: int
    training: TrainingSpec
    loss: LossSpec
    teacher_mode: str
    weighting: WeightingSpec
    teachers: list[DistillTeacher]
    labels: list[str] | None
    text: TextTask | None = flattened()
    trust_remote_code: bool = optional(False)
    family: str | None = optional()

    @property
    def online(self) -> bool:
        """Whether the teachers run inside the training loop (`config.settings.teachers_online`)."""
        return teachers_online(self.teachers, self.teacher_mode)


@dataclass(frozen=True)
class TeacherName(Spec):
    """A teacher as `teacher_ensemble` sees it: its name and the key its cache must carry."""

    name: str
    key: str


@dataclass(frozen=True)
class EnsembleSpec(Spec):
    """`teacher_ensemble`: each teacher's and the ensembles' test scores, from the caches."""

    task: str
    labels: list[str] | None
    teachers: list[TeacherName]


@dataclass(frozen=True)
class SelectCandidate(Spec):
    """One fine-tuning candidate of a selected teacher: its key and the hyper-parameter values that vary."""

    key: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class SelectTeacherSpec(Spec):
    """`select_teacher`: keep the candidate whose saved model has the best validation `metric` (a key of the
    training history; `higher_is_better` says which way); ties go to the earlier candidate."""

    task: str
    teacher: str
    metric: str
    higher_is_better: bool
    candidates: list[SelectCandidate]


@dataclass(frozen=True)
class EvaluateSpec(Spec):
    """`evaluate`: one model's test scores, parameter count and size on disk (its speed is `benchmark`'s).

    `variant` names a student's export (`onnx-int8`, …); None for the model as trained. `reference`: the teacher a
    causal student is compared with token by token (per-token KL, top-1 agreement).
    """

    type: str
    task: str
    kind: str
    name: str
    model: str
    role: str
    max_length: int
    labels: list[str] | None
    batch_size: int
    label_map: dict[str, str] = optional({})
    text: TextTask | None = flattened()
    trust_remote_code: bool = optional(False)
    variant: str | None = optional()
    family: str | None = optional()
    reference: str | None = optional()


@dataclass(frozen=True)
class ExportSpec(Spec):
    """`export`: one shipping variant of a student (ONNX fp32, ONNX int8, PyTorch int8)."""

    task: str
    student: str
    variant: str
    format: int


@dataclass(frozen=True)
class CalibratedExportSpec(Spec):
    """`export_calibrated`: a student's export whose int8 activation scales are calibrated on `calibration_texts`
    texts of the task's training split (a sample drawn with `seed`), read as the student reads them (`max_length`)."""

    task: str
    student: str
    variant: str
    max_length: int
    calibration_texts: int
    seed: int
    format: int


@dataclass(frozen=True)
class BenchmarkSettings(Spec):
    """The config's `benchmark` keys: how the models are timed (see `evaluation.timing`)."""

    warmup: int
    runs: int
    rounds: int
    batch_size: int
    threads: int
    memory: bool


@dataclass(frozen=True)
class BenchmarkModel(Spec):
    """One model a `benchmark` job times: its record id (`teacher.<name>`, `student.<name>`,
    `export.<student>.<variant>`), what it is, and how it reads its inputs."""

    id: str
    kind: str
    name: str
    variant: str
    max_length: int
    text: TextTask | None = flattened()
    trust_remote_code: bool = optional(False)


@dataclass(frozen=True)
class BenchmarkSpec(Spec):
    """`benchmark`: every model of a task timed interleaved in one process; speed-ups against the best teacher."""

    type: str
    task: str
    models: list[BenchmarkModel]
    settings: BenchmarkSettings
    family: str | None = optional()


@dataclass(frozen=True)
class RecordInput(Spec):
    """What one evaluation record given to a stage is about: the model's kind (`teacher`, `student`, `export`), its
    name (the student's for an export), its variant (`fp32`: as trained) and the seed it was made with."""

    kind: str
    name: str
    variant: str
    seed: int


@dataclass(frozen=True)
class CardStudent(Spec):
    """A student as its model card (and its exports' cards) describes it: its role, the model it starts from, its
    teachers (name → model reference), length and kept layers, loss weights, epochs and gold-only twin."""

    name: str
    role: str
    model: str
    teachers: dict[str, str]
    max_length: int
    loss: dict[str, Any]
    epochs: float
    layers: list[int] | None = optional()
    twin: str | None = optional()


@dataclass(frozen=True)
class CardTask(Spec):
    """The task a card's model learned: experiment, task folder (or the cell, for a pick over seeds), type, labels,
    its data in words and as Hub dataset ids where it has them."""

    experiment: str
    task: str
    type: str
    labels: list[str] | None
    dataset: str
    datasets: list[str]


@dataclass(frozen=True)
class ModelCardsSpec(Spec):
    """`model_cards`: a model card (README.md) in every trained student's and export's directory of one task folder,
    from its evaluation records (`evals`, in the order of `--evals`) and its benchmark record; `carded` lists the
    models whose directories get a card, in the order of `--models`."""

    task: CardTask
    students: list[CardStudent]
    evals: list[RecordInput]
    carded: list[RecordInput]


@dataclass(frozen=True)
class ShipSpec(Spec):
    """`ship`: the most accurate student or export of a task (a cell, over its seeds) within the budget
    (`max_latency_ms`, `max_size_mb`; None: no limit), written to `<cell>/shipped/`. `evals` describe `--evals`,
    `seeds` the `--benchmarks` (one per seed), `candidates` the directories of `--models`; `untrained` students are
    never picked."""

    task: CardTask
    max_latency_ms: float | None
    max_size_mb: float | None
    students: list[CardStudent]
    evals: list[RecordInput]
    seeds: list[int]
    candidates: list[RecordInput]
    untrained: list[str]


@dataclass(frozen=True)
class ReportSpec(Spec):
    """`report`: the experiment and its resolved config (reported verbatim)."""

    experiment: str
    config: dict[str, Any]
