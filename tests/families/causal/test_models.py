"""Causal LMs by reference and depth pruning: kept blocks renumbered for the KV cache, tied embeddings kept."""

import pytest
import torch

from scalingdown.families.causal.models import keep_blocks, load_causal
from scalingdown.models.loading import load_tokenizer
from scalingdown.pipeline.names.model_refs import ModelLoadError


def test_a_tiny_llama_has_the_shape_its_reference_names_and_the_tiny_tokenizer():
    model = load_causal("tiny:llama-l3-h32", seed=1)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.config.num_hidden_layers == 3 and model.config.hidden_size == 32
    assert model.config.vocab_size == len(load_tokenizer("tiny:llama-l3-h32"))


def test_pruned_blocks_are_renumbered_so_that_cached_generation_matches_uncached(tmp_path):
    model = keep_blocks(load_causal("tiny:llama-l6-h32", seed=1), [0, 2, 4])
    assert model.config.num_hidden_layers == 3
    assert [block.self_attn.layer_idx for block in model.model.layers] == [0, 1, 2]
    prompt = torch.tensor([[2000, 2003, 1037, 3231]])
    with torch.no_grad():
        cached = model.generate(prompt, max_new_tokens=6, do_sample=False, use_cache=True)
        uncached = model.generate(prompt, max_new_tokens=6, do_sample=False, use_cache=False)
    assert cached.tolist() == uncached.tolist()
    model.save_pretrained(tmp_path)
    load_tokenizer("tiny:llama-l6-h32").save_pretrained(tmp_path)  # a model directory holds its tokenizer
    reloaded = load_causal(str(tmp_path))
    assert reloaded.config.num_hidden_layers == 3
    assert reloaded.lm_head.weight.data_ptr() == reloaded.model.embed_tokens.weight.data_ptr()  # still tied
    torch.testing.assert_close(reloaded.model.layers[1].mlp.up_proj.weight, model.model.layers[1].mlp.up_proj.weight)


def test_a_causal_model_directory_without_its_tokenizer_is_refused_before_it_loads(tmp_path):
    load_causal("tiny:llama-l1-h16", seed=1).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match=r"holds no tokenizer \(none of tokenizer.json"):
        load_causal(str(tmp_path))
