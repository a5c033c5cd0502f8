"""Every loader on fixtures written for the project, in each dataset's original format and through `datasets`."""

from __future__ import annotations

from pathlib import Path

import datasets
import pandas as pd
import pytest

from scalingdown.data.data_errors import DataError
from scalingdown.data.loaders import load
from scalingdown.data.schema import COLUMNS
from scalingdown.pipeline.names.loader_registry import LOADERS, DataConfigError, check_data
from tests.conftest import FIXTURE_DATASETS


def _load(loader: str, task_type: str, **options) -> dict[str, pd.DataFrame]:
    parts = load(loader, options, seed=0, task_type=task_type)
    for frame in parts.values():
        assert tuple(frame.columns) == COLUMNS[task_type]
        assert frame["row_id"].is_unique
    return parts


def test_phrasebank_release_file_is_read_as_latin1_with_line_ids():
    frame = _load("phrasebank", "classification", path=str(FIXTURE_DATASETS / "phrasebank" / "Sentences_Fixture.txt"))[
        "all"
    ]
    assert len(frame) == 17
    assert frame.loc[1, "text"] == "The café chain Kahvila Nord opened two outlets in Tampere ."
    assert frame.loc[1, "row_id"] == "Sentences_Fixture:2"
    assert set(frame["label"]) == {"negative", "neutral", "positive"}


def test_aqua_rat_options_lose_their_letters_and_files_map_to_splits():
    parts = _load(
        "aqua_rat",
        "math",
        files={
            "train": str(FIXTURE_DATASETS / "aqua_rat" / "dev.json"),
            "test": str(FIXTURE_DATASETS / "aqua_rat" / "test.json"),
        },
    )
    assert {name: len(frame) for name, frame in parts.items()} == {"train": 6, "test": 4}
    first = parts["train"].iloc[0]
    assert list(first["options"]) == ["10", "20", "30", "40", "80"]
    assert first["answer"] == "B" and first["rationale"] == "40 / 2 = 20 hours.\nAnswer B"
    assert first["row_id"] == "dev:1"


def test_winogrande_answers_inline_or_from_a_labels_file():
    folder = FIXTURE_DATASETS / "winogrande"
    inline = _load("winogrande", "multiple_choice", path=str(folder / "train_s.jsonl"))["all"]
    row = inline.iloc[0]
    assert row["context"].count("_") == 1 and row["question"] == ""
    assert list(row["options"]) == ["sofa", "doorway"] and row["label"] == 1
    labelled = _load(
        "winogrande", "multiple_choice", path=str(folder / "dev.jsonl"), labels_path=str(folder / "dev-labels.lst")
    )["all"]
    assert list(labelled["label"]) == [0, 1, 1, 0, 0]


def test_social_iqa_labels_are_one_based_in_their_own_file():
    folder = FIXTURE_DATASETS / "social_iqa"
    frame = _load(
        "social_iqa", "multiple_choice", path=str(folder / "dev.jsonl"), labels_path=str(folder / "dev-labels.lst")
    )["all"]
    assert list(frame["label"]) == [0, 1, 0, 2, 0, 1]
    assert frame.iloc[3]["options"][frame.iloc[3]["label"]] == "honest"
    assert frame.iloc[0]["question"] == "How would the coworker feel?"


@pytest.mark.parametrize(
    ("name", "first"),
    [
        (
            "fixture-dev.json",
            ("Which planet is known as the Red Planet?", "Mars", ["Mars", "Planet Mars", "The Red Planet"]),
        ),
        ("questions.jsonl", ("Which instrument has 88 keys?", "Piano", ["Piano", "Pianoforte"])),
        ("plain.jsonl", ("Which gas do plants absorb?", "carbon dioxide", ["carbon dioxide"])),
    ],
)
def test_triviaqa_shapes_normalise_to_question_answer_aliases(name, first):
    frame = _load("triviaqa", "generative_qa", path=str(FIXTURE_DATASETS / "triviaqa" / name))["all"]
    row = frame.iloc[0]
    assert (row["question"], row["answer"], list(row["aliases"])) == first
    assert all(answer in list(aliases) for answer, aliases in zip(frame["answer"], frame["aliases"], strict=True))


def test_generic_csv_through_datasets_maps_integer_labels_to_names(monkeypatch):
    calls = []
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    frame = _load(
        "generic",
        "classification",
        path=str(FIXTURE_DATASETS / "generic" / "reviews.csv"),
        text_column="review",
        label_column="stars",
        label_names=["negative", "neutral", "positive"],
        id_column="id",
    )["all"]
    assert (
        calls
        and calls[0][0] == ("csv",)
        and calls[0][1]["data_files"] == {"data": str(FIXTURE_DATASETS / "generic" / "reviews.csv")}
    )
    assert frame.iloc[0].to_dict() == {"row_id": "r1", "text": "The battery lasts all day", "label": "positive"}
    assert frame.iloc[2]["text"] == "Does what it says, nothing more"


def test_generic_jsonl_multiple_choice_with_one_based_labels():
    frame = _load(
        "generic",
        "multiple_choice",
        path=str(FIXTURE_DATASETS / "generic" / "choices.jsonl"),
        context_column="premise",
        question_column="ask",
        options_column="choices",
        label_column="gold",
        label_base=1,
    )["all"]
    assert list(frame["label"]) == [0, 1, 0]
    assert list(frame.iloc[1]["options"]) == ["Noon", "Dusk"] and frame.iloc[1]["row_id"] == "choices:2"


def test_generic_parquet_generative_qa_and_math(tmp_path: Path):
    qa = tmp_path / "qa.parquet"
    pd.DataFrame(
        {
            "q": ["Capital of Peru?", "Largest desert?"],
            "a": ["Lima", "Antarctica"],
            "alts": [["Lima", "Lima, Peru"], []],
        }
    ).to_parquet(qa)
    frame = _load(
        "generic", "generative_qa", path=str(qa), question_column="q", answer_column="a", aliases_column="alts"
    )["all"]
    assert [list(a) for a in frame["aliases"]] == [["Lima", "Lima, Peru"], ["Antarctica"]]
    assert list(frame["row_id"]) == ["qa:1", "qa:2"]  # Parquet rows are numbered as records
    math = tmp_path / "math.csv"
    math.write_text("problem,o1,o2,o3,key\nWhat is 3 * 3?,6,9,12,B\n")
    row = _load(
        "generic",
        "math",
        path=str(math),
        question_column="problem",
        option_columns=["o1", "o2", "o3"],
        answer_column="key",
    )["all"].iloc[0]
    assert (list(row["options"]), row["answer"], row["rationale"]) == (["6", "9", "12"], "B", "")


def _fake_hub(monkeypatch, rows: dict[str, datasets.Dataset]) -> list[dict]:
    calls: list[dict] = []

    def fake_load_dataset(path, name=None, split=None, revision=None, **kwargs):
        calls.append({"path": path, "name": name, "split": split, "revision": revision, **kwargs})
        return rows[split]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    return calls


def test_hub_option_passes_id_config_revision_and_split_to_load_dataset(monkeypatch):
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["negative", "neutral", "positive"])}
    )
    train = datasets.Dataset.from_dict(
        {"sentence": ["Profit rose .", "Costs rose ."], "label": [2, 0]}, features=features
    )
    calls = _fake_hub(monkeypatch, {"train": train})
    hub = {
        "id": "someone/phrasebank-copy",
        "config": "sentences_50agree",
        "revision": "abc123",
        "splits": {"all": "train"},
    }
    frame = _load("phrasebank", "classification", hub=hub)["all"]
    assert calls == [
        {"path": "someone/phrasebank-copy", "name": "sentences_50agree", "split": "train", "revision": "abc123"}
    ]
    assert list(frame["label"]) == ["positive", "negative"]  # class ids become names
    assert list(frame["row_id"]) == ["train:1", "train:2"]


def test_hub_rows_of_every_original_format(monkeypatch):
    rows = {
        "validation": datasets.Dataset.from_list(
            [
                {
                    "context": "Ann fed the cat.",
                    "question": "Why?",
                    "answerA": "it was hungry",
                    "answerB": "it was blue",
                    "answerC": "it was far",
                    "label": "1",
                }
            ]
        ),
        "train": datasets.Dataset.from_list(
            [
                {
                    "question": "Tallest animal?",
                    "question_id": "x1",
                    "answer": {"value": "Giraffe", "aliases": ["Giraffes"]},
                }
            ]
        ),
    }
    calls = _fake_hub(monkeypatch, rows)
    siqa = _load("social_iqa", "multiple_choice", hub={"id": "allenai/social_i_qa", "splits": {"train": "validation"}})
    assert siqa["train"].iloc[0]["label"] == 0
    trivia = _load(
        "triviaqa",
        "generative_qa",
        hub={"id": "mandarjoshi/trivia_qa", "config": "rc.nocontext", "splits": {"train": "train"}},
    )
    assert list(trivia["train"].iloc[0]["aliases"]) == ["Giraffe", "Giraffes"]
    assert [call["split"] for call in calls] == ["validation", "train"]


def test_hub_offline_error_names_the_dataset(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError) as error:
        load("winogrande", {"hub": {"id": "nobody/no-such-dataset", "splits": {"all": "train"}}}, 0, "multiple_choice")
    assert str(error.value).startswith("hub:nobody/no-such-dataset:train: could not load it")


@pytest.mark.parametrize(
    ("loader", "task_type", "options", "key", "fragment"),
    [
        ("nope", "classification", {}, "data.loader", "known loaders: aqua_rat"),
        ("aqua_rat", "classification", {"path": "x"}, "type", "produces math data"),
        ("phrasebank", "classification", {"path": "x", "pth": "y"}, "data.options.pth", "not an option"),
        ("phrasebank", "classification", {}, "data.options", "exactly one of path, files, hub"),
        (
            "phrasebank",
            "classification",
            {"path": "x", "hub": {"id": "a", "splits": {"all": "train"}}},
            "data.options",
            "exactly one",
        ),
        ("aqua_rat", "math", {"files": {"validation": "d", "test": "t"}}, "data.options.files", "no train split"),
        ("aqua_rat", "math", {"files": {"dev": "d"}}, "data.options.files.dev", "unknown split"),
        (
            "winogrande",
            "multiple_choice",
            {"files": {"train": "t"}, "labels_path": "l"},
            "data.options.labels_path",
            "goes with `path`",
        ),
        (
            "winogrande",
            "multiple_choice",
            {"files": {"train": "t"}, "labels_files": {"test": "l"}},
            "data.options.labels_files",
            "no data file",
        ),
        (
            "phrasebank",
            "classification",
            {"path": "x", "labels_path": "l"},
            "data.options.labels_path",
            "not an option",
        ),
        ("triviaqa", "generative_qa", {"hub": {"id": "t"}}, "data.options.hub.splits", "required"),
        (
            "triviaqa",
            "generative_qa",
            {"hub": {"id": "t", "splits": {"all": "train", "test": "validation"}}},
            "data.options.hub.splits",
            "cannot be combined",
        ),
        (
            "generic",
            "classification",
            {"path": "x", "context_column": "c"},
            "data.options.context_column",
            "not used by classification",
        ),
        (
            "generic",
            "multiple_choice",
            {"path": "x", "options_column": "o", "option_columns": ["a", "b"]},
            "data.options.option_columns",
            "not both",
        ),
        ("generic", "classification", {"path": "x", "label_names": "pos"}, "data.options.label_names", "a list"),
        ("generic", "multiple_choice", {"path": "x", "label_base": 2}, "data.options.label_base", "0 or 1"),
    ],
)
def test_loader_option_errors_name_the_key(loader, task_type, options, key, fragment):
    with pytest.raises(DataConfigError) as error:
        check_data(loader, task_type, options)
    assert error.value.key == key
    assert fragment in error.value.problem


def test_every_registered_loader_module_has_a_load_function():
    import importlib

    for info in LOADERS.values():
        assert callable(importlib.import_module(info.module).load)


def test_generic_instruction_rows_from_columns_or_chat_messages(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"instruction": "Say hi.", "output": "Hi!"}\n')
    frame = _load("generic", "instruction", path=str(pairs), prompt_column="instruction", response_column="output")
    assert frame["all"].iloc[0][["prompt", "response"]].tolist() == ["Say hi.", "Hi!"]
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        '{"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]}\n'
    )
    row = _load("generic", "instruction", path=str(chats), messages_column="messages")["all"].iloc[0]
    assert (row["prompt"], row["response"], row["row_id"]) == ("Name a colour.", "Blue.", "chats:1")


def test_generic_chat_messages_other_than_one_user_and_one_assistant_turn_are_refused_naming_the_row(tmp_path: Path):
    chats = tmp_path / "chats.jsonl"
    good = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'
    system = '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}'
    chats.write_text(f"{good}\n{system}\n")
    with pytest.raises(DataError) as error:
        _load("generic", "instruction", path=str(chats), messages_column="messages")
    assert "chats.jsonl, line 2: field 'messages'" in str(error.value)
    assert "expected one user turn then one assistant turn" in str(error.value) and "'system', 'user'" in str(
        error.value
    )
