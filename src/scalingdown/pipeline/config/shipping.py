"""`tasks.<task>.ship`: the budget a shipped model must fit, `max_latency_ms` (the benchmark's median latency per
text at batch size 1) and/or `max_size_mb` (its weights on disk, MiB). The `ship` stage writes the most accurate
student or export within it to `<task>/shipped/`. Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from scalingdown.pipeline.errors import ConfigError

# The task types whose models `scalingdown predict` runs, and so that a shipped directory serves.
SHIP_TYPES = ("classification",)


class ShipBudget(NamedTuple):
    """What a shipped model must fit: latency at batch size 1 (ms) and size on disk (MiB); None: no limit."""

    max_latency_ms: float | None
    max_size_mb: float | None

    @classmethod
    def from_config(cls, ship: Mapping[str, Any]) -> ShipBudget:
        """The budget of a task's `ship` mapping."""
        latency, size = ship.get("max_latency_ms"), ship.get("max_size_mb")
        return cls(None if latency is None else float(latency), None if size is None else float(size))

    @property
    def text(self) -> str:
        """`latency ≤ 5 ms and size ≤ 20 MiB`, as the report and the model card state it."""
        parts = [] if self.max_latency_ms is None else [f"latency ≤ {self.max_latency_ms:g} ms"]
        parts += [] if self.max_size_mb is None else [f"size ≤ {self.max_size_mb:g} MiB"]
        return " and ".join(parts)


def check_ship(key: str, task: Mapping[str, Any]) -> None:
    """A `ship` budget (the schema checks its numbers) on a task whose models `predict` can run."""
    if task["type"] not in SHIP_TYPES:
        raise ConfigError(
            key,
            f"shipping under a budget is for {', '.join(SHIP_TYPES)} tasks (what `scalingdown predict` runs), "
            f"not {task['type']}",
        )
