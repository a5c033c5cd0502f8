"""The causal loss: normalised per response token over the whole accumulated batch (gradient accumulation 4 × 2 gives
the gradient of one batch of 8), CE and every divergence on response tokens only, padding rows of the output layer
dropped."""

import dataclasses

import numpy as np
import pytest
import torch
from transformers import TrainerCallback, TrainingArguments

from scalingdown.families.causal.fit import CausalCollator, causal_loss_fn, training_set
from scalingdown.families.causal.topk import topk_of
from scalingdown.families.text2text.fit import TeacherRows
from scalingdown.kd.buckets import teacher_bucket_logprobs
from scalingdown.kd.divergences import Divergence, row_divergence
from scalingdown.pipeline.specs.definitions import LossSpec
from scalingdown.training.trainer import KDTrainer
from tests.families.causal.conftest import tiny_llama

VOCAB = 40
LOSS = LossSpec(ce=0.5, kd=0.5, temperature=1.0, hidden=0.0, hidden_projection="auto", hidden_map={})


class FirstGradient(TrainerCallback):
    """Keeps the gradient of the first optimizer step."""

    def __init__(self) -> None:
        self.gradient: dict[str, torch.Tensor] | None = None

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if self.gradient is None:
            self.gradient = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def rows(count: int = 8, k: int = 4) -> tuple[list, list, TeacherRows]:
    """Rows of varying prompt and response lengths, with a teacher's top-k rows drawn at random."""
    rng = np.random.default_rng(0)
    prompts = [rng.integers(3, VOCAB, rng.integers(2, 6)).tolist() for _ in range(count)]
    responses = [[*rng.integers(3, VOCAB, rng.integers(1, 7)).tolist(), 1] for _ in range(count)]
    columns: dict[str, list] = {"target_ids": [], "topk_ids": [], "topk_logprobs": [], "tail_mass": []}
    for response in responses:
        logprobs = torch.log_softmax(torch.from_numpy(rng.normal(size=(len(response), VOCAB))), dim=-1)
        ids, values, tail = topk_of(logprobs, k)
        columns["target_ids"].append(np.asarray(response, np.int32))
        columns["topk_ids"].append(ids.numpy().astype(np.int32).reshape(-1))
        columns["topk_logprobs"].append(values.numpy().astype(np.float16).reshape(-1))
        columns["tail_mass"].append(tail.numpy().astype(np.float32))
    return prompts, responses, TeacherRows("big", k, False, columns)


def first_gradient(tmp_path, batch_size: int, accumulation: int) -> dict[str, torch.Tensor]:
    prompts, responses, teacher = rows()
    grab = FirstGradient()
    args = TrainingArguments(
        output_dir=str(tmp_path / f"run-{batch_size}x{accumulation}"),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        max_steps=1,
        learning_rate=0.0,
        max_grad_norm=0.0,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        logging_strategy="no",
        seed=0,
        data_seed=0,
        remove_unused_columns=False,
    )
    KDTrainer(
        model=tiny_llama(VOCAB, seed=1),
        args=args,
        train_dataset=training_set(prompts, responses, [True] * len(prompts), [teacher]),
        data_collator=CausalCollator(0, [teacher.top_k]),
        loss_fn=causal_loss_fn(LOSS, [teacher], VOCAB),
        callbacks=[grab],
        token_sums=True,
    ).train()
    assert grab.gradient is not None
    return grab.gradient


def test_gradient_accumulation_gives_the_gradient_of_the_whole_batch(tmp_path):
    whole, accumulated = first_gradient(tmp_path, 8, 1), first_gradient(tmp_path, 2, 4)
    scale = max(float(g.abs().max()) for g in whole.values())
    assert scale > 0
    for name, gradient in whole.items():
        torch.testing.assert_close(accumulated[name], gradient, atol=1e-6 * scale, rtol=1e-4)


DIVERGENCES = [
    Divergence(),
    Divergence("reverse_kl"),
    Divergence("jsd", beta=0.3),
    Divergence("skew_kl", alpha=0.1),
    Divergence("skew_reverse_kl", alpha=0.2),
]


@pytest.mark.parametrize("divergence", DIVERGENCES, ids=lambda divergence: divergence.name)
def test_the_loss_is_the_mean_over_response_tokens_of_each_tokens_loss(divergence: Divergence):
    loss = dataclasses.replace(LOSS, divergence=divergence.name, beta=divergence.beta, alpha=divergence.alpha)
    prompts, responses, teacher = rows(3)
    batch = CausalCollator(0, [teacher.top_k])(list(training_set(prompts, responses, [True, False, True], [teacher])))
    logits = torch.randn(*batch["input_ids"].shape, VOCAB + 3)  # three padding rows past the vocabulary
    targets = {key: value for key, value in batch.items() if key != "input_ids" and key != "attention_mask"}
    terms = causal_loss_fn(loss, [teacher], VOCAB)(type("Out", (), {"logits": logits})(), targets, {})
    # by hand: every response token, in row order, its logits at the position before it
    ce, kd, tokens = 0.0, 0.0, 0
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        for t, token in enumerate(response):
            q = torch.log_softmax(logits[row, len(prompt) + t - 1, :VOCAB], dim=-1)
            if row != 1:
                ce -= float(q[token])
            k = teacher.top_k
            ids = torch.from_numpy(teacher.columns["topk_ids"][row].reshape(-1, k)[t].astype(np.int64))
            values = torch.from_numpy(teacher.columns["topk_logprobs"][row].reshape(-1, k)[t].astype(np.float32))
            tail = torch.tensor([float(teacher.columns["tail_mass"][row][t])])
            outside = torch.ones(VOCAB, dtype=torch.bool)
            outside[ids] = False
            student = torch.cat([q[ids], q[outside].logsumexp(dim=0, keepdim=True)])[None]
            kd += float(row_divergence(teacher_bucket_logprobs(values[None], tail, VOCAB, 1.0), student, divergence))
            tokens += 1
    assert float(terms["ce"]) == pytest.approx(ce / tokens, rel=1e-5)
    assert float(terms[divergence.term]) == pytest.approx(kd / tokens, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(0.5 * (ce + kd) / tokens, rel=1e-5)
