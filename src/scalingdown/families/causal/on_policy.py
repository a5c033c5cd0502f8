"""On-policy distillation (`loss.on_policy`), in the spirit of GKD (Agarwal et al., 2024; TRL's `GKDTrainer`, whose
`lmbda` is this share): on that share of optimizer steps, drawn with the training seed, the student answers the
step's prompts itself (sampling at temperature 1) and learns the teacher's distribution on its own answers, which the
teacher — loaded in `distill` for this mode only — scores online. Those rows have no gold answer: their CE term is
off, and the divergence is the configured one over the teacher's top-k buckets, as from the cache.

The choice is made per optimizer step, for all its micro-batches, before the Trainer counts the step's response
tokens, so that the loss stays normalised over the tokens actually learnt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from scalingdown.families.causal.batches import generate_responses, right_padded, shifted
from scalingdown.families.causal.fit import CE_ROWS, PROMPT_LENGTH, teacher_key
from scalingdown.families.causal.topk import topk_of


class OnPolicy:
    """The `batch_hook` of the trainer: replaces a share of the steps' batches by the student's samples."""

    def __init__(
        self,
        teacher: Any,
        share: float,
        seed: int,
        top_k: int,
        shared: int,
        max_new_tokens: int,
        padding: int,
        eos: set[int],
    ) -> None:
        self.teacher = teacher.eval()
        self.share = share
        self.seed = seed
        self.top_k = top_k
        self.shared = shared
        self.max_new_tokens = max_new_tokens
        self.padding = padding
        self.eos = eos
        self.steps = 0

    def chosen(self, step: int) -> bool:
        """Whether optimizer step `step` learns from the student's own samples (reproducible from the seed)."""
        return bool(np.random.default_rng([self.seed, step]).random() < self.share)

    def __call__(self, model: Any, batches: list[dict[str, Any]], step: int) -> list[dict[str, Any]] | None:
        """The step's batches with sampled responses and the teacher's top-k on them, or None to keep them."""
        if not self.chosen(step):
            return None
        self.steps += 1
        training = model.training
        torch.manual_seed(self.seed * 1_000_003 + step)
        try:
            return [self._sampled(model, batch) for batch in batches]
        finally:
            model.train(training)

    def _sampled(self, model: Any, batch: dict[str, Any]) -> dict[str, Any]:
        prompts = [row[:length].tolist() for row, length in zip(batch["input_ids"], batch[PROMPT_LENGTH])]
        responses = generate_responses(
            model, prompts, self.max_new_tokens, len(prompts), self.padding, self.eos, None, sample=True
        )
        device = batch["input_ids"].device
        sampled = {key: value.to(device) for key, value in right_padded(prompts, responses, self.padding).items()}
        with torch.inference_mode():
            logits = self.teacher(input_ids=sampled["input_ids"], attention_mask=sampled["attention_mask"]).logits
            logprobs = torch.log_softmax(shifted(logits, sampled["labels"])[0][:, : self.shared].float(), dim=-1)
            ids, values, tail = topk_of(logprobs, self.top_k)
        return {
            **sampled,
            PROMPT_LENGTH: batch[PROMPT_LENGTH],
            CE_ROWS: torch.zeros(len(prompts), dtype=torch.bool, device=device),
            teacher_key(0, "topk_ids"): ids.clone(),
            teacher_key(0, "topk_logprobs"): values.clone(),
            teacher_key(0, "tail_mass"): tail.clone(),
        }
