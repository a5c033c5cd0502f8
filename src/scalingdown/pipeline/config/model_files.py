"""How deep a configured model is, and of which type, read before any job runs (no weights, no transformers).

Used by the config check to refuse layer numbers a model does not have and exports its architecture cannot
take. Depth and type come from the tiny reference itself (a `bert2bert:` reference has its BERT's depth on both
sides) or from the `config.json` of a local model (a directory or an installed package); a Hub model's are known
only once it is downloaded, so they are looked up in the local Hugging Face cache and otherwise left to the stage
that loads it (which checks the same).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalingdown.pipeline.names.model_refs import ModelLoadError, package_folder, package_model_dir

_TINY = re.compile(r"^(?P<arch>bert|t5|llama)-l(?P<layers>\d+)-h\d+$")


@dataclass(frozen=True)
class Depth:
    """Transformer blocks of the encoder and (for encoder-decoders) the decoder."""

    encoder: int
    decoder: int | None = None


def _from_config(config: dict[str, Any]) -> Depth | None:
    if isinstance(config.get("encoder"), dict) and isinstance(config.get("decoder"), dict):  # EncoderDecoderModel
        encoder, decoder = _from_config(config["encoder"]), _from_config(config["decoder"])
        return Depth(encoder.encoder, decoder.encoder) if encoder and decoder else None
    if "num_layers" in config:  # T5 family
        return Depth(int(config["num_layers"]), int(config.get("num_decoder_layers") or config["num_layers"]))
    for key in ("num_hidden_layers", "n_layers", "n_layer"):
        if key in config:
            return Depth(int(config[key]))
    return None


def model_file(ref: str, name: str, workdir: Path | None = None) -> Path | None:
    """The path of file `name` of a model reference when it is on this machine (a directory, an installed
    package, the local Hugging Face cache), else None; `bert2bert:<ref>` reads the files of `<ref>`."""
    scheme, _, rest = ref.partition(":")
    if scheme == "bert2bert":
        return model_file(rest, name, workdir)
    if scheme == "tiny":
        return None
    if scheme == "package":
        try:
            return package_model_dir(rest) / name
        except ModelLoadError:
            return None
    if scheme == "hub":
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        repo, _, revision = rest.partition("@")
        found = try_to_load_from_cache(repo, name, revision=revision or None)
        return Path(found) if isinstance(found, str) else None
    path = Path(ref)
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    return path / name


def model_depth(ref: str, workdir: Path | None = None) -> Depth | None:
    """The depth of a model reference, or None where it cannot be known without downloading it."""
    scheme, _, rest = ref.partition(":")
    if scheme == "bert2bert":  # the BERT's blocks on both sides
        inner = model_depth(rest, workdir)
        return None if inner is None else Depth(inner.encoder, inner.encoder)
    if scheme == "tiny":
        match = _TINY.match(rest)
        if not match:
            return None
        layers = int(match["layers"])
        return Depth(layers, layers if match["arch"] == "t5" else None)
    config = model_config(ref, workdir)
    try:
        return None if config is None else _from_config(config)
    except (TypeError, ValueError):
        return None


def model_config(ref: str, workdir: Path | None = None) -> dict[str, Any] | None:
    """The `config.json` of a local or packaged model, or of a Hub model in the local cache; None otherwise."""
    return model_json(ref, "config.json", workdir)


def model_json(ref: str, name: str, workdir: Path | None = None) -> dict[str, Any] | None:
    """The content of JSON file `name` of a model reference (e.g. `config.json`), or None where it is not on
    this machine or not a JSON object."""
    path = model_file(ref, name, workdir)
    if path is None or not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


def model_type(ref: str, workdir: Path | None = None) -> str | None:
    """The `model_type` of a model reference's config (`bert`, `t5`, …), or None where it cannot be known
    without downloading the model."""
    scheme, _, rest = ref.partition(":")
    if scheme == "bert2bert":
        return "encoder-decoder"
    if scheme == "tiny":
        match = _TINY.match(rest)
        return match["arch"] if match else None
    config = model_config(ref, workdir)
    found = None if config is None else config.get("model_type")
    return found if isinstance(found, str) else None


def is_causal_lm(ref: str, workdir: Path | None = None) -> bool | None:
    """Whether a reference is a decoder-only causal LM (a tiny Llama, a package shipping a GGUF file, or a config
    whose architectures are `…ForCausalLM` without an encoder), or None where its files are not on this machine."""
    scheme, _, rest = ref.partition(":")
    if scheme == "tiny":
        return rest.startswith("llama-")
    if scheme == "bert2bert":
        return False
    if scheme == "package":
        folder = package_folder(rest)
        if folder is not None and any(folder.glob("*.gguf")):
            return True
    config = model_config(ref, workdir)
    if config is None:
        return None
    architectures = config.get("architectures") or []
    return not config.get("is_encoder_decoder", False) and any(
        isinstance(name, str) and name.endswith("ForCausalLM") for name in architectures
    )
