"""Scoring a causal LM on a task's test split (the same metrics as the text-to-text family), and the diagnostics
only a language model has: perplexity on the gold responses and, against a teacher, per-token KL and top-1
agreement.

- generative_qa, instruction: greedy generation from the prompt; exact match and token F1 over the answer's
  aliases (an instruction's alias is its response);
- multiple_choice: each option's response scored by its log-probability after the prompt (sum, or mean with
  `option_score: mean`), the best one predicted;
- math: greedy generation of a rationale; accuracy of the answer letter parsed from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from scalingdown.families.causal.batches import forced_batches, generate_responses, pad_id
from scalingdown.families.causal.chat import encode_rows, eos_ids
from scalingdown.families.text2text.formats import option_targets
from scalingdown.families.text2text.rows import split_texts
from scalingdown.families.text2text.scoring import QuestionTimer, task_scores
from scalingdown.pipeline.names.tasks import prompt_for
from scalingdown.pipeline.specs.definitions import TextTask

Answer = Callable[[list[int], str | None], list[Any]]
# Generated token ids of the prompts at the given indices (at most the given number of new tokens; None: the task's).
Responses = Callable[[list[int], int | None, str | None], list[list[int]]]


def response_logprobs(
    model: Any, prompts: list[list[int]], responses: list[list[int]], batch_size: int, description: str | None
) -> list[np.ndarray]:
    """The log-probability of every response token after its prompt (one array per pair, in input order)."""
    results: list[np.ndarray] = [np.zeros(0)] * len(prompts)
    padding = int(model.config.pad_token_id if model.config.pad_token_id is not None else 0)
    for batch, logits, tokens in forced_batches(model, prompts, responses, batch_size, description, padding):
        picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens[:, None])[:, 0].double().cpu().numpy()
        offset = 0
        for index in batch:
            results[index] = picked[offset : offset + len(responses[index])]
            offset += len(responses[index])
    return results


def answerer(
    model: Any, tokenizer: Any, task_type: str, text: TextTask, max_length: int, frame: pd.DataFrame, batch_size: int
) -> Answer:
    """A function answering the questions at the given row indices: option scores (MC) or generated texts."""
    sources, prompts = encoded_prompts(tokenizer, frame, task_type, text, max_length)
    if task_type == "multiple_choice":
        template = prompt_for("multiple_choice", text.prompt)
        options = [option_targets(template, row) for row in frame.to_dict("records")]

        def score(indices: list[int], description: str | None) -> list[list[float]]:
            pairs = [(i, option) for i in indices for option in options[i]]
            texts = [sources[i] for i, _ in pairs]
            pair_prompts, pair_responses = encode_rows(
                tokenizer, texts, [option for _, option in pairs], max_length, text.max_target_length, "options"
            )
            scored = response_logprobs(
                model, pair_prompts, [list(r or []) for r in pair_responses], batch_size, description
            )
            reduce = np.mean if text.option_score == "mean" else np.sum
            grouped, offset = [], 0
            for i in indices:
                grouped.append([float(reduce(s)) for s in scored[offset : offset + len(options[i])]])
                offset += len(options[i])
            return grouped

        return score

    return decoded(tokenizer, response_generator(model, tokenizer, prompts, text.max_target_length, batch_size))


def encoded_prompts(
    tokenizer: Any, frame: pd.DataFrame, task_type: str, text: TextTask, max_length: int
) -> tuple[list[str], list[list[int]]]:
    """The question text of every row of `frame` and its prompt's token ids (through the chat template)."""
    sources, _ = split_texts(frame, task_type, text.prompt)
    prompts, _ = encode_rows(tokenizer, sources, [None] * len(sources), max_length, text.max_target_length, "prompts")
    return sources, prompts


def decoded(tokenizer: Any, responses: Responses) -> Answer:
    """The answer texts of the generated responses (special tokens dropped, spaces stripped)."""

    def generate(indices: list[int], description: str | None) -> list[str]:
        texts: list[str] = tokenizer.batch_decode(responses(indices, None, description), skip_special_tokens=True)
        return [answer.strip() for answer in texts]

    return generate


def response_generator(
    model: Any, tokenizer: Any, prompts: list[list[int]], max_new_tokens: int, batch_size: int
) -> Responses:
    """A function generating the greedy responses' token ids to the prompts at the given indices (at most
    `max_new_tokens`, or the number it is given), each up to its first end-of-sequence token."""
    eos = eos_ids(tokenizer, getattr(model, "generation_config", None))

    def responses(indices: list[int], limit: int | None, description: str | None) -> list[list[int]]:
        chosen = [prompts[i] for i in indices]
        return generate_responses(
            model, chosen, limit or max_new_tokens, batch_size, pad_id(tokenizer), eos, description
        )

    return responses


class GenerationTimer(QuestionTimer):
    """A causal LM as the benchmark times it: answering test rows (`evaluation.timing`) and generating their
    responses' tokens (`evaluation.generation_speed`)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        task_type: str,
        text: TextTask,
        max_length: int,
        frame: pd.DataFrame,
        batch_size: int,
    ) -> None:
        _, prompts = encoded_prompts(tokenizer, frame, task_type, text, max_length)
        self.responses = response_generator(model, tokenizer, prompts, text.max_target_length, batch_size)
        super().__init__(decoded(tokenizer, self.responses))

    def generate_tokens(self, inputs: list[Any], max_new_tokens: int | None) -> int:
        """Generate the responses of the test rows `inputs`; their new tokens (each up to its end of sequence)."""
        return sum(len(response) for response in self.responses(list(inputs), max_new_tokens, None))


def perplexity(model: Any, prompts: list[list[int]], responses: Sequence[list[int]], batch_size: int) -> float:
    """Exp of the mean negative log-probability of the gold response tokens (every row's tokens pooled)."""
    scored = response_logprobs(model, prompts, list(responses), batch_size, "perplexity")
    tokens = sum(len(s) for s in scored)
    return math.exp(-sum(float(s.sum()) for s in scored) / tokens) if tokens else math.inf


def teacher_agreement(
    student: Any,
    teacher: Any,
    prompts: list[list[int]],
    responses: list[list[int]],
    shared: int,
    batch_size: int,
    padding: int,
) -> dict[str, float]:
    """Per response token of the gold responses: KL(teacher ‖ student) over the shared vocabulary (mean and 99th
    percentile) and how often the student's most likely token is the teacher's (top-1 agreement)."""
    kl: list[np.ndarray] = []
    agree: list[np.ndarray] = []
    teacher_passes = forced_batches(teacher, prompts, responses, batch_size, "teacher tokens", padding)
    student_passes = forced_batches(student, prompts, responses, batch_size, "student tokens", padding)
    for (_, teacher_logits, _), (_, student_logits, _) in zip(teacher_passes, student_passes):
        log_t = torch.log_softmax(teacher_logits[:, :shared].float(), dim=-1)
        log_s = torch.log_softmax(student_logits[:, :shared].float(), dim=-1)
        kl.append((log_t.exp() * (log_t - log_s)).sum(dim=-1).cpu().numpy())
        agree.append((log_t.argmax(dim=-1) == log_s.argmax(dim=-1)).cpu().numpy())
    values = np.concatenate(kl) if kl else np.zeros(0)
    return {
        "kl_to_teacher_mean": float(values.mean()) if values.size else math.nan,
        "kl_to_teacher_p99": float(np.percentile(values, 99)) if values.size else math.nan,
        "top1_agreement": float(np.concatenate(agree).mean()) if agree else math.nan,
    }


def causal_task_scores(task_type: str, frame: pd.DataFrame, answers: list[Any], tokenizer: Any) -> dict[str, float]:
    """The task type's metrics of `answers` (an instruction is scored like a question whose alias is its
    response)."""
    if task_type == "instruction":
        frame = frame.assign(aliases=[[str(response)] for response in frame["response"]])
        task_type = "generative_qa"
    return task_scores(task_type, frame, answers, tokenizer)
