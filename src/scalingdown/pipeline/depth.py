"""How deep a configured model is, and of which type, read before any job runs (no weights, no transformers).

Used by the config check to refuse layer numbers a model does not have and exports its architecture cannot
take. Depth and type come from the tiny reference itself or from the `config.json` of a local model (a
directory or an installed package); a Hub model's are known only once it is downloaded, so they are looked up
in the local Hugging Face cache and otherwise left to the stage that loads it (which checks the same).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TINY = re.compile(r"^(?P<arch>bert|t5)-l(?P<layers>\d+)-h\d+$")


@dataclass(frozen=True)
class Depth:
    """Transformer blocks of the encoder and (for encoder-decoders) the decoder."""

    encoder: int
    decoder: int | None = None


def _from_config(config: dict[str, Any]) -> Depth | None:
    if "num_layers" in config:  # T5 family
        return Depth(int(config["num_layers"]), int(config.get("num_decoder_layers") or config["num_layers"]))
    for key in ("num_hidden_layers", "n_layers", "n_layer"):
        if key in config:
            return Depth(int(config[key]))
    return None


def _config_file(ref: str, workdir: Path | None) -> Path | None:
    scheme, _, rest = ref.partition(":")
    if scheme == "package":
        from scalingdown.pipeline.refs import ModelLoadError, package_model_dir

        try:
            return package_model_dir(rest) / "config.json"
        except ModelLoadError:
            return None
    if scheme == "hub":
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        name, _, revision = rest.partition("@")
        found = try_to_load_from_cache(name, "config.json", revision=revision or None)
        return Path(found) if isinstance(found, str) else None
    path = Path(ref)
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    return path / "config.json"


def model_depth(ref: str, workdir: Path | None = None) -> Depth | None:
    """The depth of a model reference, or None where it cannot be known without downloading it."""
    scheme, _, rest = ref.partition(":")
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
    path = _config_file(ref, workdir)
    if path is None or not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def model_type(ref: str, workdir: Path | None = None) -> str | None:
    """The `model_type` of a model reference's config (`bert`, `t5`, …), or None where it cannot be known
    without downloading the model."""
    scheme, _, rest = ref.partition(":")
    if scheme == "tiny":
        match = _TINY.match(rest)
        return match["arch"] if match else None
    config = model_config(ref, workdir)
    found = None if config is None else config.get("model_type")
    return found if isinstance(found, str) else None
