"""`data.split.group_by`: rows with equal values of one input column stay in one split (WinoGrande's twin
sentences share their options), the fractions count groups, a config without it keeps its specs and keys."""

import json
from pathlib import Path

import pandas as pd
import pytest

from scalingdown.data.schema import group_keys
from scalingdown.data.splits import split_off
from scalingdown.data.store import read_split
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.pipeline.specs.definitions import PrepareSpec
from scalingdown.stages.prepare import prepare
from tests.pipeline.conftest import config_error, resolved_tiny_config, set_task_key, tiny_written


def _twins(pairs: int) -> pd.DataFrame:
    """Multiple-choice rows in twin pairs: the same options, the answer flipped."""
    rows = []
    for pair in range(pairs):
        for twin in (0, 1):
            rows.append(
                {
                    "row_id": f"p{pair}-{twin}",
                    "context": f"sentence {pair} version {twin} with a _ blank",
                    "question": "",
                    "options": [f"name{pair}a", f"name{pair}b"],
                    "label": twin,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [13, 14])
def test_a_grouped_split_never_puts_one_group_on_both_sides(seed: int):
    frame = _twins(50)
    rest, part = split_off(frame, 0.3, seed, "label", group_by="options")
    assert len(rest) + len(part) == 100 and len(part) == 30, "0.3 of the 50 groups: 15 pairs"
    assert not set(group_keys(rest, "options")) & set(group_keys(part, "options"))
    again = split_off(frame, 0.3, seed, "label", group_by="options")[1]
    assert part["row_id"].tolist() == again["row_id"].tolist()


def test_without_grouping_twins_land_on_both_sides():
    rest, part = split_off(_twins(50), 0.3, 13, "label")
    assert set(group_keys(rest, "options")) & set(group_keys(part, "options"))


def test_group_by_must_name_what_the_model_reads(tmp_path: Path):
    error = config_error(
        tiny_written(set_task_key("data", "split", {"validation": 0.1, "test": 0.2, "group_by": "label"})), tmp_path
    )
    assert error.key == "tasks.sentiment.data.split.group_by" and "expected one of ['text']" in error.problem


def test_a_config_without_group_by_keeps_its_prepare_spec_and_one_with_it_gets_new_data():
    plain = Plan(resolved_tiny_config())
    spec = StageSpecs(plain).prepare(plain.tasks["sentiment"].data_key).to_dict()
    assert "group_by" not in spec["data"]["split"]
    grouped = resolved_tiny_config()
    grouped["tasks"]["sentiment"]["data"]["split"]["group_by"] = "text"
    assert Plan(grouped).tasks["sentiment"].data_key != plain.tasks["sentiment"].data_key


def test_prepare_keeps_winogrande_twins_in_one_split(tmp_path: Path):
    lines = []
    for pair in range(40):
        for twin in (1, 2):
            sentence = f"Person{pair}a helped Person{pair}b because _ was {'kind' if twin == 1 else 'tired'} ({pair})."
            record = {"qID": f"Q{pair}-{twin}", "sentence": sentence, "option1": f"Person{pair}a"}
            lines.append({**record, "option2": f"Person{pair}b", "answer": str(twin)})
    path = tmp_path / "dev.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    spec = PrepareSpec.from_dict(
        {
            "task": "wino",
            "type": "multiple_choice",
            "labels": None,
            "data": {
                "loader": "winogrande",
                "options": {"path": str(path)},
                "split": {"validation": 0.1, "test": 0.3, "group_by": "options"},
                "data_portion": 1.0,
            },
            "seed": 13,
            "format": 1,
        }
    )
    prepare(spec, tmp_path / "prepared")
    splits = {name: read_split(tmp_path / "prepared", name) for name in ("train", "validation", "test")}
    groups = {name: set(group_keys(frame, "options")) for name, frame in splits.items()}
    assert sum(len(frame) for frame in splits.values()) == 80
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["validation"]
    assert not groups["validation"] & groups["test"] and len(groups["test"]) == 12
