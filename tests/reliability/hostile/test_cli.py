"""Generated hostile command lines (issue 27): every stage's command with any flags and values, a `--spec` of any
JSON (inline, or `@file` of any bytes) or a real spec with one field of any value, input paths holding anything,
and `data inspect` with any loader, path and options. The answer is exit status 2 with one line (`error: …`, or
argparse's usage and one error line) — never a traceback."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from scalingdown.cli import main
from scalingdown.pipeline.specs.stage_table import STAGES
from tests.reliability.hostile.conftest import examples, hostile_text, yaml_values

COMMANDS = [stage.command for stage in STAGES.values()]


def _answer(argv: list[str]) -> tuple[int, list[str]]:
    """Run `scalingdown ARGV` in-process: its exit status and its lines on stderr (logging goes elsewhere)."""
    stderr = io.StringIO()
    with redirect_stderr(stderr), redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse: --help, or a usage error
            status = stop.code if isinstance(stop.code, int) else 2
    return status, stderr.getvalue().splitlines()


def _refused_in_one_line(argv: list[str]) -> int:
    """The invariant of a command line: exit 0, or exit 2 with one error line; no traceback either way."""
    status, lines = _answer(argv)
    assert not any("Traceback" in line for line in lines), lines
    if status == 0:
        event("exit 0")
        return status
    assert status == 2, (status, lines[-5:])
    errors = [line for line in lines if line.startswith("error: ") or ": error: " in line]
    assert len(errors) == 1 and errors[0] == lines[-1], lines[-5:]
    event("usage error" if ": error: " in errors[0] else "error line")
    return status


ARGUMENT = st.one_of(
    hostile_text(max_size=20),
    st.sampled_from(["--spec", "--data", "--out", "--threads", "--help", "-v", "--", "-", "@", "@/", "{}"]),
    st.integers().map(str),
)


@examples(20)
@given(
    command=st.sampled_from([*COMMANDS, "predict", "generate", "data", "nonsense"]),
    arguments=st.lists(ARGUMENT, max_size=8),
)
def test_any_arguments_of_any_command_get_exit_2_and_one_line(tmp_path_factory, command, arguments):
    directory = tmp_path_factory.mktemp("cli")
    argv = [command, *(argument.replace("@/", f"@{directory}/") for argument in arguments)]
    if "--help" in argv or "-h" in argv:
        return  # usage on stdout, exit 0
    _refused_in_one_line(argv)


def _spec_argv(command: str, spec: str, directory: Path) -> list[str]:
    """`command --spec SPEC` with every argument it requires, each a path that does not exist."""
    stage = next(stage for stage in STAGES.values() if stage.command == command)
    argv = [command, "--spec", spec]
    for argument in stage.arguments:
        if argument.required:
            argv += [argument.flag, str(directory / f"missing{argument.flag}")]
    return argv


@examples(20)
@given(command=st.sampled_from(COMMANDS), document=yaml_values())
def test_a_spec_of_any_json_structure_gets_one_line(tmp_path_factory, command, document):
    directory = tmp_path_factory.mktemp("spec")
    text = json.dumps(document, default=str, ensure_ascii=False)
    assert _refused_in_one_line(_spec_argv(command, text, directory)) == 2


@examples(15)
@given(
    command=st.sampled_from(COMMANDS),
    content=st.one_of(st.binary(max_size=120), hostile_text(max_size=80).map(lambda text: text.encode("utf-8"))),
    suffix=st.sampled_from([".json", ".yaml", ".yml", ".txt", ""]),
)
def test_a_spec_file_of_any_bytes_gets_one_line(tmp_path_factory, command, content, suffix):
    directory = tmp_path_factory.mktemp("spec-file")
    path = directory / f"spec{suffix}"
    path.write_bytes(content)
    assert _refused_in_one_line(_spec_argv(command, f"@{path}", directory)) == 2


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for key, child in value.items() for leaf in _leaves(child, (*path, key))] + [path]
    if isinstance(value, list):
        return [leaf for index, child in enumerate(value) for leaf in _leaves(child, (*path, index))] + [path]
    return [path]


@pytest.fixture(scope="module")
def distill_spec(distill_inputs) -> dict[str, Any]:
    return json.loads(distill_inputs.spec().to_json())


@examples(20)
@given(data=st.data())
def test_a_real_spec_with_any_field_of_any_value_gets_one_line_naming_it(tmp_path_factory, distill_spec, data):
    directory = tmp_path_factory.mktemp("field")
    spec = json.loads(json.dumps(distill_spec))
    where = data.draw(st.sampled_from([path for path in _leaves(spec) if path]), label="field")
    value = data.draw(yaml_values(), label="value")
    node: Any = spec
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = json.loads(json.dumps(value, default=str))
    _refused_in_one_line(_spec_argv("check-distill-inputs", json.dumps(spec), directory))


def _hostile_input(path: Path, kind: str, content: bytes) -> None:
    if kind == "file of any bytes":
        path.write_bytes(content)
    elif kind == "empty directory":
        path.mkdir()
    elif kind in ("directory with any manifest.json", "directory with any config.json"):
        path.mkdir()
        (path / kind.split()[2]).write_bytes(content)


@examples(12)
@given(
    flag=st.sampled_from(["--data", "--init", "--logits"]),
    kind=st.sampled_from(
        ["file of any bytes", "empty directory", "directory with any manifest.json", "directory with any config.json"]
    ),
    content=st.one_of(st.binary(max_size=100), yaml_values().map(lambda v: json.dumps(v, default=str).encode())),
)
def test_distill_inputs_holding_anything_get_one_line(tmp_path_factory, distill_inputs, flag, kind, content):
    directory = tmp_path_factory.mktemp("inputs")
    hostile = directory / "hostile"
    _hostile_input(hostile, kind, content)
    argv = ["check-distill-inputs", "--spec", distill_inputs.spec().to_json(), "--out", str(directory / "checked")]
    paths = {"--data": distill_inputs.data, "--init": distill_inputs.init, "--logits": distill_inputs.logits}
    for name, path in paths.items():
        argv += [name, str(hostile if name == flag else path)]
    assert _refused_in_one_line(argv) == 2
    assert not (directory / "checked").exists()


@examples(12)
@given(
    loader=st.one_of(
        st.sampled_from(["generic", "phrasebank", "aqua_rat", "winogrande", "synthetic_finance"]), hostile_text()
    ),
    options=st.dictionaries(hostile_text(max_size=12), yaml_values(), max_size=3),
    path=st.one_of(st.none(), hostile_text(max_size=20)),
)
def test_data_inspect_with_any_loader_path_and_options_gets_one_line(loader, options, path):
    argv = ["data", "inspect", "--loader", loader, "--options", json.dumps(options, default=str)]
    if path is not None:
        argv += ["--path", path]
    _refused_in_one_line(argv)
