"""Teachers run inside the training loop (`teacher_mode: online`).

The workflow's point is that `distill` reads teacher logits from a cache and never loads a
teacher; online mode exists to measure what that saves (bench/cache_vs_online.py). It computes,
for each training batch, exactly what the cache would hold for those rows: every teacher's logits
on the batch's texts (its own tokenizer and max length, eval mode, no gradients), aligned to the
task's label order with the same function the cached path uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from scalingdown.data.labels import align_columns
from scalingdown.models.loading import load_classifier, load_tokenizer, model_label_names
from scalingdown.pipeline.specs.definitions import DistillTeacher


@dataclass
class OnlineTeacher:
    """A loaded teacher: model (eval mode, frozen), its own tokenizer and max length, its label names."""

    name: str
    model: torch.nn.Module
    tokenizer: Any
    max_length: int
    label_names: list[str]


class OnlineTeachers:
    """Each teacher's logits for rows of the training split, computed on demand."""

    def __init__(self, teachers: list[OnlineTeacher], texts: list[str], labels: list[str]) -> None:
        self.teachers = teachers
        self.texts = texts
        self.labels = labels

    def logits(self, row_index: torch.Tensor) -> list[np.ndarray]:
        """One (rows × labels) float32 matrix per teacher for these training rows, in the task's label order."""
        return self.logits_of_texts([self.texts[index] for index in row_index.tolist()], row_index.device)

    @torch.no_grad()
    def logits_of_texts(
        self, texts: list[str], device: torch.device | str = "cpu", batch_size: int = 64
    ) -> list[np.ndarray]:
        """One (texts × labels) float32 matrix per teacher, in the task's label order."""
        matrices = []
        for teacher in self.teachers:
            teacher.model.to(device)
            parts = []
            for start in range(0, len(texts), batch_size):
                encoded = teacher.tokenizer(
                    texts[start : start + batch_size],
                    truncation=True,
                    max_length=teacher.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                parts.append(teacher.model(**encoded.to(device)).logits.float().cpu().numpy())
            logits = np.concatenate(parts) if parts else np.zeros((0, len(teacher.label_names)), np.float32)
            matrices.append(align_columns(logits, teacher.label_names, self.labels, f"teacher {teacher.name}"))
        return matrices


def load_online_teachers(teachers: Sequence[DistillTeacher], labels: list[str], texts: list[str]) -> OnlineTeachers:
    """Load the teachers of a distill spec to run on `texts`."""
    loaded = []
    for teacher in teachers:
        model = load_classifier(teacher.model)
        model.eval()
        model.requires_grad_(False)
        loaded.append(
            OnlineTeacher(
                name=teacher.name,
                model=model,
                tokenizer=load_tokenizer(teacher.model),
                max_length=teacher.max_length,
                label_names=model_label_names(model, teacher.label_map),
            )
        )
    return OnlineTeachers(loaded, texts, labels)
