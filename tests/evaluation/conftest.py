"""A tiny saved student classifier for the export, runtime, prediction and timing tests."""

from __future__ import annotations

from pathlib import Path

import torch

from scalingdown.models.loading import load_classifier, load_tokenizer

LABELS = ["negative", "neutral", "positive"]


def save_student(directory: Path) -> Path:
    """A tiny 3-label BERT classifier saved as a student is (weights, config with label names, tokenizer)."""
    model = load_classifier("tiny:bert-l2-h32", labels=LABELS, seed=1)
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.3, -0.2, 0.1]))  # a non-zero bias must survive the export
    model.save_pretrained(directory)
    load_tokenizer("tiny:bert-l2-h32").save_pretrained(directory)
    return directory
