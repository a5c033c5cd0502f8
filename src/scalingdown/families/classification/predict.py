"""Batched inference with length bucketing (sort by length, pad per batch, restore order)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from scalingdown.kd.losses import masked_mean
from scalingdown.models.loading import model_device

log = logging.getLogger(__name__)


@torch.inference_mode()
def predict_outputs(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    max_length: int,
    batch_size: int = 64,
    description: str = "predict",
    hidden_layers: Sequence[int] = (),
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Logits for `texts` (rows × labels) and the pooled hidden states of `hidden_layers`.

    Hidden states are indexed as the model returns them (0 = embeddings, i = after block i) and
    pooled by the attention-mask mean; all outputs are float32 numpy, in input order. The model
    runs where its weights are (CPU or GPU).
    """
    model.eval()
    full_lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    truncated = sum(length > max_length for length in full_lengths)
    if truncated:
        log.warning(
            "%s: %d of %d texts are longer than max_length=%d tokens and were truncated",
            description,
            truncated,
            len(texts),
            max_length,
        )
    lengths = [min(length, max_length) for length in full_lengths]
    order = np.argsort(lengths, kind="stable")
    logits: list[np.ndarray] = []
    pooled: dict[int, list[np.ndarray]] = {layer: [] for layer in hidden_layers}
    device = model_device(model)
    for start in tqdm(range(0, len(texts), batch_size), desc=description, unit="batch"):
        batch = [texts[i] for i in order[start : start + batch_size]]
        encoded = tokenizer(batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt").to(device)
        outputs = model(**encoded, output_hidden_states=bool(pooled))
        logits.append(outputs.logits.float().cpu().numpy())
        for layer, parts in pooled.items():
            parts.append(masked_mean(outputs.hidden_states[layer], encoded["attention_mask"]).float().cpu().numpy())
    width = getattr(model.config, "hidden_size", 0)
    matrices: dict[str | int, np.ndarray] = {
        "logits": np.concatenate(logits) if logits else np.zeros((0, model.config.num_labels), np.float32),
        **{
            layer: np.concatenate(parts) if parts else np.zeros((0, width), np.float32)
            for layer, parts in pooled.items()
        },
    }
    restored: dict[Any, np.ndarray] = {}
    for name, matrix in matrices.items():
        restored[name] = np.empty_like(matrix)
        restored[name][order] = matrix
    return restored.pop("logits"), restored


def predict_logits(
    model: torch.nn.Module,
    tokenizer: object,
    texts: list[str],
    max_length: int,
    batch_size: int = 64,
    description: str = "predict",
) -> np.ndarray:
    """Logits for `texts`, in input order, as float32 (rows × labels)."""
    return predict_outputs(model, tokenizer, texts, max_length, batch_size, description)[0]
