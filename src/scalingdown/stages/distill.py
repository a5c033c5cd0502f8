"""The `distill` stage: train a student from cached teacher outputs (never loading a teacher).

Classification students learn the teachers' softened logits; seq2seq students their cached
top-k distributions per target token (see `scalingdown.seq2seq.fit`). With `teacher_mode:
online` (classification) the teachers are loaded and run on every training batch instead, and
their logits go through the same alignment, softening and mixing (`combine_teachers`) and the same
loss; that mode exists to measure what the cache saves (bench/cache_vs_online.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForSeq2SeqLM, AutoModelForSequenceClassification, AutoTokenizer

from scalingdown.classification import align_columns, fit_classifier
from scalingdown.data.store import read_manifest, read_split
from scalingdown.errors import UserError
from scalingdown.logit_store import check_cache, read_logits, split_matrix
from scalingdown.losses import soften
from scalingdown.online_teachers import load_online_teachers
from scalingdown.seq2seq.fit import TeacherRows, fit_seq2seq
from scalingdown.seq2seq.formats import is_seq2seq
from scalingdown.seq2seq.topk import check_vocabulary, vocabulary
from scalingdown.training import save_trained

log = logging.getLogger(__name__)


def load_teacher_logits(spec: dict[str, Any], data_dir: str, logits_paths: list[str]) -> list[np.ndarray]:
    """Each teacher's train-split logits in the task's label order, after checking every cache."""
    if len(logits_paths) != len(spec["teachers"]):
        raise ValueError(f"got {len(logits_paths)} logit caches for {len(spec['teachers'])} teachers")
    train = read_split(data_dir, "train")
    manifest = read_manifest(data_dir)
    matrices = []
    for teacher, path in zip(spec["teachers"], logits_paths):
        frame, fingerprint = read_logits(path)
        check_cache(
            path, fingerprint, frame,
            expected={"teacher_key": teacher["key"]},
            data={"train": train},
            data_hashes={"train": manifest["splits"]["train"]["sha256"]},
        )
        logits = split_matrix(frame, "train")
        matrices.append(align_columns(logits, fingerprint["label_names"], spec["labels"], f"teacher {teacher['name']}"))
    return matrices


def combine_teachers(matrices: list[np.ndarray], temperature: float) -> np.ndarray:
    """The distillation target: the uniform mixture of the teachers' softened distributions."""
    probs = [soften(torch.from_numpy(m), temperature).numpy() for m in matrices]
    return np.mean(probs, axis=0)


def online_target(
    spec: dict[str, Any], data_dir: str, logits_paths: list[str]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The distillation target of a training batch, computed by running the teachers on its rows."""
    if logits_paths:
        raise UserError("teacher_mode online runs the teachers and reads no logit caches; drop --logits")
    teachers = load_online_teachers(spec["teachers"], spec["labels"], read_split(data_dir, "train")["text"].tolist())
    temperature = float(spec["loss"]["temperature"])

    def target(row_index: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(combine_teachers(teachers.logits(row_index), temperature)).to(row_index.device)

    return target


def distill(
    spec: dict[str, Any], data_dir: str, init_dir: str, logits_paths: list[str],
    out_dir: str, history: str, checkpoints: str,
) -> None:
    """Train the student initialised from `init_dir`; save it to `out_dir` and its history."""
    if is_seq2seq(spec.get("type", "classification")):
        distill_seq2seq(spec, data_dir, init_dir, logits_paths, out_dir, history, checkpoints)
        return
    teacher_probs, online_teacher = None, None
    if spec["teachers"] and spec.get("teacher_mode", "cached") == "online":
        online_teacher = online_target(spec, data_dir, logits_paths)
    elif spec["teachers"]:
        matrices = load_teacher_logits(spec, data_dir, logits_paths)
        teacher_probs = combine_teachers(matrices, float(spec["loss"]["temperature"]))
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForSequenceClassification.from_pretrained(init_dir, use_safetensors=True)
    log_history = fit_classifier(
        model, tokenizer, data_dir, spec["labels"], spec["max_length"], spec["training"], spec["loss"],
        checkpoints=checkpoints,
        resume_key={"stage": "distill", "spec": spec, "data": data_dir, "init": init_dir, "logits": logits_paths},
        teacher_probs=teacher_probs,
        online_teacher=online_teacher,
    )
    save_trained(model, tokenizer, out_dir, history, log_history, checkpoints)


def load_teacher_rows(spec: dict[str, Any], data_dir: str, logits_paths: list[str],
                      student_vocabulary: dict[str, Any], student: str) -> list[TeacherRows]:
    """Each seq2seq teacher's cached train rows, after checking the cache and that the vocabularies match."""
    if len(logits_paths) != len(spec["teachers"]):
        raise ValueError(f"got {len(logits_paths)} teacher caches for {len(spec['teachers'])} teachers")
    train = read_split(data_dir, "train")
    train_hash = read_manifest(data_dir)["splits"]["train"]["sha256"]
    teachers = []
    for teacher, path in zip(spec["teachers"], logits_paths):
        frame, fingerprint = read_logits(path)
        check_cache(path, fingerprint, frame,
                    expected={"teacher_key": teacher["key"], "logits_key": teacher["logits_key"],
                              "top_k": teacher["top_k"], "targets": teacher["targets"]},
                    data={"train": train}, data_hashes={"train": train_hash})
        check_vocabulary(f"{teacher['name']} ({fingerprint['model']})", fingerprint["vocabulary"],
                         student, student_vocabulary)
        rows = frame[frame["split"] == "train"]
        columns = {name: rows[name].tolist() for name in rows.columns if name not in ("split", "row_id")}
        teachers.append(TeacherRows(teacher["name"], int(fingerprint["top_k"]),
                                    fingerprint["targets"] == "generated", columns))
    return teachers


def distill_seq2seq(spec: dict[str, Any], data_dir: str, init_dir: str, logits_paths: list[str],
                    out_dir: str, history: str, checkpoints: str) -> None:
    """Train a seq2seq student from its teachers' top-k caches (or on gold targets alone)."""
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(init_dir, use_safetensors=True)
    teachers = load_teacher_rows(spec, data_dir, logits_paths, vocabulary(model, tokenizer),
                                 f"{spec['student']} ({init_dir})")
    log_history = fit_seq2seq(
        model, tokenizer, data_dir, spec, spec["max_length"], spec["max_target_length"], spec["training"],
        spec["loss"], checkpoints=checkpoints,
        resume_key={"stage": "distill", "spec": spec, "data": data_dir, "init": init_dir, "logits": logits_paths},
        teachers=teachers,
    )
    save_trained(model, tokenizer, out_dir, history, log_history, checkpoints)
