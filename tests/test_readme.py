"""README.md against the code, so that its paths cannot drift again: every `results/…` path and every figure it names
is one the workflow writes (the default experiment for what it names by name, a tiny experiment with every optional
output for the rest; read from Snakemake's dry run, nothing is run), and `scalingdown --help` is whole sentences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scalingdown.cli import build_parser
from scalingdown.data.store import MANIFEST, SPLITS, split_path
from scalingdown.pipeline.paths import REPORT_FILES, TASK_FOLDER_PATTERN
from tests.conftest import REPO, TINY_CONFIG, snakemake

README = REPO / "README.md"
# A path in the README: from `results/` to the first space, backtick, quote, bar or closing parenthesis.
_PATH = re.compile(r"results/[^\s`'\"|)]*")
# What a placeholder in a README path stands for: a task is the task's folder (`<task>[/budget-<b>][/seed-<seed>]`).
_PLACEHOLDERS = {"task": TASK_FOLDER_PATTERN}


def readme_paths(text: str) -> list[str]:
    """The `results/…` paths named in a README text, each once, in order."""
    return list(dict.fromkeys(match.group(0).rstrip(".,;:") for match in _PATH.finditer(text)))


def path_regex(pattern: str) -> str:
    """A README path as a regular expression: `<name>` one path segment (a task: its folder), `{a,b}` one of the
    alternatives, `[…]` optional, `*` any characters within a segment; a trailing `/` a directory (any path below)."""
    regex, index = "", 0
    while index < len(pattern):
        char = pattern[index]
        if char in "<{[":
            end = pattern.index({"<": ">", "{": "}", "[": "]"}[char], index)
            inner = pattern[index + 1 : end]
            if char == "<":
                regex += f"(?:{_PLACEHOLDERS.get(inner, '[^/]+')})"
            elif char == "{":
                regex += "(?:" + "|".join(path_regex(part) for part in inner.split(",")) + ")"
            else:
                regex += f"(?:{path_regex(inner)})?"
            index = end + 1
            continue
        regex += "[^/]*" if char == "*" else re.escape(char)
        index += 1
    return regex + (".*" if pattern.endswith("/") else "")


def _written(workdir: Path, config: Path) -> set[str]:
    """Every output and log of a fresh run of `config` (Snakemake's dry run), and the files of each prepared-data
    directory."""
    result = snakemake(workdir, "--configfile", str(config), "-n", "--cores", "1")
    found: set[str] = set()
    for field, value in re.findall(r"^\s+(output|log): (.+)$", result.stdout, flags=re.M):
        paths = value.split(", ")
        found.update(paths)
        if field == "output":
            data = [path for path in paths if path.startswith("results/cache/data/")]
            found.update(str(split_path(path, split)) for path in data for split in SPLITS)
            found.update(f"{path}/{MANIFEST}" for path in data)
    return found


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What the default experiment writes."""
    return _written(tmp_path_factory.mktemp("readme-default"), REPO / "config" / "config.yaml")


@pytest.fixture(scope="module")
def optional_outputs(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What the tiny experiment writes with every optional output: every export, a teacher chosen among fine-tuning
    candidates, two teachers (their ensemble record), a label-budget sweep (the budget curve), a shape sweep (the
    shape front) and a ship budget (shipped/)."""
    workdir = tmp_path_factory.mktemp("readme-optional")
    config = yaml.safe_load(TINY_CONFIG.read_text())
    task = config["tasks"]["sentiment"]
    task["teachers"]["big"]["finetune"]["learning_rate"] = [1.0e-3, 1.0e-2]
    task["teachers"]["small"] = {**task["teachers"]["big"], "finetune": {"epochs": 1, "learning_rate": 1.0e-3}}
    task["students"]["distilled"]["teachers"] = ["big", "small"]
    task["data"]["label_budget"] = [0.5, 1.0]
    task["students"]["distilled"]["export"] = ["onnx", "onnx-int8", "onnx-int8-static", "torch-int8"]
    task["students"]["gold_only"]["init"] = {"method": "teacher_layers", "layers": [[0], [0, 1]]}  # a shape sweep
    task["ship"] = {"max_latency_ms": 100.0}
    path = workdir / "optional.yaml"
    path.write_text(yaml.safe_dump(config))
    return _written(workdir, path)


def test_the_path_patterns_read_as_the_readme_means_them():
    regex = path_regex("results/cache/logits/<task>.<teacher>-<hash>[.h<layers>]-f3.parquet")
    assert re.fullmatch(regex, "results/cache/logits/t.big-abc.h2_4-f3.parquet")
    assert re.fullmatch(regex, "results/cache/logits/t.big-abc-f3.parquet")
    assert not re.fullmatch(regex, "results/cache/logits/t.big-abc-f2.parquet")
    both = path_regex("results/<experiment>/<task>/eval/{teacher,student}.*.json")
    assert re.fullmatch(both, "results/default/fin_sentiment/seed-13/eval/student.kd.json")
    assert not re.fullmatch(both, "results/default/fin_sentiment/seed-13/eval/export.kd.onnx-int8.json")
    assert re.fullmatch(path_regex("results/cache/"), "results/cache/data/t-1/train.parquet")
    assert readme_paths("at `results/a/{b,c}.png`; and (results/d/e) or results/f.") == [
        "results/a/{b,c}.png",
        "results/d/e",
        "results/f",
    ]


def test_every_results_path_in_the_readme_is_one_the_workflow_writes(default_run, optional_outputs):
    named = readme_paths(README.read_text(encoding="utf-8"))
    assert len(named) > 10
    written = default_run | optional_outputs
    unknown = [
        path
        for path in named
        for alternative in _alternatives(path)
        if not any(re.fullmatch(path_regex(alternative), file) for file in written)
    ]
    assert unknown == []
    # what the README names in the default experiment is what the default experiment writes
    default = [path for path in named if path.startswith("results/default/")]
    assert default and [path for path in default if path not in default_run] == []


def _alternatives(path: str) -> list[str]:
    """A README path once per alternative of its `{…}` group (each must exist, not just one of them)."""
    group = re.search(r"\{([^}]*)\}", path)
    if group is None:
        return [path]
    return [path[: group.start()] + part + path[group.end() :] for part in group.group(1).split(",")]


def test_every_figure_in_the_readme_is_a_report_figure_and_the_default_writes_every_one_it_names(
    default_run, optional_outputs
):
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"\b(\w+\.png)\b", text))
    figures = {file for file in REPORT_FILES.values() if file.endswith(".png")}
    assert named == figures
    report = "results/default/report/"
    written = {path.removeprefix(report) for path in default_run if path.startswith(report)}
    sweeps = {"budget_curve.png", "shape_front.png"}  # written only for a sweep of budgets, of student shapes
    assert written >= figures - sweeps and not sweeps & written
    assert {f"results/tiny/report/{name}" for name in sweeps} <= optional_outputs
    assert "only when some task sweeps two or more label budgets" in " ".join(text.split())
    assert "only when some student sweeps shapes" in " ".join(text.split())


def test_the_command_line_help_is_whole_sentences():
    parser = build_parser()
    assert parser.description is not None and parser.description.endswith(".")
    help_text = " ".join(parser.format_help().split())
    assert parser.description.split()[-1] in help_text and "predict" in help_text
