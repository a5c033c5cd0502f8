"""The shapes of the built-in tiny models (`tiny:bert-l<layers>-h<width>`, `tiny:t5-l<layers>-h<width>`,
`tiny:llama-l<layers>-h<width>`), read from
the reference alone: what `models.loading` builds, and what the config check needs to refuse a shape that
cannot be built. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TINY = re.compile(r"^(?P<arch>bert|t5|llama)-l(?P<layers>\d+)-h(?P<width>\d+)$")

# Tiny BERTs have learned absolute positions (`max_position_embeddings`); tiny T5s relative ones and tiny Llamas
# rotary ones (no limit).
TINY_BERT_POSITIONS = 512


@dataclass(frozen=True)
class TinyShape:
    """A tiny model's architecture, blocks, width and attention heads (one head per 16 dimensions, at least one)."""

    arch: str
    layers: int
    width: int

    @property
    def heads(self) -> int:
        """Attention heads: one per 16 dimensions, at least one."""
        return max(1, self.width // 16)

    @property
    def positions(self) -> int | None:
        """The longest input it can embed (None: no limit)."""
        return TINY_BERT_POSITIONS if self.arch == "bert" else None


def tiny_shape(name: str) -> TinyShape | None:
    """The shape named by `name` (the part after `tiny:`), or None when it does not follow the pattern."""
    match = _TINY.match(name)
    if match is None:
        return None
    return TinyShape(match["arch"], int(match["layers"]), int(match["width"]))


def tiny_problem(name: str) -> str | None:
    """Why `tiny:<name>` cannot be built, or None when it can."""
    shape = tiny_shape(name)
    if shape is None:
        return (
            f"tiny:{name}: expected tiny:bert-l<layers>-h<width>, tiny:t5-l<layers>-h<width> or "
            "tiny:llama-l<layers>-h<width>, e.g. tiny:bert-l2-h32"
        )
    if shape.layers < 1:
        return f"tiny:{name}: a model needs at least one layer (l{shape.layers})"
    if shape.width < 1:
        return f"tiny:{name}: the hidden size must be at least 1 (h{shape.width})"
    if shape.arch in ("bert", "llama") and shape.width % shape.heads:
        return (
            f"tiny:{name}: hidden size {shape.width} is not divisible by its {shape.heads} attention heads "
            f"(one per 16 dimensions); use a multiple of {shape.heads}, e.g. h{shape.heads * 16}"
        )
    return None
