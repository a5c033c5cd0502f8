"""Stages run by hand (`python -m scalingdown <stage> …`) answer a wrong spec or a missing input with one line and
exit status 2, never a traceback (issue 15, item 7)."""

from __future__ import annotations

import json

import pytest

from scalingdown.cli import main


def _run(capsys, arguments: list[str]) -> str:
    """The one line of error of a run that must fail with status 2."""
    assert main(arguments) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], lines
    assert not any("Traceback" in line for line in lines)
    return errors[0]


def _replace(arguments: list[str], flag: str, value: str) -> list[str]:
    changed = list(arguments)
    changed[changed.index(flag) + 1] = value
    return changed


def _spec(arguments: list[str]) -> dict:
    return json.loads(arguments[arguments.index("--spec") + 1])


@pytest.fixture
def arguments(distill_inputs, tmp_path) -> list[str]:
    """`distill …` as the rule passes it (without -v), outputs under tmp_path."""
    return distill_inputs.arguments(distill_inputs.spec(), tmp_path / "run")[1:]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda spec: spec.pop("student"),
            "error: distill --spec: spec: missing key `student` (DistillSpec needs it)",
        ),
        (
            lambda spec: spec.update(studnet="s"),
            "error: distill --spec: spec: unknown key `studnet` (a DistillSpec has [",
        ),
        (
            lambda spec: spec["training"].update(batch_size="32"),
            'error: distill --spec: spec.training.batch_size: expected int, got "32"',
        ),
        (
            lambda spec: spec["loss"].pop("temperature"),
            "error: distill --spec: spec.loss: missing key `temperature` (LossSpec needs it)",
        ),
    ],
    ids=["missing-key", "unknown-key", "wrong-type", "missing-nested-key"],
)
def test_a_wrong_spec_key_gets_one_line(capsys, arguments, change, expected):
    spec = _spec(arguments)
    change(spec)
    assert _run(capsys, _replace(arguments, "--spec", json.dumps(spec))).startswith(expected)


def test_a_spec_that_is_not_json_gets_the_usage_line(capsys, arguments):
    with pytest.raises(SystemExit) as stop:
        main(_replace(arguments, "--spec", "{student: s"))
    assert stop.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith("scalingdown distill: error: argument --spec: not valid JSON")
    )


@pytest.mark.parametrize(
    ("flag", "make", "expected"),
    [
        ("--data", lambda tmp: tmp / "no-such-data", "error: distill --data {path}: no such directory"),
        ("--init", lambda tmp: tmp / "no-such-init", "error: distill --init {path}: no such model directory"),
        (
            "--init",
            lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
            "error: distill --init {path}: not a model directory (one holding a config.json)",
        ),
        ("--logits", lambda tmp: tmp / "no-such.parquet", "error: distill --logits {path}: no such file"),
        (
            "--data",
            lambda tmp: (tmp / "unprepared").mkdir() or tmp / "unprepared",
            "error: {path}: holds no manifest.json; it is not a directory written by prepare",
        ),
    ],
    ids=["data-missing", "init-missing", "init-not-a-model", "logits-missing", "data-not-prepared"],
)
def test_a_missing_input_directory_or_file_gets_one_line_not_a_hub_message(
    capsys, arguments, tmp_path, flag, make, expected
):
    path = make(tmp_path)
    error = _run(capsys, _replace(arguments, flag, str(path)))
    assert error == expected.format(path=path)
    assert "huggingface" not in error.lower() and "repo id" not in error.lower()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("spec.yaml", b"student: [a\n  b: c\n", "{path}, line 2: not valid YAML (expected ',' or ']', but got ':')"),
        ("spec.yml", b"student: !!python/object:os.system {}\n", "{path}, line 1: not valid YAML ("),
        ("spec.yaml", b"student: \xff\xfe\n", "{path} is not UTF-8 text (invalid start byte)"),
        ("spec.json", b'{"student": "s",}', "{path} is not valid JSON ("),
    ],
    ids=["broken-yaml", "yaml-with-a-python-tag", "not-utf8", "broken-json"],
)
def test_a_spec_file_that_does_not_parse_gets_the_usage_line(capsys, arguments, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SystemExit) as stop:
        main(_replace(arguments, "--spec", f"@{path}"))
    assert stop.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("scalingdown distill: error: argument --spec: " + expected.format(path=path)), last
    assert "Traceback" not in last
