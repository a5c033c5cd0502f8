"""The prepare stage on fixtures: official splits, seeded stratified splits, data_portion, de-duplication,
and no text in two splits; the config checks and rule inputs that come with loaders."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scalingdown.data.schema import input_keys
from scalingdown.data.store import SPLITS, read_manifest, read_split
from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.specs.definitions import PrepareSpec
from scalingdown.stages.prepare import prepare
from tests.conftest import FIXTURE_DATASETS, TINY_CONFIG, snakemake

SENTIMENT = ["negative", "neutral", "positive"]
REVIEWS = {
    "path": str(FIXTURE_DATASETS / "generic" / "reviews.csv"),
    "text_column": "review",
    "label_column": "stars",
    "label_names": SENTIMENT,
}


def _spec(
    loader: str,
    options: dict,
    task_type: str = "classification",
    labels: list[str] | None = None,
    seed: int = 5,
    validation: float = 0.2,
    test: float = 0.2,
    portion: float = 1.0,
) -> PrepareSpec:
    return PrepareSpec.from_dict(
        {
            "task": "t",
            "type": task_type,
            "labels": labels,
            "seed": seed,
            "format": 2,
            "data": {
                "loader": loader,
                "options": options,
                "split": {"validation": validation, "test": test},
                "data_portion": portion,
            },
        }
    )


def _prepared(tmp_path: Path, spec: PrepareSpec, name: str = "data") -> tuple[dict, dict[str, pd.DataFrame]]:
    out = tmp_path / name
    prepare(spec, out)
    return read_manifest(out), {split: read_split(out, split) for split in SPLITS}


def _assert_no_text_in_two_splits(parts: dict[str, pd.DataFrame], task_type: str) -> None:
    seen: dict[str, str] = {}
    for split, frame in parts.items():
        keys = input_keys(frame, task_type)
        assert keys.is_unique, f"a text repeats inside {split}"
        for key in keys:
            assert key not in seen, f"{key!r} is in {seen.get(key)} and {split}"
            seen[key] = split


def test_phrasebank_repeats_and_label_conflicts_are_dropped_and_counted(tmp_path: Path):
    spec = _spec(
        "phrasebank", {"path": str(FIXTURE_DATASETS / "phrasebank" / "Sentences_Fixture.txt")}, labels=SENTIMENT
    )
    manifest, parts = _prepared(tmp_path, spec)
    assert {
        key: manifest[key]
        for key in (
            "rows_loaded",
            "unique_rows",
            "duplicates_dropped",
            "label_conflicts_dropped",
            "conflicting_texts",
            "rows_kept",
        )
    } == {
        "rows_loaded": 17,
        "unique_rows": 16,
        "duplicates_dropped": 1,
        "label_conflicts_dropped": 2,
        "conflicting_texts": 1,
        "rows_kept": 14,
    }
    assert sum(len(frame) for frame in parts.values()) == 14
    texts = pd.concat(parts.values())["text"]
    assert not texts.str.startswith("Analysts expect the merger").any()  # the text with two labels
    assert (texts == "The annual general meeting will be held on 14 March .").sum() == 1
    _assert_no_text_in_two_splits(parts, "classification")


def test_official_splits_are_kept_and_a_repeat_stays_in_the_evaluation_split(tmp_path: Path):
    folder = FIXTURE_DATASETS / "winogrande"
    spec = _spec(
        "winogrande",
        {
            "files": {"train": str(folder / "train_s.jsonl"), "test": str(folder / "dev.jsonl")},
            "labels_files": {"test": str(folder / "dev-labels.lst")},
        },
        task_type="multiple_choice",
        validation=0.25,
    )
    manifest, parts = _prepared(tmp_path, spec)
    assert list(parts["test"]["row_id"]) == [f"dev:{line}" for line in range(1, 6)]  # the official split, whole
    assert manifest["duplicates_dropped"] == 1  # train_s:5 repeats dev:5 and leaves train
    assert len(parts["train"]) + len(parts["validation"]) == 7
    assert "train_s:5" not in set(parts["train"]["row_id"]) | set(parts["validation"]["row_id"])
    assert list(parts["test"].iloc[0]["options"]) == ["road", "roof"]
    _assert_no_text_in_two_splits(parts, "multiple_choice")


def test_seeded_split_is_stratified_and_repeatable(tmp_path: Path):
    manifest, parts = _prepared(tmp_path, _spec("generic", REVIEWS, labels=SENTIMENT, test=0.25, validation=0.33))
    assert manifest["splits"]["test"]["label_counts"] == {"negative": 1, "neutral": 1, "positive": 1}
    assert manifest["splits"]["validation"]["label_counts"] == {"negative": 1, "neutral": 1, "positive": 1}
    again, _ = _prepared(tmp_path, _spec("generic", REVIEWS, labels=SENTIMENT, test=0.25, validation=0.33), "again")
    other, _ = _prepared(
        tmp_path, _spec("generic", REVIEWS, labels=SENTIMENT, test=0.25, validation=0.33, seed=6), "other"
    )
    fingerprints = [{s: m["splits"][s]["sha256"] for s in SPLITS} for m in (manifest, again, other)]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]
    _assert_no_text_in_two_splits(parts, "classification")


def test_data_portion_takes_a_stratified_fraction_of_train_only(tmp_path: Path):
    full, full_parts = _prepared(tmp_path, _spec("synthetic_finance", {"rows": 200}, labels=SENTIMENT))
    half, half_parts = _prepared(
        tmp_path, _spec("synthetic_finance", {"rows": 200}, labels=SENTIMENT, portion=0.5), "half"
    )
    for split in ("validation", "test"):
        assert half["splits"][split]["sha256"] == full["splits"][split]["sha256"]
    assert half["train_rows_before_portion"] == full["splits"]["train"]["rows"] == 128
    assert half["splits"]["train"]["rows"] == 64
    assert set(half_parts["train"]["row_id"]) < set(full_parts["train"]["row_id"])
    for label, count in full["splits"]["train"]["label_counts"].items():
        assert abs(half["splits"]["train"]["label_counts"][label] - count / 2) <= 1


def test_math_and_generative_qa_are_prepared_with_their_schemas(tmp_path: Path):
    aqua = FIXTURE_DATASETS / "aqua_rat"
    manifest, parts = _prepared(
        tmp_path,
        _spec("aqua_rat", {"files": {"train": str(aqua / "dev.json"), "test": str(aqua / "test.json")}}, "math"),
    )
    assert manifest["type"] == "math" and manifest["splits"]["test"]["rows"] == 4
    assert list(parts["train"].columns) == ["row_id", "question", "options", "rationale", "answer"]
    assert all(len(options) == 5 for split in parts.values() for options in split["options"])
    _, qa = _prepared(
        tmp_path,
        _spec(
            "triviaqa",
            {"path": str(FIXTURE_DATASETS / "triviaqa" / "questions.jsonl")},
            "generative_qa",
            test=0.25,
            validation=0.33,
        ),
        "qa",
    )
    assert sum(len(frame) for frame in qa.values()) == 4
    assert all(
        answer in list(aliases)
        for frame in qa.values()
        for answer, aliases in zip(frame["answer"], frame["aliases"], strict=True)
    )


def test_instructions_in_chat_format_are_prepared_deduplicated_by_prompt(tmp_path: Path):
    chats = tmp_path / "chats.jsonl"
    turns = [(f"Name colour {i}.", f"Colour {i}.") for i in range(9)] + [("Name colour 0.", "Colour 0.")]
    chats.write_text(
        "".join(
            json.dumps({"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": r}]}) + "\n"
            for p, r in turns
        )
    )
    manifest, parts = _prepared(
        tmp_path, _spec("generic", {"path": str(chats), "messages_column": "messages"}, "instruction")
    )
    assert manifest["type"] == "instruction" and list(parts["train"].columns) == ["row_id", "prompt", "response"]
    assert sum(len(frame) for frame in parts.values()) == 9  # the repeated conversation is dropped


def test_prepare_reports_a_loader_that_does_not_fit_the_task_type_by_config_key(tmp_path: Path):
    spec = _spec("aqua_rat", {"path": str(FIXTURE_DATASETS / "aqua_rat" / "dev.json")}, "classification")
    with pytest.raises(ConfigError) as error:
        prepare(spec, tmp_path / "data")
    assert error.value.key == "tasks.t.type"
    assert not (tmp_path / "data").exists()


def test_a_train_file_repeating_the_test_file_is_an_error(tmp_path: Path):
    dev, copy_of_dev = FIXTURE_DATASETS / "aqua_rat" / "dev.json", tmp_path / "copy.json"
    copy_of_dev.write_bytes(dev.read_bytes())
    with pytest.raises(ConfigError) as error:
        prepare(_spec("aqua_rat", {"files": {"train": str(copy_of_dev), "test": str(dev)}}, "math"), tmp_path / "data")
    assert error.value.key == "tasks.t.data" and "no rows of the train source are left" in error.value.problem
    assert not (tmp_path / "data").exists()


def _config(task_changes: dict) -> dict:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    task = config["tasks"]["sentiment"]
    task.update(copy.deepcopy(task_changes))
    if task["labels"] is None:
        del task["labels"]
    from snakemake.utils import validate

    from scalingdown.pipeline.config.defaults import apply_member_defaults

    apply_member_defaults(config)
    validate(config, str(TINY_CONFIG.parents[2] / "workflow" / "schemas" / "config.schema.yaml"))
    return config


@pytest.mark.parametrize(
    ("changes", "key", "fragment"),
    [
        ({"data": {"loader": "phrasebanks"}}, "tasks.sentiment.data.loader", "unknown loader 'phrasebanks'"),
        (
            {"data": {"loader": "phrasebank", "options": {"file": "x.txt"}}},
            "tasks.sentiment.data.options.file",
            "not an option of loader 'phrasebank'",
        ),
        (
            {
                "type": "multiple_choice",
                "labels": None,
                "data": {"loader": "winogrande", "options": {"path": "w.jsonl"}},
            },
            "tasks.sentiment.teachers.big.model",
            "a multiple_choice task needs a text-to-text model: T5 family",
        ),
        ({"type": "math", "labels": None}, "tasks.sentiment.type", "produces classification data, not 'math'"),
    ],
)
def test_config_check_names_the_data_key(changes, key, fragment, tmp_path: Path):
    config = _config(changes)
    with pytest.raises(ConfigError) as error:
        check_config(config, tmp_path)
    assert error.value.key == key and fragment in error.value.problem


def test_every_file_option_is_a_rule_input():
    options = {"files": {"train": "w/train_s.jsonl", "test": "w/dev.jsonl"}, "labels_files": {"test": "w/dev.lst"}}
    plan = Plan(_config({"data": {"loader": "winogrande", "options": options}}))
    task = plan.tasks["sentiment"]
    assert plan.data_files(task.data_key) == ["w/dev.jsonl", "w/dev.lst", "w/train_s.jsonl"]


def test_a_missing_data_file_stops_snakemake_before_any_job(tmp_path: Path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    fixture = FIXTURE_DATASETS / "phrasebank" / "Sentences_Fixture.txt"
    config["tasks"]["sentiment"]["data"] = {
        "loader": "phrasebank",
        "options": {"files": {"train": str(fixture), "test": "absent.txt"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--configfile", str(path), "-n", check=False)
    assert result.returncode != 0
    assert "config key `tasks.sentiment.data.options.files.test`: file 'absent.txt' does not exist" in result.stdout
    assert not (tmp_path / "results").exists()


def test_manifest_is_json_with_counts(tmp_path: Path):
    manifest, _ = _prepared(tmp_path, _spec("generic", REVIEWS, labels=SENTIMENT))
    assert json.loads((tmp_path / "data" / "manifest.json").read_text()) == manifest
    assert manifest["rows_loaded"] == 12 and manifest["rows_kept"] == 12
