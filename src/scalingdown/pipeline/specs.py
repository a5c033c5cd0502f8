"""Typed stage specs: one frozen dataclass per stage, built by the plan, parsed once by the command line.

A spec travels as the rule's `spec` param: compact, key-sorted JSON (`Spec.to_json`), so Snakemake reruns a
stage exactly when what determines it changes. `parse_spec` turns that JSON back into the dataclass and refuses
a missing, unknown or mistyped key with one line naming it. Two field options shape the JSON:

- `optional(default)`: left out of the JSON while it equals its default, so that settings most runs never use
  (remote code, a label map, a text-to-text prompt) leave every other spec, and the cache keys made from
  them, as they were;
- `flattened(...)`: a nested spec whose keys sit beside the parent's (`TextTask`: `prompt`,
  `max_target_length`).

Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

from scalingdown.pipeline.canonical import canonical, canonical_json
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.tasks import is_seq2seq

SpecT = TypeVar("SpecT", bound="Spec")

_OPTIONAL = "optional"
_FLATTENED = "flattened"


class SpecError(UserError, ValueError):
    """A stage spec given on the command line lacks a key, has an unknown one, or a value of the wrong type."""


def optional(default: Any = None) -> Any:
    """A field left out of the JSON while it equals `default` (None, False, an empty mapping or a string)."""
    if isinstance(default, dict):
        return field(default_factory=dict, metadata={_OPTIONAL: default})
    return field(default=default, metadata={_OPTIONAL: default})


def flattened() -> Any:
    """A nested spec (or None) whose keys are written beside the parent's keys."""
    return field(default=None, metadata={_FLATTENED: True, _OPTIONAL: None})


class Spec:
    """Base of every spec: canonical JSON out, checked parsing in."""

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain, key-sorted builtins (what the JSON holds)."""
        return _to_dict(self)

    def to_json(self) -> str:
        """Compact key-sorted JSON: the rule's `spec` param."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls: type[SpecT], data: Mapping[str, Any], where: str = "spec") -> SpecT:
        """Build the spec from its JSON form; `SpecError` names the first key that does not fit."""
        spec: SpecT = _from_dict(cls, data, where)
        return spec


def _to_dict(spec: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in dataclasses.fields(spec):
        value = getattr(spec, item.name)
        if _omitted(item, value):
            continue
        if item.metadata.get(_FLATTENED):
            result.update(_to_dict(value))
        else:
            result[item.name] = _plain(value)
    return canonical(result)  # type: ignore[no-any-return]


def _omitted(item: dataclasses.Field[Any], value: Any) -> bool:
    """Whether an `optional` field holds its default (then the JSON leaves it out)."""
    if _OPTIONAL not in item.metadata:
        return False
    default = item.metadata[_OPTIONAL]
    return value is default if default is None or isinstance(default, bool) else bool(value == default)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _keys(cls: type) -> set[str]:
    """Every JSON key a spec class reads (flattened fields contribute their own keys)."""
    hints = get_type_hints(cls)
    keys: set[str] = set()
    for item in dataclasses.fields(cls):
        if item.metadata.get(_FLATTENED):
            keys |= _keys(_dataclass_in(hints[item.name]))
        else:
            keys.add(item.name)
    return keys


def _dataclass_in(hint: Any) -> type:
    for candidate in get_args(hint) or (hint,):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    raise TypeError(f"{hint} holds no dataclass")


def _from_dict(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _keys(cls))
    if unknown:
        raise SpecError(f"{where}: unknown key `{unknown[0]}` (a {cls.__name__} has {sorted(_keys(cls))})")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        key = f"{where}.{item.name}"
        if item.metadata.get(_FLATTENED):
            nested = _dataclass_in(hints[item.name])
            present = {name: data[name] for name in _keys(nested) if name in data}
            values[item.name] = _from_dict(nested, present, where) if present else None
        elif item.name in data:
            values[item.name] = _convert(hints[item.name], data[item.name], key)
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise SpecError(f"{where}: missing key `{item.name}` ({cls.__name__} needs it)")
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    """`value` checked against the type `hint` (nested specs built)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        problems = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except SpecError as error:
                problems.append(str(error))
        raise SpecError(problems[0] if problems else f"{key}: expected a value, got null")
    if hint is Any:
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(f"{key}: expected a list, got {json.dumps(value)}")
        (item,) = get_args(hint)
        return [_convert(item, element, f"{key}[{index}]") for index, element in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise SpecError(f"{key}: expected an object, got {json.dumps(value)}")
        _, item = get_args(hint) or (str, Any)
        return {str(name): _convert(item, element, f"{key}.{name}") for name, element in value.items()}
    if origin is typing.Literal:
        if value not in get_args(hint):
            raise SpecError(f"{key}: expected one of {list(get_args(hint))}, got {json.dumps(value)}")
        return value
    return _scalar(hint, value, key)


def _scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (str, bool) and isinstance(value, hint):
        return value
    name = getattr(hint, "__name__", str(hint))
    raise SpecError(f"{key}: expected {name}, got {json.dumps(value)}")


def parse_spec(classes: tuple[type[Spec], ...], data: Any) -> Spec:
    """The typed spec of a stage from its JSON form. With several classes (a stage that serves both task
    families), the one whose `family` matches the spec's `type` is used."""
    chosen = classes[0]
    if len(classes) > 1:
        task_type = data.get("type") if isinstance(data, Mapping) else None
        wanted = "seq2seq" if isinstance(task_type, str) and is_seq2seq(task_type) else "classification"
        chosen = next(cls for cls in classes if getattr(cls, "family", "classification") == wanted)
    return chosen.from_dict(data)


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
    """Trainer settings of a training stage (the config's `training` / `finetune` keys, plus how it is launched)."""

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
    seed: int | None = optional()
    checkpoint_steps: int | None = optional()
    freeze_embeddings: bool = optional(False)
    group_by_length: bool = optional(True)


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


@dataclass(frozen=True)
class LogitsSpec(Spec):
    """`teacher_logits` of a classification teacher: logits of every split and pooled hidden states."""

    family: ClassVar[str] = "classification"
    type: str
    teacher: str
    teacher_key: str
    model: str
    max_length: int
    hidden_layers: list[int]
    label_map: dict[str, str]
    labels: list[str] | None
    trust_remote_code: bool = optional(False)


@dataclass(frozen=True)
class TopkLogitsSpec(Spec):
    """`teacher_logits` of a text-to-text teacher: top-k log-probabilities of every train target token."""

    family: ClassVar[str] = "seq2seq"
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


@dataclass(frozen=True)
class LossSpec(Spec):
    """A student's loss weights: `ce·CE + kd·T²·D + hidden·MSE`, the divergence D (forward KL unless set, with its
    parameter `beta` or `alpha`: see `pipeline.divergences`), and what the hidden term matches."""

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

    def hidden_pairs(self) -> list[tuple[int, str, int]]:
        """`hidden_map` as sorted (student layer, teacher, teacher layer) triples."""
        return sorted(
            (int(student_layer), teacher, int(teacher_layer))
            for student_layer, targets in self.hidden_map.items()
            for teacher, teacher_layer in targets.items()
        )


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

    @property
    def online(self) -> bool:
        return bool(self.teachers) and self.teacher_mode == "online"


@dataclass(frozen=True)
class TeacherName(Spec):
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

    `variant` names a student's export (`onnx-int8`, …); None for the model as trained.
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


@dataclass(frozen=True)
class ExportSpec(Spec):
    """`export`: one shipping variant of a student (ONNX fp32, ONNX int8, PyTorch int8)."""

    task: str
    student: str
    variant: str
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


@dataclass(frozen=True)
class ReportSpec(Spec):
    """`report`: the experiment and its resolved config (reported verbatim)."""

    experiment: str
    config: dict[str, Any]
