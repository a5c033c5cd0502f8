"""`scalingdown generate`: a causal LM answers a file of prompts, with the input and output rules of `predict`."""

import json
from pathlib import Path

import pytest

from scalingdown.cli import main
from scalingdown.families.causal.models import load_causal
from scalingdown.models.loading import load_tokenizer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("causal-model")
    load_causal("tiny:llama-l1-h16", seed=3).save_pretrained(directory)
    load_tokenizer("tiny:llama-l1-h16").save_pretrained(directory)
    return directory


def test_every_prompt_gets_a_response_after_the_inputs_columns(model_dir: Path, tmp_path: Path):
    source = tmp_path / "prompts.jsonl"
    source.write_text("".join(json.dumps({"id": i, "prompt": f"question {i}?"}) + "\n" for i in range(5)))
    out = tmp_path / "answers.jsonl"
    args = ["generate", "--model", str(model_dir), "--input", str(source), "--output", str(out)]
    assert main([*args, "--batch-size", "2", "--chunk-size", "2", "--max-new-tokens", "4"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == list(range(5))
    assert all(list(row) == ["id", "prompt", "response"] and isinstance(row["response"], str) for row in rows)
    assert main(args) == 2  # the output exists: kept unless --force
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows


def test_a_missing_prompt_column_is_named_before_the_model_loads(model_dir: Path, tmp_path: Path, capsys):
    source = tmp_path / "prompts.csv"
    source.write_text("question\nhello\n")
    args = ["generate", "--model", "no-such-model", "--input", str(source), "--output", str(tmp_path / "a.csv")]
    assert main(args) == 2
    assert "no column 'prompt' (columns found: question)" in capsys.readouterr().err


def test_force_replaces_only_an_earlier_output_of_generate(model_dir: Path, tmp_path: Path, capsys):
    source = tmp_path / "prompts.csv"
    source.write_text("prompt\nhello?\n")
    users = tmp_path / "notes.csv"
    users.write_text("label,prob_x\nmine,1\n")  # a `predict` output, not one of `generate`
    args = ["generate", "--model", str(model_dir), "--input", str(source), "--max-new-tokens", "2", "--force"]
    assert main([*args, "--output", str(users)]) == 2
    assert "is not a file generate wrote (its first row has no `response` column)" in capsys.readouterr().err
    assert users.read_text() == "label,prob_x\nmine,1\n"
    assert main([*args, "--output", str(source)]) == 2
    assert "is the input file" in capsys.readouterr().err
    earlier = tmp_path / "answers.csv"
    earlier.write_text("prompt,response\nold?,old\n")
    assert main([*args, "--output", str(earlier)]) == 0
    assert earlier.read_text().splitlines()[1].startswith("hello?,")
