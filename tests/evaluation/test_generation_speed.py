"""Generation speed: generating models timed interleaved at batch 1, batched and to their first token; the others
left out."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from scalingdown.evaluation.generation_speed import generation_speed
from scalingdown.families.causal.models import load_causal
from scalingdown.families.causal.scoring import GenerationTimer
from scalingdown.models.loading import load_tokenizer
from scalingdown.pipeline.names.tasks import prompt_for
from scalingdown.pipeline.specs.definitions import TextTask


class FakeGenerator:
    """Generates `tokens` per input (or the limit it is given), logging (name, inputs, limit) in a shared log."""

    def __init__(self, name: str, tokens: int, log: list[tuple[str, tuple[Any, ...], int | None]]) -> None:
        self.name, self.tokens, self.log = name, tokens, log

    def generate_tokens(self, inputs: list[Any], max_new_tokens: int | None) -> int:
        self.log.append((self.name, tuple(inputs), max_new_tokens))
        return len(inputs) * (max_new_tokens or self.tokens)


class Classifier:
    """A timed model that does not generate."""


def test_generating_models_are_timed_in_rotated_order_on_the_same_inputs():
    log: list[tuple[str, tuple[Any, ...], int | None]] = []
    models = {"a": FakeGenerator("a", 5, log), "b": FakeGenerator("b", 3, log), "c": Classifier()}
    speed = generation_speed(models, list(range(7)), rounds=2, batch_size=4)
    assert set(speed) == {"a", "b"}
    assert [name for name, _, _ in log] == ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3
    first_round = [(inputs, limit) for _, inputs, limit in log[:3]]
    assert first_round == [((0,), None), ((0, 1, 2, 3), None), ((0,), 1)]
    assert [(inputs, limit) for _, inputs, limit in log[3:6]] == first_round  # b: the same inputs in round 0
    assert log[6][1:] == ((1,), None) and log[7][1:] == ((4, 5, 6, 0), None)
    assert speed["a"]["batch_size"] == 4 and all(value > 0 for value in speed["a"].values())


def test_a_causal_model_counts_its_new_tokens_up_to_the_end_of_sequence():
    torch.manual_seed(0)
    tokenizer = load_tokenizer("tiny:llama-l1-h16")
    model = load_causal("tiny:llama-l1-h16", seed=3).eval()
    frame = pd.DataFrame({"question": [f"question {i}?" for i in range(3)], "answer": ["yes"] * 3})
    text = TextTask(prompt=prompt_for("generative_qa", None), max_target_length=6)
    timer = GenerationTimer(model, tokenizer, "generative_qa", text, 32, frame, batch_size=2)
    answers = timer.call([0, 1, 2])
    assert len(answers) == 3 and all(isinstance(answer, str) for answer in answers)
    assert timer.generate_tokens([0, 1, 2], 1) == 3
    assert 3 <= timer.generate_tokens([0, 1, 2], None) <= 3 * 6
