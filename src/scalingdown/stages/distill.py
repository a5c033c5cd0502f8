"""The `distill` stage: train a student from cached teacher outputs (never loading a teacher).

Classification students learn the teachers' softened logits; seq2seq students their cached
top-k distributions per target token (see `scalingdown.seq2seq.fit`). With `teacher_mode:
online` (classification) the teachers are loaded and run on every training batch instead, and
their logits go through the same alignment, softening and mixing (`teacher_mix`: the student's weighting) and the same
loss; that mode exists to measure what the cache saves (bench/cache_vs_online.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from scalingdown.data.labels import label_ids
from scalingdown.data.store import read_manifest, read_split
from scalingdown.kd.ensemble import accuracy, mix, teacher_weights
from scalingdown.kd.logit_store import CacheMismatch, check_cache, check_topk_layout, read_logits
from scalingdown.kd.online_teachers import load_online_teachers
from scalingdown.kd.teacher_cache import TeacherOutputs, load_teacher_outputs
from scalingdown.models.loading import load_classifier, load_seq2seq, load_tokenizer
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.specs import DistillSpec, TextTask
from scalingdown.seq2seq.fit import TeacherRows, fit_seq2seq
from scalingdown.seq2seq.topk import check_vocabulary, vocabulary
from scalingdown.training.classification import HiddenTargets, fit_classifier
from scalingdown.training.trainer import check_trained_outputs, save_trained

log = logging.getLogger(__name__)


def teacher_mix(
    spec: DistillSpec, names: list[str], logits: list[np.ndarray], validation_scores: list[float] | None
) -> np.ndarray:
    """The teachers' softened distributions on some rows, mixed by the student's weighting."""
    weighting = spec.weighting
    weights = teacher_weights(weighting.method, names, logits, weighting.weights, validation_scores)
    return mix(logits, weights, float(spec.loss.temperature))


def _validation_scores(
    spec: DistillSpec, data_dir: str, names: list[str], validation_logits: Callable[[], list[np.ndarray]]
) -> list[float] | None:
    """Each teacher's validation accuracy when the weighting needs it (logits computed only then)."""
    if spec.weighting.method != "validation":
        return None
    gold = np.array(label_ids(read_split(data_dir, "validation"), spec.labels or []))
    scores = [accuracy(matrix, gold) for matrix in validation_logits()]
    log.info("validation accuracy of the teachers: %s", dict(zip(names, scores)))
    return scores


def distillation_target(spec: DistillSpec, outputs: list[TeacherOutputs], data_dir: str) -> np.ndarray:
    """The train-split target distribution: the cached teachers' softened distributions, mixed."""
    names = [out.name for out in outputs]
    scores = _validation_scores(spec, data_dir, names, lambda: [out.logits["validation"] for out in outputs])
    target = teacher_mix(spec, names, [out.logits["train"] for out in outputs], scores)
    log.info("distillation target over %d train rows from %s (%s weighting)", len(target), names, spec.weighting.method)
    return target


def hidden_targets(spec: DistillSpec, outputs: list[TeacherOutputs]) -> HiddenTargets | None:
    """The teachers' cached pooled states for every pair of the student's hidden map (None without one)."""
    pairs = spec.loss.hidden_pairs()
    if not pairs or not spec.loss.hidden:
        return None
    by_name = {out.name: out for out in outputs}
    return HiddenTargets(
        student_layers=[student_layer for student_layer, _, _ in pairs],
        states=[by_name[teacher].hidden[teacher_layer] for _, teacher, teacher_layer in pairs],
        weight=float(spec.loss.hidden),
        always_linear=spec.loss.hidden_projection == "linear",
    )


def online_target(spec: DistillSpec, data_dir: str, logits_paths: list[str]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The distillation target of a training batch, computed by running the teachers on its rows."""
    if logits_paths:
        raise UserError("teacher_mode online runs the teachers and reads no logit caches; drop --logits")
    teachers = load_online_teachers(spec.teachers, spec.labels or [], read_split(data_dir, "train")["text"].tolist())
    names = [teacher.name for teacher in spec.teachers]
    scores = _validation_scores(
        spec, data_dir, names, lambda: teachers.logits_of_texts(read_split(data_dir, "validation")["text"].tolist())
    )

    def target(row_index: torch.Tensor) -> torch.Tensor:
        mixed = teacher_mix(spec, names, teachers.logits(row_index), scores)
        return torch.from_numpy(mixed.astype(np.float32)).to(row_index.device)  # as the cached rows are stored

    return target


def cached_teacher_outputs(spec: DistillSpec, data: str, logits: list[str]) -> list[TeacherOutputs]:
    """The classification teachers' cached outputs `distill` learns from, each cache checked against the data."""
    splits = ("train", "validation") if spec.weighting.method == "validation" else ("train",)
    layers: dict[str, list[int]] = {}
    for _, teacher, teacher_layer in spec.loss.hidden_pairs():
        layers.setdefault(teacher, []).append(teacher_layer)
    return load_teacher_outputs(spec.teachers, logits, data, spec.labels or [], splits, layers)


def distill(
    spec: DistillSpec, data: str, init: str, logits: list[str], out: str, history: str, checkpoints: str
) -> None:
    """Train the student initialised from `init` on the prepared `data` and the teacher caches `logits`;
    save it to `out` and its training history to `history`."""
    check_trained_outputs(out, history, checkpoints, "distill")
    resume_key = {"stage": "distill", "spec": spec.to_dict(), "data": data, "init": init, "logits": logits}
    if spec.text is not None:
        distill_seq2seq(spec, spec.text, data, init, logits, out, history, checkpoints, resume_key)
        return
    teacher_probs, hidden, online_teacher = None, None, None
    if spec.online:
        online_teacher = online_target(spec, data, logits)
    elif spec.teachers:
        outputs = cached_teacher_outputs(spec, data, logits)
        teacher_probs = distillation_target(spec, outputs, data)
        hidden = hidden_targets(spec, outputs)
    tokenizer = load_tokenizer(init)
    model = load_classifier(init)
    log_history = fit_classifier(
        model,
        tokenizer,
        data,
        spec.labels or [],
        spec.max_length,
        spec.training,
        spec.loss,
        checkpoints=checkpoints,
        resume_key=resume_key,
        teacher_probs=teacher_probs,
        hidden=hidden,
        online_teacher=online_teacher,
    )
    save_trained(model, tokenizer, out, history, log_history, checkpoints, "distill")


def load_teacher_rows(
    spec: DistillSpec, data_dir: str, logits_paths: list[str], student_vocabulary: dict[str, Any], student: str
) -> list[TeacherRows]:
    """Each text-to-text teacher's cached train rows, after checking the cache and that the vocabularies match;
    with `validation` weighting, each teacher's validation score from its cache."""
    if len(logits_paths) != len(spec.teachers):
        raise UserError(f"distill: got {len(logits_paths)} teacher caches for {len(spec.teachers)} teachers")
    train = read_split(data_dir, "train")
    manifest = read_manifest(data_dir)
    train_hash = manifest["splits"]["train"]["sha256"]
    teachers = []
    for teacher, path in zip(spec.teachers, logits_paths):
        frame, fingerprint = read_logits(path)
        check_topk_layout(path, fingerprint, frame)
        check_cache(
            path,
            fingerprint,
            frame,
            expected={
                "teacher_key": teacher.key,
                "logits_key": teacher.logits_key,
                "top_k": teacher.top_k,
                "targets": teacher.targets,
            },
            data={"train": train},
            data_hashes={"train": train_hash},
        )
        check_vocabulary(
            f"{teacher.name} ({fingerprint['model']})", fingerprint["vocabulary"], student, student_vocabulary
        )
        rows = frame[frame["split"] == "train"]
        columns = {name: rows[name].tolist() for name in rows.columns if name not in ("split", "row_id")}
        score = None
        if spec.weighting.method == "validation":
            score = validation_score(path, fingerprint, manifest["splits"]["validation"]["sha256"])
        teachers.append(
            TeacherRows(teacher.name, int(fingerprint["top_k"]), fingerprint["targets"] == "generated", columns, score)
        )
    if spec.weighting.method == "validation":
        log.info(
            "validation scores (1 / perplexity) of the teachers: %s", {t.name: t.validation_score for t in teachers}
        )
    return teachers


def validation_score(path: str, fingerprint: dict[str, Any], validation_hash: str) -> float:
    """A text-to-text teacher's validation score for `validation` weighting: 1 / its validation perplexity on the
    gold targets (the geometric mean of the probabilities it gives them), as its cache records it."""
    validation = fingerprint.get("validation")
    if validation is None:
        raise CacheMismatch(f"{path}: records no validation perplexity of the teacher (rerun teacher_logits)")
    if validation["sha256"] != validation_hash:
        raise CacheMismatch(
            f"{path}: its validation perplexity was computed on other validation data (cache "
            f"{validation['sha256'][:12]}…, data {validation_hash[:12]}…)"
        )
    return 1.0 / float(validation["perplexity"])


def distill_seq2seq(
    spec: DistillSpec,
    text: TextTask,
    data_dir: str,
    init_dir: str,
    logits_paths: list[str],
    out_dir: str,
    history: str,
    checkpoints: str,
    resume_key: dict[str, Any],
) -> None:
    """Train a text-to-text student from its teachers' top-k caches (or on gold targets alone)."""
    tokenizer = load_tokenizer(init_dir)
    model = load_seq2seq(init_dir)
    teachers = load_teacher_rows(
        spec, data_dir, logits_paths, vocabulary(model, tokenizer), f"{spec.student} ({init_dir})"
    )
    log_history = fit_seq2seq(
        model,
        tokenizer,
        data_dir,
        text,
        spec.type,
        spec.max_length,
        spec.training,
        spec.loss,
        checkpoints=checkpoints,
        resume_key=resume_key,
        teachers=teachers,
        weighting=spec.weighting,
    )
    save_trained(model, tokenizer, out_dir, history, log_history, checkpoints, "distill")
