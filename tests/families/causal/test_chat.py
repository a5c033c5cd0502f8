"""Prompts through the chat template, responses cut after their end-of-sequence token, and templates whose prompt
does not start the conversation refused."""

import pytest

from scalingdown.families.causal.chat import ChatTemplateError, Encoded, encode_pair, encode_rows, truncate
from scalingdown.models.loading import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny:llama-l1-h16")


def test_the_prompt_is_the_user_turn_and_the_response_ends_with_eos(tokenizer):
    encoded = encode_pair(tokenizer, "What is the capital of Japan?", "Tokyo")
    assert tokenizer.convert_ids_to_tokens(encoded.prompt) == [
        "user", ":", "what", "is", "the", "capital", "of", "japan", "?", "[SEP]", "assistant", ":",
    ]  # fmt: skip
    assert tokenizer.convert_ids_to_tokens(encoded.response) == ["tokyo", "[SEP]"]
    assert (
        encoded.ids
        == tokenizer(
            tokenizer.apply_chat_template(
                [
                    {"role": "user", "content": "What is the capital of Japan?"},
                    {"role": "assistant", "content": "Tokyo"},
                ],
                tokenize=False,
            ),
            add_special_tokens=False,
        )["input_ids"][: len(encoded.ids)]
    )


def test_what_the_template_writes_after_the_eos_is_not_learnt(tokenizer):
    # the tiny template ends a turn with "[SEP] " (and SmolLM2's with "<|im_end|>\n"): nothing after the EOS is kept
    assert encode_pair(tokenizer, "q", "a b").response[-1] == tokenizer.eos_token_id


def test_without_a_chat_template_the_sequence_is_prompt_response_eos(tokenizer):
    plain = load_tokenizer("tiny:llama-l1-h16")
    plain.chat_template = None
    encoded = encode_pair(plain, "question", "answer")
    assert plain.convert_ids_to_tokens(encoded.ids) == ["question", "answer", "[SEP]"]


def test_a_template_whose_prompt_does_not_start_the_conversation_is_refused(tokenizer):
    broken = load_tokenizer("tiny:llama-l1-h16")
    broken.chat_template = (
        "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} [SEP] {% endfor %}"
        "{% if add_generation_prompt %}reply now:{% endif %}"
    )
    with pytest.raises(ChatTemplateError, match="does not start the conversation"):
        encode_pair(broken, "q", "a")


def test_truncation_keeps_the_end_of_the_prompt_and_the_start_of_the_response():
    assert truncate(Encoded([1, 2, 3, 4], [5, 6, 7]), 2, 2) == Encoded([3, 4], [5, 6])


def test_rows_without_a_response_keep_their_prompt(tokenizer):
    prompts, responses = encode_rows(tokenizer, ["q one", "q two"], ["a", None], 32, 8, "rows")
    assert responses[1] is None and prompts[1][-2:] == tokenizer.convert_tokens_to_ids(["assistant", ":"])
