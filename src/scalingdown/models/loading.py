"""Loading models and tokenizers from references (see `scalingdown.refs` for the forms).

Weights load from safetensors only; `trust_remote_code` stays off unless a stage's spec turns it
on for a model whose config asks for it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from scalingdown.models import encoder_decoder, gguf
from scalingdown.models.model_dirs import SAFETENSORS_WEIGHTS, model_dir_problem
from scalingdown.pipeline.names.model_refs import (
    BERT2BERT,
    TINY_TOKENIZER_PACKAGE,
    ModelLoadError,
    ModelRef,
    package_gguf,
    package_model_dir,
)
from scalingdown.pipeline.names.tiny_models import tiny_problem, tiny_shape

# Tiny models borrow the real WordPiece vocabulary of package TINY_TOKENIZER_PACKAGE; tiny T5s make it T5-like:
# no [CLS], `[SEP]` ends every sequence (the EOS), `[PAD]` (id 0) pads and starts the decoder.
TINY_T5_EOS, TINY_T5_PAD = "[SEP]", "[PAD]"
# Tiny Llamas read the same vocabulary as a causal LM does: no tokens added around a text, `[SEP]` ends a turn (the
# EOS), `[PAD]` pads, and a chat template of `role: content [SEP]` turns.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


log = logging.getLogger(__name__)


# Whether this process may run code shipped with a model (`trust_remote_code`). Off unless the
# stage's spec turns it on, which the workflow does only for a model whose config sets
# `trust_remote_code: true` (see `allow_remote_code`).
_REMOTE_CODE = {"allowed": False}


def allow_remote_code(allowed: bool) -> None:
    """Let this process's model loads run the model's own code (the stage spec's `trust_remote_code`)."""
    _REMOTE_CODE["allowed"] = bool(allowed)
    if allowed:
        log.warning("trust_remote_code is on for this stage: the model's own Python code will run")


def _pretrained_kwargs(ref: ModelRef) -> dict[str, object]:
    kwargs: dict[str, object] = {"trust_remote_code": _REMOTE_CODE["allowed"]}
    if ref.kind == "hub" and ref.revision:
        kwargs["revision"] = ref.revision
    return kwargs


def _location(parsed: ModelRef) -> str:
    """What `from_pretrained` receives: `parsed.location()`, a GGUF package's converted directory made first."""
    if parsed.kind == "package" and package_gguf(parsed.name) is not None:
        return str(gguf.ensure_converted(parsed.name, package_model_dir(parsed.name)))
    return parsed.location()


def pretrained_location(ref: str) -> tuple[str, dict[str, object]]:
    """The location `from_pretrained` loads a reference's weights from (a GGUF package is converted first, a model
    directory checked as `load_classifier` checks it) and its options (revision, `trust_remote_code`)."""
    parsed = ModelRef.parse(ref)
    _check_files(ref, parsed, weights=True)
    return _location(parsed), _pretrained_kwargs(parsed)


def _load_error(ref: str, error: Exception) -> ModelLoadError:
    hint = ""
    if ModelRef.parse(ref).kind == "hub":
        hint = " (no network? download it first with `huggingface-cli download` and set HF_HUB_OFFLINE=1)"
    return ModelLoadError(f"could not load {ref}{hint}: {error}")


def _check_files(ref: str, parsed: ModelRef, weights: bool) -> None:
    """A local model directory holds a config, a tokenizer and (when `weights`) whole weights, before transformers
    reads it (see `models.model_dirs`)."""
    if parsed.kind != "path":
        return
    problem = model_dir_problem(Path(parsed.name), (SAFETENSORS_WEIGHTS,) if weights else ())
    if problem is not None:
        raise ModelLoadError(f"could not load {ref}: {problem}")


def tiny_config(name: str, num_labels: int | None = None) -> PretrainedConfig:
    """The config of a built-in tiny model, e.g. `bert-l2-h32` or `t5-l2-h32`."""
    problem, shape = tiny_problem(name), tiny_shape(name)
    if problem is not None or shape is None:
        raise ModelLoadError(problem)
    layers, width = shape.layers, shape.width
    if shape.arch == "llama":
        tokenizer = tiny_causal_tokenizer()
        return AutoConfig.for_model(
            "llama",
            vocab_size=len(tokenizer),
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=layers,
            num_attention_heads=shape.heads,
            num_key_value_heads=shape.heads,
            max_position_embeddings=1024,
            tie_word_embeddings=True,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
        )
    if shape.arch == "t5":
        tokenizer = tiny_t5_tokenizer()
        return AutoConfig.for_model(
            "t5",
            vocab_size=len(tokenizer),
            d_model=width,
            d_kv=max(8, width // 4),
            d_ff=2 * width,
            num_layers=layers,
            num_decoder_layers=layers,
            num_heads=shape.heads,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    vocab = load_tokenizer(f"package:{TINY_TOKENIZER_PACKAGE}").vocab_size
    config = AutoConfig.for_model(
        "bert",
        vocab_size=vocab,
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=shape.heads,
        intermediate_size=4 * width,
        max_position_embeddings=shape.positions,
    )
    if num_labels is not None:
        config.num_labels = num_labels
    return config


def tiny_t5_tokenizer() -> PreTrainedTokenizerFast:
    """The bundled WordPiece tokenizer rebuilt T5-style: `text [SEP]`, padding with `[PAD]` (deterministic, offline)."""
    from tokenizers import Tokenizer, processors

    backend = Tokenizer.from_file(str(package_model_dir(TINY_TOKENIZER_PACKAGE) / "tokenizer.json"))
    backend.no_truncation()
    backend.no_padding()
    eos_id = backend.token_to_id(TINY_T5_EOS)
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {TINY_T5_EOS}", pair=f"$A {TINY_T5_EOS} $B {TINY_T5_EOS}", special_tokens=[(TINY_T5_EOS, eos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=TINY_T5_EOS, pad_token=TINY_T5_PAD, unk_token="[UNK]"
    )


def tiny_causal_tokenizer() -> PreTrainedTokenizerFast:
    """The bundled WordPiece tokenizer as a tiny Llama's: nothing added around a text, `[SEP]` as EOS, `[PAD]` for
    padding, and a chat template (deterministic, offline)."""
    from tokenizers import Tokenizer, processors

    backend = Tokenizer.from_file(str(package_model_dir(TINY_TOKENIZER_PACKAGE) / "tokenizer.json"))
    backend.no_truncation()
    backend.no_padding()
    backend.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B", special_tokens=[])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=TINY_T5_EOS, pad_token=TINY_T5_PAD, bos_token="[CLS]", unk_token="[UNK]"
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    return tokenizer


def load_tokenizer(ref: str) -> PreTrainedTokenizerBase:
    """The tokenizer of a model reference (tiny models use the bundled WordPiece vocabulary)."""
    parsed = ModelRef.parse(ref)
    if parsed.kind == BERT2BERT:
        return load_tokenizer(parsed.name)
    if parsed.kind == "tiny":
        if parsed.name.startswith("t5-"):
            return tiny_t5_tokenizer()
        if parsed.name.startswith("llama-"):
            return tiny_causal_tokenizer()
        return load_tokenizer(f"package:{TINY_TOKENIZER_PACKAGE}")
    _check_files(ref, parsed, weights=False)
    try:
        return AutoTokenizer.from_pretrained(_location(parsed), **_pretrained_kwargs(parsed))
    except (OSError, ValueError) as error:
        raise _load_error(ref, error) from error


def label_config(labels: list[str]) -> dict[str, object]:
    """Config fields that name the classifier's outputs."""
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: index for index, label in enumerate(labels)},
    }


def load_config(ref: str) -> PretrainedConfig:
    """The model config of a reference (without loading weights)."""
    parsed = ModelRef.parse(ref)
    if parsed.kind == "tiny":
        return tiny_config(parsed.name)
    try:
        config: PretrainedConfig = AutoConfig.from_pretrained(_location(parsed), **_pretrained_kwargs(parsed))
    except (OSError, ValueError) as error:
        raise _load_error(ref, error) from error
    return config


def load_classifier(ref: str, labels: list[str] | None = None, seed: int = 0) -> PreTrainedModel:
    """A sequence classifier from a reference; `labels` set a (new) head with those names."""
    parsed = ModelRef.parse(ref)
    heads = label_config(labels) if labels is not None else {}
    torch.manual_seed(seed)  # the initial weights of a tiny model or of a new head
    if parsed.kind == "tiny":
        config = tiny_config(parsed.name)
        for key, value in heads.items():
            setattr(config, key, value)
        built: PreTrainedModel = AutoModelForSequenceClassification.from_config(config)
        return built
    _check_files(ref, parsed, weights=True)
    # A new head replaces any existing one, whatever its size.
    overrides = {**heads, "ignore_mismatched_sizes": True} if heads else {}
    try:
        model: PreTrainedModel = AutoModelForSequenceClassification.from_pretrained(
            parsed.location(), use_safetensors=True, **overrides, **_pretrained_kwargs(parsed)
        )
    except (OSError, ValueError) as error:
        raise _load_error(ref, error) from error
    return model


def load_seq2seq(ref: str, seed: int = 0, pretrained: bool = True) -> PreTrainedModel:
    """A sequence-to-sequence LM (T5 family, BERT2BERT) from a reference; `pretrained=False` gives random weights."""
    parsed = ModelRef.parse(ref)
    if parsed.kind == BERT2BERT:
        return load_bert2bert(parsed.name, seed, pretrained)
    if parsed.kind == "tiny" or not pretrained:
        try:
            config = (
                tiny_config(parsed.name)
                if parsed.kind == "tiny"
                else AutoConfig.from_pretrained(parsed.location(), **_pretrained_kwargs(parsed))
            )
        except (OSError, ValueError) as error:
            raise _load_error(ref, error) from error
        torch.manual_seed(seed)
        built: PreTrainedModel = AutoModelForSeq2SeqLM.from_config(config)
        return built
    _check_files(ref, parsed, weights=True)
    try:
        model: PreTrainedModel = AutoModelForSeq2SeqLM.from_pretrained(
            parsed.location(), use_safetensors=True, **_pretrained_kwargs(parsed)
        )
    except (OSError, ValueError) as error:
        raise _load_error(ref, error) from error
    return model


def load_bert2bert(bert_ref: str, seed: int = 0, pretrained: bool = True) -> PreTrainedModel:
    """An encoder-decoder warm-started from a BERT-family reference on both sides (see
    `scalingdown.models.encoder_decoder`); with `pretrained=False` (or a tiny BERT) every weight is drawn
    with `seed`."""
    parsed = ModelRef.parse(bert_ref)
    torch.manual_seed(seed)
    if parsed.kind == "tiny" or not pretrained:
        model = encoder_decoder.from_bert_config(load_config(bert_ref), bert_ref)
    else:
        try:
            model = encoder_decoder.from_bert_checkpoint(
                parsed.location(), bert_ref, use_safetensors=True, **_pretrained_kwargs(parsed)
            )
        except (OSError, ValueError) as error:
            raise _load_error(bert_ref, error) from error
    return encoder_decoder.with_special_tokens(model, load_tokenizer(bert_ref))


def model_label_names(model: PreTrainedModel | PretrainedConfig, label_map: dict[str, str] | None = None) -> list[str]:
    """The label names of a classifier (or its config), in the order of its logits.

    `label_map` renames some of them (a teacher's configured `labels`, e.g. `{LABEL_0: positive}`).
    """
    config: Any = getattr(model, "config", model)
    names = [str(config.id2label[index]) for index in range(config.num_labels)]
    return [(label_map or {}).get(name, name) for name in names]


def inference_device() -> torch.device:
    """Where the inference stages run a model: the job's first GPU if it has one, else the CPU."""
    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on."""
    return next(model.parameters()).device


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(parameter.numel() for parameter in model.parameters())


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, Any]:
    """What identifies a tokenizer: its class, vocabulary size and a hash of the vocabulary."""
    vocabulary = sorted(tokenizer.get_vocab().items())
    digest = hashlib.sha256(repr(vocabulary).encode("utf-8")).hexdigest()
    return {"class": type(tokenizer).__name__, "vocab_size": len(vocabulary), "vocab_sha256": digest}
