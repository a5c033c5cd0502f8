"""`scalingdown generate`: a causal LM (a student's directory, or any causal model reference) answers every prompt of
a CSV, JSON Lines or Parquet file, streamed in chunks with the same input and output rules as `scalingdown predict`
(`evaluation.predict_file.annotate_file`): the input's columns, then `response`; `--force` replaces only an earlier
output of `generate` (a file whose first row has a `response` column)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from scalingdown.evaluation.predict_file import OutputKind, annotate_file
from scalingdown.families.causal.batches import generate_responses, pad_id
from scalingdown.families.causal.chat import encode_rows, eos_ids
from scalingdown.families.causal.models import load_causal
from scalingdown.models.loading import inference_device, load_tokenizer

GENERATED = OutputKind("generate", ("response",), (), "`response` column")


class Generator:
    """Greedy answers of a causal LM to prompts (through its chat template), at most `max_new_tokens` each."""

    def __init__(self, model: str, max_new_tokens: int, max_length: int) -> None:
        self.columns = ["response"]
        self.tokenizer = load_tokenizer(model)
        self.model = cast(Any, load_causal(model)).to(inference_device()).eval()
        self.max_new_tokens = max_new_tokens
        self.max_length = max_length
        self.eos = eos_ids(self.tokenizer, self.model.generation_config)

    def annotate(self, texts: list[str], batch_size: int) -> dict[str, list[object]]:
        """The answer to each prompt, without its end-of-sequence token."""
        prompts, _ = encode_rows(self.tokenizer, texts, [None] * len(texts), self.max_length, 1, "prompts")
        answers = generate_responses(
            self.model, prompts, self.max_new_tokens, batch_size, pad_id(self.tokenizer), self.eos, None
        )
        decoded = self.tokenizer.batch_decode(answers, skip_special_tokens=True)
        return {"response": [text.strip() for text in decoded]}


def generate_file(
    model: str,
    input_path: str | Path,
    output_path: str | Path,
    prompt_column: str = "prompt",
    force: bool = False,
    batch_size: int = 8,
    chunk_size: int = 1_000,
    max_new_tokens: int = 128,
    max_length: int = 1024,
) -> int:
    """Answer every row's `prompt_column` with the causal LM `model`; write `output_path`; the rows written."""
    return annotate_file(
        lambda: Generator(model, max_new_tokens, max_length),
        input_path,
        output_path,
        prompt_column,
        force,
        batch_size,
        chunk_size,
        GENERATED,
    ).rows
