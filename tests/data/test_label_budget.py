"""Label budgets and transfer text: stratified seeded budgets, de-duplicated transfer rows, CE masked on unlabelled
rows, keys that share a teacher with every label and keep configs without budgets as they were."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from scalingdown.data.budget import LABELLED, apply_budget, labelled_rows
from scalingdown.data.store import read_manifest, read_split
from scalingdown.data.transfer import transfer_rows
from scalingdown.kd.losses import UNLABELLED, classification_kd_loss
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.stages.prepare import prepare
from tests.pipeline.conftest import budget_config, resolved_tiny_config


def _train(counts: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, count in counts.items() for _ in range(count)]
    ids = [f"r{index}" for index in range(len(labels))]
    return pd.DataFrame({"row_id": ids, "text": [f"text of {row}" for row in ids], "label": labels})


TRAIN = _train({"negative": 50, "neutral": 30, "positive": 20})


def _labelled_ids(budget: float, seed: int) -> set[str]:
    return set(labelled_rows(apply_budget(TRAIN, budget, seed, "label"))["row_id"])


def test_a_budget_is_stratified_and_the_same_for_the_same_seed():
    frame = apply_budget(TRAIN, 0.1, 13, "label")
    kept = labelled_rows(frame)
    assert kept["label"].value_counts().to_dict() == {"negative": 5, "neutral": 3, "positive": 2}
    assert frame["label"].isna().sum() == 90 and list(frame["row_id"]) == list(TRAIN["row_id"])
    assert _labelled_ids(0.1, 13) == set(kept["row_id"])
    assert _labelled_ids(0.1, 14) != set(kept["row_id"])


def test_budgets_are_nested_and_a_count_keeps_that_many_rows():
    assert _labelled_ids(0.1, 13) < _labelled_ids(0.25, 13) < _labelled_ids(0.5, 13)
    assert len(_labelled_ids(40, 13)) == 40
    assert apply_budget(TRAIN, None, 13, "label")[LABELLED].all()


def test_transfer_text_in_validation_or_test_is_dropped_and_counted():
    source = pd.DataFrame(
        {"row_id": ["a", "b", "c", "d", "e"], "text": ["new one", "a test text", "a train text", "new one", "new two"]}
    )
    train = pd.DataFrame({"text": ["a train text"]})
    kept, counts = transfer_rows(source, train, [pd.DataFrame({"text": ["a test text"]}), pd.DataFrame({"text": []})])
    assert list(kept["text"]) == ["new one", "new two"]
    assert (counts.dropped_in_evaluation, counts.dropped_in_train, counts.repeats_dropped) == (1, 1, 1)


def test_cross_entropy_leaves_out_unlabelled_rows_and_kd_covers_every_row():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, UNLABELLED, 1])
    by_hand = -(F.log_softmax(logits[0], -1)[0] + F.log_softmax(logits[2], -1)[1]) / 2
    terms = classification_kd_loss(logits, labels, None, ce_weight=0.5, kd_weight=0.5, temperature=2.0)
    assert torch.isclose(terms["ce"], by_hand)
    teacher = torch.softmax(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), -1)
    with_teacher = classification_kd_loss(logits, labels, teacher, 0.5, 0.5, 2.0)
    changed = logits.clone()
    changed[1] = torch.tensor([3.0, 0.0, 0.0])  # only the unlabelled row changes
    moved = classification_kd_loss(changed, labels, teacher, 0.5, 0.5, 2.0)
    assert torch.isclose(moved["ce"], with_teacher["ce"]) and not torch.isclose(moved["kl"], with_teacher["kl"])


def test_a_batch_without_labels_has_no_cross_entropy():
    logits = torch.zeros(2, 3, requires_grad=True)
    terms = classification_kd_loss(logits, torch.tensor([UNLABELLED, UNLABELLED]), None, 0.5, 0.5, 2.0)
    terms["loss"].backward()
    assert float(terms["ce"].detach()) == 0.0 and float(logits.grad.abs().sum()) == 0.0


def test_a_config_without_budgets_keeps_its_prepare_spec():
    spec = (
        StageSpecs(Plan(resolved_tiny_config()))
        .prepare(Plan(resolved_tiny_config()).tasks["sentiment"].data_key)
        .to_dict()
    )
    assert "label_budget" not in spec["data"] and "transfer" not in spec["data"]


def test_a_teacher_with_every_label_is_shared_and_its_cache_is_keyed_by_the_students_budget():
    plain = Plan(resolved_tiny_config()).tasks["sentiment"].teachers["big"]
    half = Plan(budget_config(0.5)).tasks["sentiment"]
    quarter = Plan(budget_config(0.25)).tasks["sentiment"]
    assert half.teachers["big"].key == quarter.teachers["big"].key == plain.key
    assert len({plain.logits_key, half.teachers["big"].logits_key, quarter.teachers["big"].logits_key}) == 3
    assert half.data_key != quarter.data_key != plain.data_key
    # without its own budget the teacher learns from the students' labelled rows (their data: no transfer text)
    own = Plan(budget_config(0.5, teacher_budget=None)).tasks["sentiment"].teachers["big"]
    assert own.key != plain.key and own.data_key == half.data_key


def test_a_student_only_change_keeps_every_teacher_and_cache_key():
    config = budget_config(0.5)
    changed = copy.deepcopy(config)
    changed["tasks"]["sentiment"]["students"]["distilled"]["loss"] = {"ce": 0.2, "kd": 0.8, "temperature": 2.0}
    before, after = Plan(config).tasks["sentiment"], Plan(changed).tasks["sentiment"]
    assert [(t.key, t.logits_key) for t in before.teachers.values()] == [
        (t.key, t.logits_key) for t in after.teachers.values()
    ]
    assert before.data_key == after.data_key


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The tiny task's data with a budget of 0.5 and a text-only transfer file holding one test text (students),
    and with every label and no transfer text (the teacher)."""
    workdir = tmp_path_factory.mktemp("budget-data")
    plain = Plan(resolved_tiny_config())
    first = str(workdir / "plain")
    prepare(StageSpecs(plain).prepare(plain.tasks["sentiment"].data_key), first)
    test_text = read_split(first, "test")["text"].iloc[0]
    transfer = workdir / "transfer.csv"
    pd.DataFrame({"text": [test_text, "Brand new sentence one.", "Brand new sentence two."]}).to_csv(
        transfer, index=False
    )
    config = budget_config(0.5)
    config["tasks"]["sentiment"]["data"]["transfer"] = {"loader": "generic", "options": {"path": str(transfer)}}
    plan = Plan(config)
    task = plan.tasks["sentiment"]
    students, teacher = str(workdir / "students"), str(workdir / "teacher")
    prepare(StageSpecs(plan).prepare(task.data_key), students)
    prepare(StageSpecs(plan).prepare(task.teachers["big"].data_key), teacher)
    return {"plain": first, "students": students, "teacher": teacher}


def test_transfer_rows_are_appended_unlabelled_and_counted_in_the_manifest(prepared):
    manifest = read_manifest(prepared["students"])
    train = read_split(prepared["students"], "train")
    plain = read_split(prepared["plain"], "train")
    assert manifest["transfer"]["dropped_in_evaluation"] == 1 and manifest["transfer"]["rows_kept"] == 2
    assert manifest["labelled_rows"] == round(0.5 * len(plain)) == int(train[LABELLED].sum())
    assert (
        manifest["transfer_rows"]
        == len(plain) - manifest["labelled_rows"] + 2
        == len(train) - manifest["labelled_rows"]
    )
    assert train.loc[~train[LABELLED], "label"].isna().all()


def test_no_transfer_or_teacher_training_text_reaches_validation_or_test(prepared):
    scored = set()
    for split in ("validation", "test"):
        texts = [set(read_split(prepared[name], split)["text"]) for name in ("plain", "students", "teacher")]
        assert texts[0] == texts[1] == texts[2]
        scored |= texts[0]
    assert not scored & set(read_split(prepared["students"], "train")["text"])
    assert not scored & set(read_split(prepared["teacher"], "train")["text"])
    teacher = read_split(prepared["teacher"], "train")  # every label: the data of an experiment without budgets
    assert teacher.equals(read_split(prepared["plain"], "train")) and len(labelled_rows(teacher)) == len(teacher)
