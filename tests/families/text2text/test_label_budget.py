"""Label budgets on text-to-text tasks: transfer rows lose their answers, the teacher's cache forces it on its own
generations there, and the student learns those through the divergence alone (CE on the gold answers only)."""

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from scalingdown.data.budget import LABELLED, apply_budget
from scalingdown.families.text2text.fit import CE_ROWS, Seq2SeqKDCollator, TeacherRows, training_targets
from scalingdown.families.text2text.inference import generate_ids
from scalingdown.families.text2text.rows import encoded_split
from scalingdown.kd.logit_store import read_logits
from scalingdown.kd.losses import IGNORE_INDEX, seq2seq_kd_terms
from scalingdown.models.loading import load_seq2seq, load_tokenizer
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.stages.distill import distill
from tests.conftest import REPO
from tests.families.text2text.conftest import (
    distill_spec,
    math_frame,
    prepared_data,
    qa_frame,
    text_fields,
    write_student,
    write_topk_cache,
)

sys.path.insert(0, str(REPO / "bench"))
import harness


def test_a_budget_empties_the_answers_of_the_transfer_rows_of_a_generative_task():
    frame = apply_budget(qa_frame(20), 0.25, 13, None, "generative_qa")
    kept, transfer = frame[frame[LABELLED]], frame[~frame[LABELLED]]
    assert (len(kept), len(transfer)) == (5, 15)
    assert kept["answer"].notna().all() and transfer["answer"].isna().all() and transfer["aliases"].isna().all()
    assert transfer["question"].notna().all(), "the questions stay: they are the transfer text"


def test_a_budget_on_math_empties_the_rationale_and_the_answer_letter():
    frame = apply_budget(math_frame(12), 4, 13, "answer", "math")
    transfer = frame[~frame[LABELLED]]
    assert len(transfer) == 8 and transfer["rationale"].isna().all() and transfer["answer"].isna().all()


def _terms(ce_rows: torch.Tensor | None) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 11, generator=generator)
    labels = torch.tensor([[1, 2, 3, IGNORE_INDEX], [4, 5, IGNORE_INDEX, IGNORE_INDEX], [6, 7, 8, 9]])
    top_ids = torch.randint(0, 11, (3, 4, 5), generator=generator)
    top = torch.log_softmax(torch.randn(3, 4, 11, generator=generator), -1).gather(-1, top_ids)
    teacher = (top_ids, top, torch.full((3, 4), 0.01))
    return seq2seq_kd_terms(logits, labels, [teacher], 1.0, ce_rows=ce_rows) | {"logits": logits, "labels": labels}


def test_ce_learns_only_the_rows_with_gold_targets_and_the_divergence_every_row():
    every, some = _terms(None), _terms(torch.tensor([True, False, True]))
    logprobs = torch.log_softmax(every["logits"], -1)
    gold = [(0, 0, 1), (0, 1, 2), (0, 2, 3), (2, 0, 6), (2, 1, 7), (2, 2, 8), (2, 3, 9)]
    expected = -torch.stack([logprobs[row, position, token] for row, position, token in gold]).mean()
    assert torch.allclose(some["ce"], expected)
    assert not torch.allclose(every["ce"], expected)
    assert torch.allclose(some["kl"], every["kl"])
    assert float(_terms(torch.tensor([False, False, False]))["ce"]) == 0.0


def _teacher(targets: list[list[int]], generated: bool = False) -> TeacherRows:
    return TeacherRows("big", 4, generated, {"target_ids": [np.asarray(ids) for ids in targets]})


def test_training_targets_take_the_teachers_generations_on_transfer_rows_only():
    gold = [[5, 1], None, [7, 1]]
    targets, ce_rows = training_targets([_teacher([[5, 1], [9, 9, 1], [7, 1]])], gold)
    assert (targets, ce_rows) == ([[5, 1], [9, 9, 1], [7, 1]], [True, False, True])
    targets, ce_rows = training_targets([_teacher([[3, 1], [9, 1], [2, 1]], generated=True)], gold)
    assert (targets, ce_rows) == ([[3, 1], [9, 1], [2, 1]], [True, True, True])
    with pytest.raises(ValueError, match="exactly one teacher"):
        training_targets([_teacher([[5, 1], [9, 1], [7, 1]]), _teacher([[5, 1], [8, 1], [7, 1]])], gold)


def test_the_collator_stacks_which_rows_the_ce_term_learns():
    tokenizer = load_tokenizer("tiny:t5-l1-h16")
    collate = Seq2SeqKDCollator(tokenizer, load_seq2seq("tiny:t5-l1-h16"))
    features = [
        {"input_ids": [5, 6, 1], "attention_mask": [1, 1, 1], "labels": [7, 1], CE_ROWS: True},
        {"input_ids": [5, 1], "attention_mask": [1, 1], "labels": [8, 9, 1], CE_ROWS: False},
    ]
    batch = collate(features)
    assert batch[CE_ROWS].tolist() == [True, False] and batch["labels"].shape == (2, 3)


@pytest.mark.slow
def test_a_budget_caches_the_teachers_generations_on_transfer_rows_and_the_student_learns_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    data = prepared_data(tmp_path / "data", "generative_qa", sizes=(12, 4, 4), label_budget=0.25)
    teacher = "tiny:t5-l2-h32"
    cache, entry = write_topk_cache(tmp_path, data, "generative_qa", teacher, "gold")
    frame, fingerprint = read_logits(cache)
    tokenizer, model = load_tokenizer(teacher), load_seq2seq(teacher)
    prompt = text_fields("generative_qa")["prompt"]
    _, sources, gold = encoded_split(data, "train", "generative_qa", prompt, tokenizer, 48, 12)
    transfer = [index for index, ids in enumerate(gold) if ids is None]
    assert len(transfer) == 9 and fingerprint["splits"]["train"]["rows"] == 12
    cached = [ids.tolist() for ids in frame["target_ids"]]
    generated = generate_ids(model, [sources[index] for index in transfer], 12, 8, None)
    assert [cached[index] for index in transfer] == generated
    assert all(cached[index] == ids for index, ids in enumerate(gold) if ids is not None)
    with caplog.at_level(logging.INFO, logger="scalingdown.families.text2text.fit"):
        distill(
            distill_spec("generative_qa", [entry], hidden=0.0),
            str(data),
            str(write_student(tmp_path, "generative_qa")),
            [str(cache)],
            str(tmp_path / "student"),
            str(tmp_path / "student.json"),
            str(tmp_path / "ck"),
        )
    assert "training on 12 rows, 3 of them with gold targets" in caplog.text
    logged = [row for row in json.loads((tmp_path / "student.json").read_text()) if "loss" in row]
    assert logged and all(np.isfinite([row["loss_ce"], row["loss_kl"]]).all() for row in logged)


def _finqa_plan(experiment: str) -> Plan:
    raw = yaml.safe_load((REPO / "config" / "experiments" / f"{experiment}.yaml").read_text(encoding="utf-8"))
    raw["tasks"] = {"finqa": raw["tasks"]["finqa"]}  # the other tasks read ../shared
    return Plan(harness.resolved_config(raw, REPO))


def test_the_budget_experiment_reuses_the_teacher_of_the_offline_experiment_with_its_own_cache():
    offline, budget = _finqa_plan("seq2seq-offline"), _finqa_plan("seq2seq-budget")
    for seed in (13, 14, 15):
        (before,), (after,) = (
            [task for task in plan.tasks.values() if task.seed == seed] for plan in (offline, budget)
        )
        assert after.budget == 0.1 and after.data_key != before.data_key
        assert after.teachers["minilm"].key == before.teachers["minilm"].key
        assert after.teachers["minilm"].logits_key != before.teachers["minilm"].logits_key
