"""Tiny T5 models and tokenizer, hub loading up to the network call, the top-k store, vocabulary checks, scoring."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from scalingdown.data.store import frame_fingerprint
from scalingdown.families.text2text.inference import generate_ids, sequence_logprobs
from scalingdown.families.text2text.scoring import answerer
from scalingdown.families.text2text.topk import (
    VocabularyMismatch,
    check_vocabulary,
    reshape_topk,
    topk_columns,
    vocabulary,
)
from scalingdown.kd.logit_store import CacheMismatch, check_cache, read_logits, write_logits
from scalingdown.models import loading as models
from scalingdown.models.loading import load_seq2seq, load_tokenizer, tiny_config
from scalingdown.pipeline.names.model_refs import ModelLoadError
from scalingdown.pipeline.names.tasks import prompt_for
from scalingdown.pipeline.specs.definitions import TextTask


@pytest.fixture(scope="module")
def tiny():
    return load_seq2seq("tiny:t5-l1-h16", seed=3), load_tokenizer("tiny:t5-l1-h16")


def test_tiny_t5_tokenizer_is_t5_like(tiny):
    model, tokenizer = tiny
    ids = tokenizer("Which planet is red?")["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id == model.config.eos_token_id
    assert tokenizer.convert_tokens_to_ids("[CLS]") not in ids
    assert tokenizer.pad_token_id == 0 == model.config.decoder_start_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == "which planet is red?"
    assert model.config.vocab_size == len(tokenizer)
    assert load_tokenizer("tiny:t5-l1-h16").get_vocab() == tokenizer.get_vocab(), "rebuilt identically"


def test_tiny_config_names_the_accepted_forms():
    assert tiny_config("t5-l3-h64").num_decoder_layers == 3
    with pytest.raises(ModelLoadError, match="tiny:t5-l<layers>-h<width>"):
        tiny_config("t5-small")


def test_hub_models_load_through_from_pretrained_with_safetensors_and_revision(monkeypatch):
    calls = []

    def fake(location, **kwargs):
        calls.append((location, kwargs))
        raise OSError("no network")

    monkeypatch.setattr(models.AutoModelForSeq2SeqLM, "from_pretrained", fake)
    with pytest.raises(ModelLoadError, match=r"could not load hub:t5-small@abc.*no network\?"):
        load_seq2seq("hub:t5-small@abc")
    assert calls == [("t5-small", {"use_safetensors": True, "trust_remote_code": False, "revision": "abc"})]


def test_top_k_store_round_trip_and_tail_mass(tiny, tmp_path: Path):
    model, tokenizer = tiny
    sources = [tokenizer("first question")["input_ids"], tokenizer("a second, longer question here")["input_ids"]]
    targets = [tokenizer(text_target="yes")["input_ids"], tokenizer(text_target="no it is not")["input_ids"]]
    columns = topk_columns(model, sources, targets, k=4, batch_size=2, hidden_layers={"encoder": [1], "decoder": [0]})
    rows = {"split": ["train", "train"], "row_id": ["a", "b"], **columns}
    write_logits(tmp_path / "c.parquet", pd.DataFrame(rows), {"top_k": 4})
    frame, fingerprint = read_logits(tmp_path / "c.parquet")
    assert fingerprint["top_k"] == 4
    for index in range(2):
        length = len(targets[index])
        assert frame["target_ids"][index].tolist() == targets[index]
        ids, logprobs = reshape_topk(frame["topk_ids"][index], 4), reshape_topk(frame["topk_logprobs"][index], 4)
        assert ids.shape == (length, 4) and ids.dtype == np.int32 and logprobs.dtype == np.float16
        assert frame["tail_mass"][index].dtype == np.float32 and frame["hidden_encoder_1"][index].shape == (16,)
        assert (np.diff(logprobs.astype(np.float32), axis=1) <= 0).all(), "sorted, most likely first"
        total = np.exp(logprobs.astype(np.float64)).sum(axis=1) + frame["tail_mass"][index]
        assert total == pytest.approx(np.ones(length), abs=2e-3)  # float16 rounding of the log-probabilities
    with torch.inference_mode():
        labels = torch.tensor([targets[1]])
        logits = model(input_ids=torch.tensor([sources[1]]), labels=labels).logits[0]
    full = torch.log_softmax(logits, -1)
    assert np.allclose(reshape_topk(frame["topk_logprobs"][1], 4), full.topk(4).values.numpy(), atol=1e-2)


def test_k_equal_to_the_vocabulary_leaves_no_tail(tiny):
    model, tokenizer = tiny
    columns = topk_columns(
        model,
        [tokenizer("q")["input_ids"]],
        [tokenizer(text_target="a")["input_ids"]],
        k=model.config.vocab_size,
        batch_size=1,
    )
    assert columns["tail_mass"][0] == pytest.approx(np.zeros(2), abs=1e-6)


def test_seq2seq_cache_is_refused_for_changed_data(tmp_path: Path):
    data = pd.DataFrame({"row_id": ["r0"], "question": ["q"], "answer": ["a"], "aliases": [["a"]]})
    rows = pd.DataFrame({"split": ["train"], "row_id": ["r0"], "target_ids": [np.array([5, 1], np.int32)]})
    fingerprint = {"logits_key": "k", "splits": {"train": {"rows": 1, "sha256": frame_fingerprint(data)}}}
    write_logits(tmp_path / "c.parquet", rows, fingerprint)
    frame, read_back = read_logits(tmp_path / "c.parquet")
    changed = data.assign(answer=["b"])
    with pytest.raises(CacheMismatch, match="fingerprint of the train data differs"):
        check_cache(
            tmp_path / "c.parquet",
            read_back,
            frame,
            {"logits_key": "k"},
            {"train": changed},
            {"train": frame_fingerprint(changed)},
        )


def test_vocabulary_mismatch_names_both_models(tiny):
    model, tokenizer = tiny
    mine = vocabulary(model, tokenizer)
    check_vocabulary("big (teacher-dir)", mine, "small (init-dir)", dict(mine))
    t5_like = {**mine, "config_vocab_size": 32128, "vocab_size": 32100, "vocab_sha256": "f" * 64}
    with pytest.raises(VocabularyMismatch) as error:
        check_vocabulary("t5_large (hub:t5-large)", t5_like, "small (init-dir)", mine)
    message = str(error.value)
    assert "t5_large (hub:t5-large)" in message and "small (init-dir)" in message
    assert "config.vocab_size 32128 vs 30522" in message and "tokenizer vocabularies differ" in message


def test_option_scores_are_sums_of_target_token_log_probabilities(tiny):
    model, tokenizer = tiny
    source = tokenizer("Ann or Beth?")["input_ids"]
    options = [tokenizer(text_target=text)["input_ids"] for text in ("ann", "beth is here")]
    scores = sequence_logprobs(model, [source, source], options, batch_size=2, description=None)
    for option, score in zip(options, scores):
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([source]), labels=torch.tensor([option])).logits[0]
        expected = torch.log_softmax(logits, -1).gather(-1, torch.tensor(option)[:, None]).sum().item()
        assert score == pytest.approx(expected, rel=1e-5)


def test_mean_option_scores_divide_each_sum_by_its_own_token_count(tiny):
    model, tokenizer = tiny
    source = tokenizer("Ann or Beth?")["input_ids"]
    options = [tokenizer(text_target=text)["input_ids"] for text in ("ann", "beth is here today")]
    summed = sequence_logprobs(model, [source, source], options, batch_size=2, description=None)
    mean = sequence_logprobs(model, [source, source], options, batch_size=2, description=None, mean=True)
    assert len(options[0]) != len(options[1]), "the two options must differ in length for the test to bite"
    assert mean == pytest.approx([total / len(option) for total, option in zip(summed, options)], rel=1e-6)


def test_a_multiple_choice_task_scores_its_options_as_its_option_score_says(tiny):
    model, tokenizer = tiny
    frame = pd.DataFrame(
        {
            "row_id": ["a", "b"],
            "context": ["Ann met Beth.", "It rained."],
            "question": ["Who?", "What then?"],
            "options": [["ann", "beth was there all day"], ["wet streets everywhere in town", "sun"]],
            "label": [0, 1],
        }
    )
    prompt = prompt_for("multiple_choice", None)
    scores = {
        how: answerer(model, tokenizer, "multiple_choice", TextTask(prompt, 16, how), 64, frame, 4)([0, 1], None)
        for how in ("sum", "mean")
    }
    for row, (summed, mean) in enumerate(zip(scores["sum"], scores["mean"])):
        lengths = [len(ids) for ids in (tokenizer(text_target=o)["input_ids"] for o in frame.loc[row, "options"])]
        assert mean == pytest.approx([total / length for total, length in zip(summed, lengths)], rel=1e-5)


def test_generation_stops_at_eos_and_keeps_input_order(tiny):
    model, tokenizer = tiny
    sources = [tokenizer(text)["input_ids"] for text in ("short", "a much longer source sentence", "mid length one")]
    together = generate_ids(model, sources, max_new_tokens=5, batch_size=3, description=None)
    alone = [generate_ids(model, [source], 5, 1, None)[0] for source in sources]
    assert together == alone
    assert all(len(ids) <= 5 for ids in together)
