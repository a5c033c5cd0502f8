"""Teachers with their own label orders, the cache of pooled hidden states, LoRA fine-tuning and
layer-subset initialisation, on tiny models written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForSequenceClassification

from scalingdown.data.labels import LabelMismatch
from scalingdown.data.store import read_split
from scalingdown.families.classification.family import build_student, starting_model
from scalingdown.families.classification.teacher_cache import load_teacher_outputs
from scalingdown.kd.logit_store import CacheMismatch, hidden_column, read_logits, split_matrix
from scalingdown.kd.losses import masked_mean
from scalingdown.models.loading import load_classifier, load_tokenizer
from scalingdown.pipeline.names.model_refs import ModelLoadError
from scalingdown.pipeline.specs.definitions import FinetuneSpec, InitSpec, LogitsSpec, PrepareSpec, TeacherName
from scalingdown.stages.finetune_teacher import finetune_teacher
from scalingdown.stages.prepare import prepare
from scalingdown.stages.teacher_logits import teacher_logits
from scalingdown.training.trainer import LoraSettingsError
from tests.families.classification.conftest import FINBERT_ORDER, write_tiny_classifier

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "prepared"
    prepare(
        PrepareSpec.from_dict(
            {
                "task": "t",
                "type": "classification",
                "labels": LABELS,
                "seed": 5,
                "format": 1,
                "data": {
                    "loader": "synthetic_finance",
                    "options": {"rows": 40},
                    "split": {"validation": 0.2, "test": 0.2},
                    "data_portion": 1.0,
                },
            }
        ),
        out,
    )
    return out


def _logits_spec(
    model: Path | str, name: str = "t", hidden_layers: list[int] | None = None, label_map: dict[str, str] | None = None
) -> LogitsSpec:
    return LogitsSpec.from_dict(
        {
            "type": "classification",
            "teacher": name,
            "teacher_key": f"{name}-key",
            "model": str(model),
            "max_length": 24,
            "hidden_layers": hidden_layers or [],
            "label_map": label_map or {},
            "labels": LABELS,
        }
    )


def _teacher(name: str = "t") -> TeacherName:
    return TeacherName(name=name, key=f"{name}-key")


def test_a_finbert_ordered_teacher_is_aligned_to_the_task_order_by_name(tmp_path, data_dir):
    model = write_tiny_classifier(tmp_path / "finbert", FINBERT_ORDER)
    cache = tmp_path / "logits.parquet"
    teacher_logits(_logits_spec(model, "finbert"), str(data_dir), str(cache))
    frame, fingerprint = read_logits(cache)
    assert fingerprint["label_names"] == FINBERT_ORDER
    raw = split_matrix(frame, "train")
    [aligned] = load_teacher_outputs([_teacher("finbert")], [str(cache)], str(data_dir), LABELS, ("train",))
    assert np.array_equal(aligned.logits["train"], raw[:, [1, 2, 0]])


def test_generic_label_names_need_the_teachers_label_map(tmp_path, data_dir):
    model = write_tiny_classifier(tmp_path / "generic", ["LABEL_0", "LABEL_1", "LABEL_2"])
    cache = tmp_path / "logits.parquet"
    with pytest.raises(LabelMismatch) as error:
        teacher_logits(_logits_spec(model, "generic"), str(data_dir), str(cache))
    message = str(error.value)
    assert message.startswith("teacher generic: its labels ['LABEL_0', 'LABEL_1', 'LABEL_2']")
    assert "the task's labels ['negative', 'neutral', 'positive']" in message and "`labels` key" in message
    assert not cache.exists(), "nothing is written for a teacher whose labels cannot be mapped"

    mapping = {"LABEL_0": "positive", "LABEL_1": "negative", "LABEL_2": "neutral"}
    teacher_logits(_logits_spec(model, "generic", label_map=mapping), str(data_dir), str(cache))
    frame, fingerprint = read_logits(cache)
    assert fingerprint["label_names"] == FINBERT_ORDER
    assert fingerprint["model_label_names"] == ["LABEL_0", "LABEL_1", "LABEL_2"]
    [aligned] = load_teacher_outputs([_teacher("generic")], [str(cache)], str(data_dir), LABELS, ("train",))
    assert np.array_equal(aligned.logits["train"], split_matrix(frame, "train")[:, [1, 2, 0]])


def test_a_teacher_with_other_labels_stops_the_run_naming_it(tmp_path, data_dir):
    model = write_tiny_classifier(tmp_path / "binary", ["negative", "positive"])
    with pytest.raises(
        LabelMismatch,
        match=r"teacher binary: its labels \['negative', 'positive'\] cannot be mapped"
        r".*no match for \['neutral'\]",
    ):
        teacher_logits(_logits_spec(model, "binary"), str(data_dir), str(tmp_path / "logits.parquet"))


def test_pooled_states_of_the_mapped_layers_round_trip_through_the_cache(tmp_path, data_dir):
    model_dir = write_tiny_classifier(tmp_path / "teacher", LABELS)
    cache = tmp_path / "logits.parquet"
    teacher_logits(_logits_spec(model_dir, hidden_layers=[0, 2]), str(data_dir), str(cache))
    frame, fingerprint = read_logits(cache)
    assert fingerprint["hidden_layers"] == [0, 2] and fingerprint["hidden_size"] == 32
    assert {hidden_column(0), hidden_column(2)} <= set(frame.columns) and hidden_column(1) not in frame

    texts = read_split(data_dir, "train")["text"].tolist()[:3]
    tokenizer, model = load_tokenizer(str(model_dir)), load_classifier(str(model_dir)).eval()
    with torch.no_grad():
        encoded = tokenizer(texts, truncation=True, max_length=24, padding=True, return_tensors="pt")
        expected = masked_mean(model(**encoded, output_hidden_states=True).hidden_states[2], encoded["attention_mask"])
    [outputs] = load_teacher_outputs([_teacher()], [str(cache)], str(data_dir), LABELS, ("train",), {"t": [2]})
    assert np.allclose(outputs.hidden[2][:3], expected.numpy(), atol=1e-5)
    assert outputs.hidden[2].dtype == np.float32

    with pytest.raises(CacheMismatch, match=r"hidden layers \[0, 2\], not of \[1\]"):
        load_teacher_outputs([_teacher()], [str(cache)], str(data_dir), LABELS, ("train",), {"t": [1]})
    with pytest.raises(ModelLoadError, match=r"teacher t .*hidden layers \[3\] do not exist.*0 \(embeddings\) \.\. 2"):
        teacher_logits(_logits_spec(model_dir, hidden_layers=[3]), str(data_dir), str(tmp_path / "other.parquet"))


def _finetune_spec(model: str, method: str = "full", lora: dict | None = None) -> FinetuneSpec:
    return FinetuneSpec.from_dict(
        {
            "type": "classification",
            "teacher": "t",
            "model": model,
            "max_length": 24,
            "labels": LABELS,
            "seed": 3,
            "label_map": {},
            "method": method,
            "lora": lora,
            "training": {
                "epochs": 1,
                "learning_rate": 1e-3,
                "batch_size": 16,
                "gradient_accumulation_steps": 1,
                "weight_decay": 0.0,
                "warmup_ratio": 0.0,
                "eval_steps": 50,
                "logging_steps": 50,
                "precision": "auto",
                "processes": 1,
                "deepspeed": None,
                "checkpoint": "best",
                "selection_metric": "accuracy",
            },
        }
    )


def test_lora_fine_tuning_saves_a_plain_model_with_merged_adapters(tmp_path, data_dir):
    lora = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["query", "value"]}
    out = tmp_path / "model"
    finetune_teacher(
        _finetune_spec("tiny:bert-l2-h32", "lora", lora),
        str(data_dir),
        str(out),
        str(tmp_path / "history.json"),
        str(tmp_path / "checkpoints"),
    )
    with safe_open(out / "model.safetensors", "pt") as weights:
        keys = list(weights.keys())
        query = weights.get_tensor(next(k for k in keys if k.endswith("layer.0.attention.self.query.weight")))
        key_weight = weights.get_tensor(next(k for k in keys if k.endswith("layer.0.attention.self.key.weight")))
    assert not [k for k in keys if "lora" in k or "base_model" in k or "modules_to_save" in k]
    loaded = AutoModelForSequenceClassification.from_pretrained(out)
    assert [loaded.config.id2label[i] for i in range(3)] == LABELS
    base = load_classifier("tiny:bert-l2-h32", LABELS, seed=3)
    assert not torch.equal(query, base.bert.encoder.layer[0].attention.self.query.weight), "adapters were merged"
    assert torch.equal(key_weight, base.bert.encoder.layer[0].attention.self.key.weight), "untargeted weights stay"

    with pytest.raises(LoraSettingsError, match="rejected by peft"):
        finetune_teacher(
            _finetune_spec("tiny:bert-l2-h32", "lora", {"rank": 4}),
            str(data_dir),
            str(tmp_path / "bad"),
            str(tmp_path / "h.json"),
            str(tmp_path / "ckpt"),
        )


def test_fine_tuning_keeps_a_head_that_already_predicts_the_task_labels(tmp_path):
    ready = write_tiny_classifier(tmp_path / "ready", FINBERT_ORDER, seed=1)
    kept = starting_model(_finetune_spec(str(ready)))
    assert [kept.config.id2label[i] for i in range(3)] == FINBERT_ORDER
    assert torch.equal(kept.classifier.weight, load_classifier(str(ready)).classifier.weight)
    binary = write_tiny_classifier(tmp_path / "binary", ["no", "yes"])
    fresh = starting_model(_finetune_spec(str(binary)))
    assert [fresh.config.id2label[i] for i in range(3)] == LABELS


def _layer_weights(model, index: int) -> torch.Tensor:
    return model.bert.encoder.layer[index].attention.self.query.weight


@pytest.mark.parametrize(
    ("init", "kept"), [({"every": 2}, [0, 2]), ({"every": 3}, [0, 3]), ({"layers": [3, 1]}, [3, 1])]
)
def test_layer_subset_initialisation_keeps_the_chosen_layers(init, kept):
    spec = InitSpec.from_dict(
        {
            "type": "classification",
            "model": "tiny:bert-l4-h32",
            "labels": LABELS,
            "seed": 2,
            "format": 1,
            "init": {"method": "teacher_layers", **init},
        }
    )
    student = build_student(spec)
    source = load_classifier("tiny:bert-l4-h32", LABELS, seed=2)
    assert student.config.num_hidden_layers == len(kept)
    for position, layer in enumerate(kept):
        assert torch.equal(_layer_weights(student, position), _layer_weights(source, layer))
    assert torch.equal(student.bert.embeddings.word_embeddings.weight, source.bert.embeddings.word_embeddings.weight)
