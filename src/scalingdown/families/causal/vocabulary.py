"""The tokenizer gate of causal distillation: a teacher's and a student's token ids must mean the same tokens.

Their tokenizers must agree token by token (same token for every id). Their output layers may be wider than the
tokenizer's vocabulary — rows added to round the matrix up (Qwen2.5-7B has 152,064 rows for 151,665 tokens, 3B
151,936): those padding rows are dropped, every distribution being taken over the shared vocabulary, the ids below
`len(tokenizer)`. Anything else is refused naming both models, with the way out: sequence-level KD (the teacher's
generated text as the target) works across tokenizers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from scalingdown.pipeline.errors import UserError


class VocabularyMismatch(UserError, ValueError):
    """A teacher and a student whose token ids do not mean the same tokens."""


def vocabulary(model: Any, tokenizer: Any) -> dict[str, Any]:
    """What the gate compares, as a cache's fingerprint records it (the text-to-text cache's fields): the tokens in id
    order (`vocab_sha256`), their count (`vocab_size`, the shared vocabulary) and the output layer's rows
    (`config_vocab_size`)."""
    return config_vocabulary(model.config, tokenizer)


def config_vocabulary(config: Any, tokenizer: Any) -> dict[str, Any]:
    """`vocabulary` from a model's config (no weights loaded)."""
    tokens = tokens_by_id(tokenizer)
    return {
        "vocab_size": len(tokens),
        "vocab_sha256": hashlib.sha256(json.dumps(tokens).encode("utf-8")).hexdigest(),
        "config_vocab_size": int(config.vocab_size),
    }


def tokens_by_id(tokenizer: Any) -> list[str | None]:
    """The token of every id below `len(tokenizer)` (None for an id no token has)."""
    by_id: list[str | None] = [None] * len(tokenizer)
    for token, index in tokenizer.get_vocab().items():
        if index < len(by_id):
            by_id[index] = token
    return by_id


def shared_size(teacher: str, teacher_vocab: dict[str, Any], student: str, student_vocab: dict[str, Any]) -> int:
    """The size of the vocabulary teacher and student share; `VocabularyMismatch` naming both unless their tokens
    are equal id by id and both output layers cover them."""
    advice = (
        "Token-level distillation compares token ids; with different tokenizers use sequence-level KD instead "
        "(the teacher's `targets: generated`: its generated text is the student's target)."
    )
    if (teacher_vocab["vocab_size"], teacher_vocab["vocab_sha256"]) != (
        student_vocab["vocab_size"],
        student_vocab["vocab_sha256"],
    ):
        raise VocabularyMismatch(
            f"teacher {teacher} and student {student} tokenise differently ({teacher_vocab['vocab_size']} vs "
            f"{student_vocab['vocab_size']} tokens, or the same ids mean other tokens). {advice}"
        )
    shared = int(teacher_vocab["vocab_size"])
    for who, vocab in ((f"teacher {teacher}", teacher_vocab), (f"student {student}", student_vocab)):
        if vocab["config_vocab_size"] < shared:
            raise VocabularyMismatch(
                f"{who} has {vocab['config_vocab_size']} output rows for a vocabulary of {shared} tokens: it cannot "
                f"predict every token. {advice}"
            )
    return shared
