"""A causal LM reads one sequence: the prompt, rendered through the tokenizer's chat template when it has one, then
the response, which alone is learnt. This module turns (prompt, response) texts into token ids.

With a chat template the prompt is the user turn with the generation prompt (`add_generation_prompt=True`) and the
full sequence is the same conversation with the assistant turn; the response is what the full text adds after the
prompt, up to and including the first end-of-sequence token (a template's text after it, e.g. a newline, is not
learnt: generation stops there). The full text is tokenised once and cut where the prompt's tokens end, so no merge
across the boundary can shift a target; a template whose prompt is not a prefix of its conversation is refused.
Without a chat template the sequence is `prompt + " " + response + EOS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scalingdown.pipeline.errors import UserError

log = logging.getLogger(__name__)


class ChatTemplateError(UserError, ValueError):
    """A tokenizer's chat template renders a prompt that does not start the conversation it belongs to."""


@dataclass(frozen=True)
class Encoded:
    """One row as token ids: the prompt's and the response's (the response ends with EOS unless truncated)."""

    prompt: list[int]
    response: list[int]

    @property
    def ids(self) -> list[int]:
        """The whole sequence the model reads."""
        return self.prompt + self.response


def eos_ids(tokenizer: Any, generation_config: Any = None) -> set[int]:
    """The token ids that end a response: the tokenizer's EOS and any the generation config names."""
    ids = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    configured = getattr(generation_config, "eos_token_id", None)
    if configured is not None:
        ids.update(int(i) for i in (configured if isinstance(configured, list) else [configured]))
    if not ids:
        raise UserError(f"the tokenizer {type(tokenizer).__name__} has no end-of-sequence token")
    return ids


def prompt_text(tokenizer: Any, prompt: str, system: str | None = None) -> str:
    """The text the model reads before it answers `prompt`."""
    if not tokenizer.chat_template:
        return prompt
    return str(tokenizer.apply_chat_template(_turns(prompt, system), add_generation_prompt=True, tokenize=False))


def _turns(prompt: str, system: str | None, response: str | None = None) -> list[dict[str, str]]:
    turns = [{"role": "system", "content": system}] if system else []
    turns.append({"role": "user", "content": prompt})
    if response is not None:
        turns.append({"role": "assistant", "content": response})
    return turns


def encode_pair(tokenizer: Any, prompt: str, response: str, system: str | None = None) -> Encoded:
    """Token ids of a prompt and of its response (see the module docstring)."""
    eos = eos_ids(tokenizer)
    if not tokenizer.chat_template:
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full = tokenizer(f"{prompt} {response}", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    else:
        rendered = prompt_text(tokenizer, prompt, system)
        conversation = str(tokenizer.apply_chat_template(_turns(prompt, system, response), tokenize=False))
        if not conversation.startswith(rendered):
            raise ChatTemplateError(
                f"the chat template of {type(tokenizer).__name__} renders a prompt that does not start the "
                f"conversation ({rendered[-40:]!r} vs {conversation[: len(rendered)][-40:]!r}); "
                "a causal LM needs a template whose generation prompt ends where the answer begins"
            )
        prompt_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        full = tokenizer(conversation, add_special_tokens=False)["input_ids"]
    if full[: len(prompt_ids)] != prompt_ids:
        raise ChatTemplateError(
            f"the tokens of the prompt change when its response follows ({type(tokenizer).__name__}); "
            "the prompt must end on a token boundary (e.g. with a newline or a space)"
        )
    response_ids = full[len(prompt_ids) :]
    end = next((index for index, token in enumerate(response_ids) if token in eos), None)
    response_ids = [*response_ids, int(tokenizer.eos_token_id)] if end is None else response_ids[: end + 1]
    return Encoded(list(prompt_ids), list(response_ids))


def truncate(encoded: Encoded, max_length: int, max_target_length: int) -> Encoded:
    """At most `max_length` prompt tokens (the last ones: the generation prompt ends it) and `max_target_length`
    response tokens (the first ones)."""
    prompt = encoded.prompt[-max_length:] if len(encoded.prompt) > max_length else encoded.prompt
    return Encoded(prompt, encoded.response[:max_target_length])


def encode_rows(
    tokenizer: Any,
    prompts: list[str],
    responses: list[str | None],
    max_length: int,
    max_target_length: int,
    what: str,
    system: str | None = None,
) -> tuple[list[list[int]], list[list[int] | None]]:
    """Prompt ids and response ids (None where a row has no response: a transfer row) of every row, truncated as
    `truncate` says; logs how many were truncated."""
    prompt_ids: list[list[int]] = []
    response_ids: list[list[int] | None] = []
    cut = 0
    for prompt, response in zip(prompts, responses, strict=True):
        if response is None:
            ids = tokenizer(prompt_text(tokenizer, prompt, system), add_special_tokens=False)["input_ids"]
            encoded = Encoded(list(ids), [])
        else:
            encoded = encode_pair(tokenizer, prompt, response, system)
        short = truncate(encoded, max_length, max_target_length)
        cut += short != encoded
        prompt_ids.append(short.prompt)
        response_ids.append(None if response is None else short.response)
    if cut:
        log.warning(
            "%d of %d %s were truncated (prompt > %d or response > %d tokens)",
            cut,
            len(prompts),
            what,
            max_length,
            max_target_length,
        )
    return prompt_ids, response_ids
