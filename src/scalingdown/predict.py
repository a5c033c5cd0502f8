"""Batched inference with length bucketing (sort by length, pad per batch, restore order)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module,
    tokenizer: object,
    texts: list[str],
    max_length: int,
    batch_size: int = 64,
    description: str = "predict",
) -> np.ndarray:
    """Logits for `texts`, in input order, as float32 (rows × labels)."""
    model.eval()
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    outputs: list[np.ndarray] = []
    for start in tqdm(range(0, len(texts), batch_size), desc=description, unit="batch"):
        batch = [texts[i] for i in order[start : start + batch_size]]
        encoded = tokenizer(batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        outputs.append(model(**encoded).logits.float().numpy())
    logits = np.concatenate(outputs) if outputs else np.zeros((0, model.config.num_labels), np.float32)
    restored = np.empty_like(logits)
    restored[order] = logits
    return restored
