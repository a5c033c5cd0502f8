"""The tokenizer gate: token ids must mean the same tokens; padding rows of an output layer are allowed (and
dropped); anything else is refused naming both models, with the sequence-level way out."""

import pytest

from scalingdown.families.causal.vocabulary import VocabularyMismatch, shared_size, tokens_by_id, vocabulary
from scalingdown.models.loading import load_tokenizer
from tests.families.causal.conftest import tiny_llama


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny:llama-l1-h16")


def test_padding_rows_past_the_vocabulary_are_allowed_and_dropped(tokenizer):
    size = len(tokenizer)
    teacher = vocabulary(tiny_llama(size + 64), tokenizer)  # rounded up, as Qwen's 152,064 rows for 151,665 tokens
    student = vocabulary(tiny_llama(size), tokenizer)
    assert shared_size("big", teacher, "small", student) == size


def test_a_different_token_for_one_id_is_refused_naming_both_models(tokenizer):
    other = load_tokenizer("tiny:llama-l1-h16")
    other.add_tokens(["<extra>"])
    teacher = vocabulary(tiny_llama(len(other)), other)
    student = vocabulary(tiny_llama(len(tokenizer)), tokenizer)
    with pytest.raises(VocabularyMismatch, match=r"teacher big and student small tokenise differently.*targets: gen"):
        shared_size("big", teacher, "small", student)


def test_an_output_layer_narrower_than_the_vocabulary_is_refused(tokenizer):
    teacher = vocabulary(tiny_llama(len(tokenizer)), tokenizer)
    student = vocabulary(tiny_llama(len(tokenizer) - 10), tokenizer)
    with pytest.raises(VocabularyMismatch, match="student small has 30512 output rows for a vocabulary of 30522"):
        shared_size("big", teacher, "small", student)


def test_tokens_are_listed_by_id(tokenizer):
    tokens = tokens_by_id(tokenizer)
    assert tokens[tokenizer.eos_token_id] == "[SEP]" and len(tokens) == len(tokenizer)
