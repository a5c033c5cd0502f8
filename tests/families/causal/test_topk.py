"""The causal top-k cache columns: for each response token, the teacher's distribution at the position before it
(checked against one unpadded pass per row), ids in ascending order, the tail mass, over the shared vocabulary."""

import numpy as np
import pytest
import torch

from scalingdown.families.causal.topk import captured_mass, topk_columns, topk_of
from tests.families.causal.conftest import tiny_llama

VOCAB = 50


def test_each_response_token_gets_the_teachers_distribution_before_it():
    teacher = tiny_llama(VOCAB + 6, seed=3).eval()  # six padding rows past the shared vocabulary
    prompts, responses = [[5, 6, 7], [9, 10], [11]], [[8, 1], [12, 13, 14, 1], [1]]
    columns = topk_columns(teacher, prompts, responses, k=4, shared=VOCAB, batch_size=2, padding=0)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        with torch.no_grad():
            logits = teacher(torch.tensor([prompt + response])).logits[0, :, :VOCAB]
        expected = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)  # position t predicts token t + 1
        ids = columns["topk_ids"][row].reshape(-1, 4)
        values = columns["topk_logprobs"][row].reshape(-1, 4).astype(np.float32)
        assert columns["target_ids"][row].tolist() == response
        assert (np.diff(ids, axis=1) > 0).all()  # ascending ids
        assert set(ids[0]) == set(expected[0].topk(4).indices.tolist())
        np.testing.assert_allclose(values, expected.gather(-1, torch.from_numpy(ids).long()).numpy(), atol=2e-3)
        np.testing.assert_allclose(columns["tail_mass"][row], 1 - np.exp(values).sum(axis=1), atol=5e-3)


def test_topk_of_sorts_ids_and_permutes_their_logprobs_alike():
    logprobs = torch.log_softmax(torch.tensor([[0.0, 3.0, 1.0, 2.0, -1.0]]), dim=-1)
    ids, values, tail = topk_of(logprobs, 2)
    assert ids.tolist() == [[1, 3]]
    torch.testing.assert_close(values, logprobs[:, [1, 3]])
    torch.testing.assert_close(tail, 1 - logprobs[:, [1, 3]].exp().sum(dim=-1))


def test_captured_mass_summarises_every_token():
    mass = captured_mass([np.array([0.1, 0.2], np.float32), np.array([0.5], np.float32)])
    assert mass["mean"] == pytest.approx(1 - 0.8 / 3)
    assert mass["p5"] == pytest.approx(np.percentile([0.9, 0.8, 0.5], 5))
