"""The real release files in ../shared/datasets: every one loads, with the counts SOURCES.md records.

These run in CI (the `shared_datasets` fixture fails there when the folder is missing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scalingdown.data.inspect import inspect_data
from scalingdown.data.schema import input_keys
from scalingdown.data.store import SPLITS, read_split
from scalingdown.pipeline.specs.definitions import PrepareSpec
from scalingdown.stages.prepare import prepare

pytestmark = pytest.mark.shared_data

# file: rows, unique rows, (negative, neutral, positive) as loaded
PHRASEBANK = {
    "Sentences_50Agree.txt": (4846, 4840, (604, 2879, 1363)),
    "Sentences_66Agree.txt": (4217, 4211, (514, 2535, 1168)),
    "Sentences_75Agree.txt": (3453, 3448, (420, 2146, 887)),
    "Sentences_AllAgree.txt": (2264, 2259, (303, 1391, 570)),
}


@pytest.mark.parametrize("name", PHRASEBANK)
def test_phrasebank_release_files(shared_datasets: Path, name: str):
    rows, unique, (negative, neutral, positive) = PHRASEBANK[name]
    result = inspect_data("phrasebank", {"path": str(shared_datasets / "financial_phrasebank" / name)})
    assert (result["rows"], result["unique_rows"]) == (rows, unique)
    assert result["label_counts"] == {"negative": negative, "neutral": neutral, "positive": positive}


def test_phrasebank_50agree_has_two_sentences_with_two_labels(shared_datasets: Path):
    result = inspect_data(
        "phrasebank", {"path": str(shared_datasets / "financial_phrasebank" / "Sentences_50Agree.txt")}
    )
    assert (result["duplicates_dropped"], result["conflicting_texts"], result["label_conflicts_dropped"]) == (6, 2, 4)
    assert result["rows_kept"] == 4836


def test_aqua_rat_dev_and_test(shared_datasets: Path):
    folder = shared_datasets / "aqua_rat"
    result = inspect_data("aqua_rat", {"files": {"train": str(folder / "dev.json"), "test": str(folder / "test.json")}})
    assert result["splits"]["train"] == {"rows": 254, "label_counts": dict(zip("ABCDE", (69, 66, 43, 50, 26)))}
    assert result["splits"]["test"] == {"rows": 254, "label_counts": dict(zip("ABCDE", (63, 58, 46, 53, 34)))}


def test_winogrande_dev_and_train_s_with_their_labels_files(shared_datasets: Path):
    folder = shared_datasets / "winogrande"
    dev = inspect_data("winogrande", {"path": str(folder / "dev.jsonl"), "labels_path": str(folder / "dev-labels.lst")})
    assert (dev["rows"], dev["label_counts"]) == (1267, {"0": 628, "1": 639})
    train = inspect_data(
        "winogrande", {"path": str(folder / "train_s.jsonl"), "labels_path": str(folder / "train_s-labels.lst")}
    )
    assert (train["rows"], train["label_counts"]) == (640, {"0": 320, "1": 320})


def test_social_iqa_dev_with_its_labels_file(shared_datasets: Path):
    folder = shared_datasets / "social_iqa"
    result = inspect_data(
        "social_iqa", {"path": str(folder / "dev.jsonl"), "labels_path": str(folder / "dev-labels.lst")}
    )
    assert (result["rows"], result["label_counts"]) == (1954, {"0": 643, "1": 654, "2": 657})


def test_triviaqa_llm_foundry_subset(shared_datasets: Path):
    result = inspect_data(
        "triviaqa", {"path": str(shared_datasets / "triviaqa" / "llm-foundry" / "triviaqa_sm_sub.jsonl")}
    )
    assert (result["rows"], result["unique_rows"]) == (3000, 3000)


def test_prepared_phrasebank_and_winogrande_share_no_text_between_splits(shared_datasets: Path, tmp_path: Path):
    winogrande = shared_datasets / "winogrande"
    cases = {
        "classification": (
            "phrasebank",
            {"path": str(shared_datasets / "financial_phrasebank" / "Sentences_50Agree.txt")},
            4836,
        ),
        "multiple_choice": (
            "winogrande",
            {"files": {"train": str(winogrande / "train_s.jsonl"), "test": str(winogrande / "dev.jsonl")}},
            1905,
        ),
    }
    for task_type, (loader, options, kept) in cases.items():
        spec = PrepareSpec.from_dict(
            {
                "task": "t",
                "type": task_type,
                "labels": None,
                "seed": 13,
                "format": 2,
                "data": {
                    "loader": loader,
                    "options": options,
                    "split": {"validation": 0.1, "test": 0.2},
                    "data_portion": 1.0,
                },
            }
        )
        manifest = prepare(spec, tmp_path / loader)
        assert manifest["rows_kept"] == kept == sum(split["rows"] for split in manifest["splits"].values())
        keys = [key for split in SPLITS for key in input_keys(read_split(tmp_path / loader, split), task_type)]
        assert len(keys) == len(set(keys))
