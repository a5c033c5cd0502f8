"""Generation speed of language models, timed interleaved like `evaluation.timing`: new tokens per second at batch 1
and at the benchmark's batch size, and the time to the first token (prompt processed and one token generated, at
batch 1).

A timed model takes part when it generates (`Generating`): round r runs the models in the given order rotated left
by r places, each on the same round's inputs; tokens per second is every round's new tokens over their seconds (a
row's tokens up to its end-of-sequence token: the padding a batch generates after it does not count), the time to
first token the median over the rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Generating(Protocol):
    """A model that answers inputs by generating tokens."""

    def generate_tokens(self, inputs: list[Any], max_new_tokens: int | None) -> int:
        """Answer `inputs` (at most `max_new_tokens` each; None: the task's limit); the new tokens generated."""


def generation_speed(
    models: Mapping[str, Any], inputs: Sequence[Any], rounds: int, batch_size: int
) -> dict[str, dict[str, float]]:
    """Per generating model of `models` (the others are left out): `tokens_per_s_batch_1`, `tokens_per_s_batch`
    (at `batch_size`), `batch_size` and `time_to_first_token_ms`."""
    names = [name for name, model in models.items() if isinstance(model, Generating)]
    seconds = {name: {"single": 0.0, "batch": 0.0} for name in names}
    tokens = {name: {"single": 0, "batch": 0} for name in names}
    first: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds if names else 0):
        single = [inputs[round_index % len(inputs)]]
        batch = [inputs[(round_index * batch_size + i) % len(inputs)] for i in range(batch_size)]
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            model = models[name]
            for key, rows in (("single", single), ("batch", batch)):
                start = time.perf_counter()
                tokens[name][key] += model.generate_tokens(rows, None)
                seconds[name][key] += time.perf_counter() - start
            start = time.perf_counter()
            model.generate_tokens(single, 1)
            first[name].append(time.perf_counter() - start)
    return {
        name: {
            "tokens_per_s_batch_1": tokens[name]["single"] / seconds[name]["single"],
            "tokens_per_s_batch": tokens[name]["batch"] / seconds[name]["batch"],
            "batch_size": float(batch_size),
            "time_to_first_token_ms": 1000 * statistics.median(first[name]),
        }
        for name in names
    }
