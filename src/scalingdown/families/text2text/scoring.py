"""Scoring a text-to-text model on a task's test split, and running it per question for the benchmark's timing.

- generative_qa: greedy generation; exact match, token F1, precision and recall, each the max
  over the question's answer aliases (SQuAD normalisation);
- multiple_choice: every option is scored by log p(option target | source), summed over its
  tokens or (task `option_score: mean`) averaged over them; the best-scoring option is the prediction;
- math: greedy generation of a rationale; accuracy of the answer letter parsed from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from scalingdown.data.store import read_split
from scalingdown.evaluation.exporters import export_record, load_torch_int8
from scalingdown.evaluation.metrics import choice_scores, letter_scores, qa_scores
from scalingdown.evaluation.sizes import local_size_mb
from scalingdown.families.text2text.formats import option_targets
from scalingdown.families.text2text.inference import generate_ids, sequence_logprobs
from scalingdown.families.text2text.rows import encode, split_texts
from scalingdown.models.loading import count_parameters, inference_device, load_seq2seq, load_tokenizer
from scalingdown.pipeline.names.tasks import prompt_for
from scalingdown.pipeline.specs.definitions import EvaluateSpec, TextTask

Answer = Callable[[list[int], str | None], list[Any]]


def answerer(
    model: Any, tokenizer: Any, task_type: str, text: TextTask, max_length: int, frame: pd.DataFrame, batch_size: int
) -> Answer:
    """A function answering the questions at the given row indices: option scores (MC) or generated texts."""
    sources, _ = split_texts(frame, task_type, text.prompt)
    source_ids = encode(tokenizer, sources, max_length, "test sources")
    if task_type == "multiple_choice":
        prompt = prompt_for("multiple_choice", text.prompt)
        options = [
            encode(tokenizer, option_targets(prompt, row), text.max_target_length, "options", target=True)
            for row in frame.to_dict("records")
        ]

        def score(indices: list[int], description: str | None) -> list[list[float]]:
            pairs = [(i, option) for i in indices for option in options[i]]
            scores = sequence_logprobs(
                model,
                [source_ids[i] for i, _ in pairs],
                [option for _, option in pairs],
                batch_size,
                description,
                mean=text.option_score == "mean",
            )
            grouped, offset = [], 0
            for i in indices:
                grouped.append(scores[offset : offset + len(options[i])].tolist())
                offset += len(options[i])
            return grouped

        return score

    def generate(indices: list[int], description: str | None) -> list[str]:
        generated = generate_ids(
            model, [source_ids[i] for i in indices], text.max_target_length, batch_size, description
        )
        texts: list[str] = tokenizer.batch_decode(generated, skip_special_tokens=True)
        return texts

    return generate


class QuestionTimer:
    """A text-to-text model as `evaluation.timing` runs it: an input is a test row (its index), encoded once when
    the answerer is built; a call answers the rows (generation, or scoring every option of each)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def encode(self, rows: Sequence[int]) -> list[int]:
        """The rows themselves: their sources were encoded when the answerer was built."""
        return list(rows)

    def call(self, rows: list[int]) -> list[Any]:
        """Answer the rows (generation, or scoring every option of each)."""
        return self.answer(rows, None)


def task_scores(task_type: str, frame: pd.DataFrame, answers: list[Any], tokenizer: Any) -> dict[str, float]:
    """The task type's metrics of `answers` (one per row of `frame`, generated texts decoded by `tokenizer`)."""
    if task_type == "multiple_choice":
        return choice_scores([int(label) for label in frame["label"]], answers)
    if task_type == "math":
        return letter_scores(answers, [str(letter) for letter in frame["answer"]])
    return qa_scores(answers, [with_round_trips(tokenizer, list(aliases)) for aliases in frame["aliases"]])


def with_round_trips(tokenizer: Any, aliases: list[str]) -> list[str]:
    """`aliases` plus each one encoded and decoded by `tokenizer`, where that differs.

    A WordPiece tokenizer cannot restore the spacing around punctuation (`12.5%` decodes as `12. 5 %`),
    so a model that generates exactly the answer's tokens would otherwise not match it.
    """
    decoded = tokenizer.batch_decode(tokenizer(aliases)["input_ids"], skip_special_tokens=True)
    return aliases + [text for text in decoded if text not in aliases]


def examples(
    frame: pd.DataFrame, task_type: str, prompt: dict[str, str], answers: list[Any], count: int = 5
) -> list[dict[str, Any]]:
    """A few test questions with the model's answer, for reading the evaluation record."""
    sources, targets = split_texts(frame.head(count), task_type, prompt)
    shown = []
    for source, target, answer in zip(sources, targets, answers[:count]):
        if isinstance(answer, list):
            answer = int(np.argmax(answer))
        shown.append({"source": source, "gold": target, "prediction": answer})
    return shown


def score_model(spec: EvaluateSpec, text: TextTask, data_dir: str, model_ref: str) -> dict[str, Any]:
    """The fields of a text-to-text model's evaluation record: the task type's metrics on the test split, a few
    examples, parameters and size on disk; a PyTorch int8 export (the only export of a text-to-text model) runs on
    the CPU."""
    tokenizer = load_tokenizer(model_ref)
    if spec.variant is None:
        model = cast(Any, load_seq2seq(model_ref)).to(inference_device())
        params, size = count_parameters(model), local_size_mb(model_ref)
    else:
        model, exported = load_torch_int8(model_ref), export_record(model_ref)
        params, size = exported["params"], exported["size_mb"]
    test = read_split(data_dir, "test")
    answer = answerer(model, tokenizer, spec.type, text, spec.max_length, test, spec.batch_size)
    answers = answer(list(range(len(test))), "test")
    return {
        "type": spec.type,
        "test_rows": len(test),
        "labels": None,
        "metrics": task_scores(spec.type, test, answers, tokenizer),
        "examples": examples(test, spec.type, text.prompt, answers),
        "params": params,
        "size_mb": size,
    }
