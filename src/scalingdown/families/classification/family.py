"""The classification family: sentence classifiers (encoders with a classification head) over the task's label names,
distilled from their teachers' logits and pooled hidden states.

The members the stages call (`families.interface.ModelFamily`); the work is done by the modules beside it: the fit
(`fit`), the distillation targets (`targets`), the teachers' caches (`teacher_cache`), teachers run online
(`online_teachers`) and batched prediction (`predict`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from scalingdown.data.labels import LabelMismatch, align_columns, label_ids
from scalingdown.data.store import read_split
from scalingdown.evaluation.exporters import export_record
from scalingdown.evaluation.metrics import agreement, classification_scores
from scalingdown.evaluation.runtime import load_runtime, runtime_for
from scalingdown.evaluation.sizes import local_size_mb
from scalingdown.evaluation.timing import Timeable
from scalingdown.families.classification.fit import fit_classifier
from scalingdown.families.classification.predict import predict_logits
from scalingdown.families.classification.targets import distillation_target, hidden_targets, online_target
from scalingdown.families.classification.teacher_cache import (
    TeacherOutputs,
    load_teacher_outputs,
    write_teacher_cache,
)
from scalingdown.families.interface import GOLD_ONLY, Scores, Trained, TrainingJob
from scalingdown.models.layers import keep_layers, kept_layers
from scalingdown.models.loading import (
    count_parameters,
    inference_device,
    label_config,
    load_classifier,
    load_config,
    load_tokenizer,
    model_label_names,
)
from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.pipeline.names.families import CLASSIFICATION, FAMILIES
from scalingdown.pipeline.names.model_refs import ModelRef
from scalingdown.pipeline.specs.codec import SpecError
from scalingdown.pipeline.specs.definitions import (
    BenchmarkModel,
    DistillSpec,
    EvaluateSpec,
    FinetuneSpec,
    InitSpec,
    LogitsSpec,
    TopkLogitsSpec,
)

log = logging.getLogger(__name__)

info = FAMILIES[CLASSIFICATION]
pipeline_tag = "text-classification"


# -- teachers ----------------------------------------------------------------------------------------------------------
def starting_model(spec: FinetuneSpec) -> PreTrainedModel:
    """The model to fine-tune: its own classification head when that head already predicts the
    task's labels (by name, or through the teacher's label map), otherwise a new head for them."""
    labels = spec.labels or []
    if ModelRef.parse(spec.model).kind != "tiny":
        names = model_label_names(load_config(spec.model), spec.label_map)
        try:
            align_columns(np.zeros((0, len(names))), names, labels, "")
        except LabelMismatch:
            pass
        else:
            log.info("keeping the model's own head: its labels %s are the task's", names)
            return load_classifier(spec.model)
    return load_classifier(spec.model, labels, seed=spec.seed)


def fit_teacher(spec: FinetuneSpec, data: str, job: TrainingJob) -> Trained:
    """Fine-tune a classifier on the task's gold labels (see `starting_model` for its head)."""
    tokenizer = load_tokenizer(spec.model)
    model = starting_model(spec)
    run = fit_classifier(
        model,
        tokenizer,
        data,
        spec.labels or [],
        spec.max_length,
        job.training,
        GOLD_ONLY,
        checkpoints=job.checkpoints,
        resume_key=job.resume_key,
        lora=job.lora,
    )
    return Trained(model, tokenizer, run)


def cache_teacher(
    spec: LogitsSpec | TopkLogitsSpec, data: str, out: str, batch_size: int, experiment: str | None
) -> None:
    """The teacher's logits on every split and the pooled hidden states students map to (`teacher_cache`)."""
    if not isinstance(spec, LogitsSpec):
        raise SpecError("teacher_logits: a classification task's spec has `hidden_layers` as a list of layers")
    write_teacher_cache(spec, data, out, batch_size, experiment)


# -- students ----------------------------------------------------------------------------------------------------------
def build_student(spec: InitSpec) -> PreTrainedModel:
    """The initial student: pretrained weights, a subset of a model's layers, or a seeded random init."""
    ref, init, labels, seed = spec.model, spec.init, spec.labels or [], spec.seed
    torch.manual_seed(seed)
    if init.method == "scratch":
        config = load_config(ref)
        for key, value in label_config(labels).items():
            setattr(config, key, value)
        built: PreTrainedModel = AutoModelForSequenceClassification.from_config(config)
        return built
    model = load_classifier(ref, labels, seed=seed)
    if init.method == "teacher_layers":
        keep_layers(model, kept_layers(init, int(model.config.num_hidden_layers)))
    return model


def fit_student(spec: DistillSpec, data: str, init: str, logits: list[str], job: TrainingJob) -> Trained:
    """Train the student on its teachers' softened logits (from their caches, or run online), its gold labels and
    the teachers' pooled hidden states, as its loss weighs them; on gold labels alone without teachers."""
    teacher_probs, hidden, online_teacher = None, None, None
    if spec.online:
        online_teacher = online_target(spec, data, logits)
    elif spec.teachers:
        outputs = _cached_teacher_outputs(spec, data, logits)
        teacher_probs = distillation_target(spec, outputs, data)
        hidden = hidden_targets(spec, outputs)
    tokenizer = load_tokenizer(init)
    model = load_classifier(init)
    run = fit_classifier(
        model,
        tokenizer,
        data,
        spec.labels or [],
        spec.max_length,
        job.training,
        spec.loss,
        checkpoints=job.checkpoints,
        resume_key=job.resume_key,
        teacher_probs=teacher_probs,
        hidden=hidden,
        online_teacher=online_teacher,
    )
    return Trained(model, tokenizer, run)


def _cached_teacher_outputs(spec: DistillSpec, data: str, logits: list[str]) -> list[TeacherOutputs]:
    """The teachers' cached outputs the student learns from (logits, and the hidden layers its loss maps), each cache
    checked against the data."""
    splits = ("train", "validation") if spec.weighting.method == "validation" else ("train",)
    layers: dict[str, list[int]] = {}
    for pair in spec.loss.hidden_pairs():
        layers.setdefault(pair.teacher, []).append(pair.teacher_layer)
    return load_teacher_outputs(spec.teachers, logits, data, spec.labels or [], splits, layers)


def check_student_inputs(spec: DistillSpec, data: str, init: str, logits: list[str]) -> None:
    """The teachers' caches, read and checked against the data as `fit_student` reads them (online teachers and a
    student without teachers read none)."""
    if spec.teachers and not spec.online:
        _cached_teacher_outputs(spec, data, logits)


# -- scoring and timing -----------------------------------------------------------------------------------------------
def score(spec: EvaluateSpec, data: str, model: str) -> Scores:
    """Accuracy, macro and weighted F1, precision, recall and the confusion matrix on the test split, in the task's
    label order; an export runs through `evaluation.runtime` (ONNX Runtime or PyTorch int8)."""
    labels = spec.labels or []
    test = read_split(data, "test")
    texts = test["text"].tolist()
    if spec.variant is None:
        tokenizer = load_tokenizer(model)
        classifier = cast(Any, load_classifier(model)).to(inference_device())
        logits = predict_logits(classifier, tokenizer, texts, spec.max_length, spec.batch_size, "test")
        names = model_label_names(classifier, spec.label_map)
        params, size = count_parameters(classifier), local_size_mb(model)
    else:
        runtime = load_runtime(model, torch.get_num_threads(), spec.max_length)
        logits = runtime.logits(texts, spec.batch_size)
        names, params, size = runtime.label_names, export_record(model)["params"], runtime.size_mb
    logits = align_columns(logits, names, labels, f"{spec.kind} {spec.name}")
    scores = classification_scores(label_ids(test, labels), np.argmax(logits, axis=1), labels)
    fields = {"test_rows": len(test), "labels": labels, "metrics": scores, "params": params, "size_mb": size}
    if spec.variant is not None:
        student = export_record(model)["student"]["path"]
        if Path(student).is_dir():
            fields["agreement"] = _agreement_with_student(spec, student, texts, logits)
        else:
            log.warning("%s: its student %s no longer exists; the record has no agreement figures", model, student)
    return Scores(fields, f"accuracy {scores['accuracy']:.4f}")


def _agreement_with_student(spec: EvaluateSpec, student: str, texts: list[str], logits: np.ndarray) -> dict[str, Any]:
    """How an export's test predictions agree with those of the float32 student it was made from (run here on the
    same texts, length and batch size): the share of equal labels and the largest probability difference."""
    runtime = load_runtime(student, torch.get_num_threads(), spec.max_length)
    reference = align_columns(runtime.logits(texts, spec.batch_size), runtime.label_names, spec.labels or [], student)
    return agreement(reference, logits) | {"student": student}


def timing_inputs(test: pd.DataFrame) -> list[Any]:
    """The test split's texts: a classifier is timed per text."""
    texts: list[Any] = test["text"].tolist()
    return texts


def timeable(
    entry: BenchmarkModel, task_type: str, location: str, data: str, threads: int, batch_size: int
) -> Timeable:
    """A classifier, or one of its exports, as `evaluation.runtime` runs it."""
    return runtime_for(location, threads, entry.max_length)


def card_usage(variant: str) -> str:
    """A classifier through transformers' pipeline (an export through the runtime), or `predict` from a shell."""
    load = (
        "from transformers import pipeline\nclassify = pipeline('text-classification', model=DIRECTORY)"
        if variant == ORIGINAL
        else "from scalingdown.evaluation.runtime import load_runtime\nmodel = load_runtime(DIRECTORY)"
    )
    return f"{load}\n# or, from a shell: scalingdown predict --model DIRECTORY --input texts.csv --output labelled.csv"
