"""What a model directory must hold before anything loads it: a `config.json` that parses, the files of a
tokenizer, and whole weights. Without them transformers fails with a traceback (a truncated `config.json`) or,
worse, goes on: a directory without tokenizer files gets an empty tokenizer that turns every word into `[UNK]`,
so every text gets the same prediction. Standard library only: the weights are checked by the layout of their
safetensors header, never loaded.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path

from scalingdown.pipeline.errors import UserError

CONFIG = "config.json"
# Any one of these holds a tokenizer's vocabulary (fast tokenizers, WordPiece, BPE, SentencePiece).
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
# Tokenizer files that are JSON, checked to parse when present.
TOKENIZER_JSON = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
SAFETENSORS_WEIGHTS = "*.safetensors"
# A safetensors file starts with the length of its JSON header as a little-endian unsigned 64-bit integer.
_LENGTH = struct.Struct("<Q")


class ModelFilesError(UserError, ValueError):
    """A model directory lacks a file it needs, or holds a broken one."""


def check_model_dir(directory: str | Path, weights: Sequence[str] = (SAFETENSORS_WEIGHTS,)) -> None:
    """Raise `ModelFilesError` (one line naming the directory and the file) unless `directory` holds a config,
    a tokenizer and its weights: the files (or glob patterns) `weights`, each present and whole."""
    problem = model_dir_problem(Path(directory), weights)
    if problem is not None:
        raise ModelFilesError(f"{directory}: {problem}")


def model_dir_problem(directory: Path, weights: Sequence[str] = (SAFETENSORS_WEIGHTS,)) -> str | None:
    """What `check_model_dir` refuses in `directory`, or None."""
    if not directory.is_dir():
        return "no such model directory"
    for name in (CONFIG, *TOKENIZER_JSON):
        if name == CONFIG or (directory / name).exists():
            problem = _json_object_problem(directory / name)
            if problem:
                return problem
    if not any((directory / name).is_file() for name in VOCABULARY_FILES):
        return (
            f"holds no tokenizer (none of {', '.join(VOCABULARY_FILES)}); save the tokenizer with the model "
            "(tokenizer.save_pretrained) or copy its files here"
        )
    for pattern in weights:
        files = sorted(directory.glob(pattern))
        if not files:
            return f"holds no weights ({pattern}); expected a saved model directory"
        for file in files:
            problem = _weights_problem(file) if file.suffix == ".safetensors" else _nonempty_problem(file)
            if problem:
                return problem
    return None


def _json_object_problem(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"has no {path.name}; expected a saved model directory"
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return f"{path.name} is not readable JSON ({error}); the file is truncated or damaged"
    return None if isinstance(value, dict) else f"{path.name} holds no JSON object"


def _nonempty_problem(path: Path) -> str | None:
    return f"{path.name} is empty" if path.stat().st_size == 0 else None


def _weights_problem(path: Path) -> str | None:
    """Whether a safetensors file is whole: its header parses and every tensor's bytes are in the file."""
    size = path.stat().st_size
    broken = f"{path.name} is not a whole safetensors file"
    try:
        with path.open("rb") as handle:
            prefix = handle.read(_LENGTH.size)
            if len(prefix) < _LENGTH.size:
                return f"{broken} ({size} bytes)"
            (length,) = _LENGTH.unpack(prefix)
            if length > size - _LENGTH.size:
                return f"{broken} (its header runs past the end of the file: truncated)"
            header = json.loads(handle.read(length))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return f"{broken} ({error})"
    if not isinstance(header, dict):
        return f"{broken} (its header is not a JSON object)"
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict) and isinstance(entry.get("data_offsets"), list)
    ]
    if max(ends, default=0) > size - _LENGTH.size - length:
        return f"{broken} (its tensors run past the end of the file: truncated)"
    return None
