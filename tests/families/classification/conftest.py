"""Tiny classifiers written by the tests, with their own label orders."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from scalingdown.models.loading import load_tokenizer, tiny_config

FINBERT_ORDER = ["positive", "negative", "neutral"]


def write_tiny_classifier(path: Path, label_names: list[str], arch: str = "bert-l2-h32", seed: int = 0) -> Path:
    """A tiny BERT classifier directory whose outputs carry `label_names`, in that order."""
    config = tiny_config(arch)
    config.num_labels = len(label_names)
    config.id2label = dict(enumerate(label_names))
    config.label2id = {name: index for index, name in enumerate(label_names)}
    torch.manual_seed(seed)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(path)
    load_tokenizer(f"tiny:{arch}").save_pretrained(path)
    return path
