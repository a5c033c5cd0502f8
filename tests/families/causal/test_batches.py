"""Causal batches: right padding, labels on the response only, the one-token shift (against a hand computation), and
responses cut at the first end-of-sequence token."""

import torch

from scalingdown.families.causal.batches import left_padded, right_padded, shifted, until_eos
from scalingdown.kd.losses import IGNORE_INDEX as X


def test_labels_cover_the_response_only_and_padding_goes_right():
    batch = right_padded([[5, 6, 7], [5, 6]], [[8, 1], [9]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 1], [5, 6, 9, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[X, X, X, 8, 1], [X, X, 9, X, X]]


def test_the_shift_pairs_each_position_with_the_next_token():
    batch = right_padded([[5, 6, 7], [5, 6]], [[8, 1], [9]], pad_id=0)
    # position t's logits predict labels[t + 1]: row 0 predicts 8 at position 2 and 1 at position 3, row 1 predicts 9
    # at position 1 (by hand); each position's logits are set to its own index so the selection can be read off.
    logits = torch.arange(5.0)[None, :, None].expand(2, 5, 3) + torch.tensor([[[0.0]], [[10.0]]])
    picked, targets = shifted(logits, batch["labels"])
    assert targets.tolist() == [8, 1, 9]
    assert picked[:, 0].tolist() == [2.0, 3.0, 11.0]


def test_an_eos_equal_to_the_padding_id_is_still_learnt():
    # SmolLM2 pads with its end-of-sequence token: labels come from lengths, not from comparing ids with padding
    batch = right_padded([[5, 6, 7], [5]], [[8, 2], [9, 2]], pad_id=2)
    assert batch["labels"].tolist() == [[X, X, X, 8, 2], [X, 9, 2, X, X]]
    assert shifted(torch.zeros(2, 5, 4), batch["labels"])[1].tolist() == [8, 2, 9, 2]


def test_generation_prompts_are_padded_on_the_left():
    batch = left_padded([[5, 6, 7], [9]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]


def test_a_generation_ends_at_its_first_eos():
    assert until_eos([4, 5, 2, 7, 2], {2}) == [4, 5, 2]
    assert until_eos([4, 5, 6], {2, 3}) == [4, 5, 6]
