"""One way to run any shipped classifier: a Hugging Face model directory or an export of one.

`load_runtime(directory, threads)` recognises the directory by its export record (`scalingdown-export.json`,
see `scalingdown.evaluation.exporters`) or, without one, as a saved Hugging Face sequence classifier
(`runtime_for` also takes a model reference: `package:`, `tiny:`, `hub:`), and gives a `ClassifierRuntime`:
label names in logit order, `encode` + `call` (what a timing loop times), `logits` for many texts, and the
size of its weights on disk.

ONNX Runtime sessions get `threads` as their intra- and inter-op thread counts. PyTorch's thread count is
process-wide, so the caller sets it (`torch.set_num_threads`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from scalingdown.evaluation.exporters import ONNX_FILE, RECORD_NAME, load_torch_int8, read_record
from scalingdown.models.loading import load_classifier, load_tokenizer
from scalingdown.models.model_dirs import check_model_dir
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.model_refs import ModelRef

HF_VARIANT = "fp32"
# Whatever no tokenizer or model config says otherwise: the longest input a BERT-style encoder takes.
_FALLBACK_MAX_LENGTH = 512


class NotAClassifier(UserError, ValueError):
    """A directory that holds no classifier this runtime can run."""


class ClassifierRuntime(ABC):
    """A loaded classifier: its label names (logit order), how to encode and call it, its size on disk."""

    def __init__(
        self, directory: Path | None, variant: str, tokenizer: Any, config: Any, max_length: int | None
    ) -> None:
        self.directory = directory
        self.variant = variant
        self.tokenizer = tokenizer
        self.label_names = [str(config.id2label[index]) for index in range(config.num_labels)]
        self.max_length = max_length or _default_max_length(tokenizer, config)

    @property
    @abstractmethod
    def size_mb(self) -> float | None:
        """Size of the weight files on disk (MiB); None for a model built from a reference without a directory."""

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> Any:
        """The model's input for `texts` (one padded batch), ready for `call`."""

    @abstractmethod
    def call(self, encoded: Any) -> np.ndarray:
        """Logits (rows × labels, float32) of an encoded batch: the model call only, for timing."""

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Logits of `texts` in input order; batches are formed by text length to limit padding."""
        order = np.argsort([len(text) for text in texts], kind="stable")
        parts = [
            self.call(self.encode([texts[i] for i in order[start : start + batch_size]]))
            for start in range(0, len(texts), batch_size)
        ]
        result = np.empty((len(texts), len(self.label_names)), np.float32)
        if parts:
            result[order] = np.concatenate(parts)
        return result


class TorchRuntime(ClassifierRuntime):
    """A PyTorch classifier: the Hugging Face float32 model or the torch-int8 export (`directory` None: a model
    built from a reference, whose `tokenizer` is given)."""

    def __init__(
        self,
        directory: Path | None,
        variant: str,
        model: torch.nn.Module,
        max_length: int | None,
        tokenizer: Any = None,
    ) -> None:
        tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(directory)
        super().__init__(directory, variant, tokenizer, model.config, max_length)
        self.model = model.eval()
        self._weight_files = sorted(directory.glob("*.safetensors")) if directory is not None else None

    @property
    def size_mb(self) -> float | None:
        """The safetensors weights' size on disk (MiB); None for a model that was not loaded from a directory."""
        if self._weight_files is None:
            return None
        return sum(file.stat().st_size for file in self._weight_files) / 2**20

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """The texts tokenized as PyTorch inputs (padded, truncated to the maximum length)."""
        return dict(
            self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
        )

    @torch.inference_mode()
    def call(self, encoded: dict[str, torch.Tensor]) -> np.ndarray:
        """The model's logits on an encoded batch (float32, rows × labels)."""
        logits: np.ndarray = self.model(**encoded).logits.float().numpy()
        return logits


class OnnxRuntime(ClassifierRuntime):
    """An ONNX export (float32 or int8) run by an ONNX Runtime CPU session."""

    def __init__(self, directory: Path, variant: str, threads: int, max_length: int | None) -> None:
        import onnxruntime

        super().__init__(
            directory,
            variant,
            AutoTokenizer.from_pretrained(directory),
            AutoConfig.from_pretrained(directory),
            max_length,
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
        self.graph_file = directory / ONNX_FILE
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.graph_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime's own exception types (InvalidProtobuf, Fail, …) share no base
            found = " ".join(str(error).split())
            raise NotAClassifier(f"{self.graph_file}: not a readable ONNX graph ({found})") from error
        self.input_names = [item.name for item in self.session.get_inputs()]

    @property
    def size_mb(self) -> float:
        """The ONNX graph's size on disk (MiB)."""
        return self.graph_file.stat().st_size / 2**20

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The texts tokenized as the graph's numpy inputs (padded, truncated to the maximum length)."""
        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, padding=True, return_tensors="np"
        )
        return {name: encoded[name].astype(np.int64) for name in self.input_names}

    def call(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's logits on an encoded batch (rows × labels)."""
        logits: np.ndarray = self.session.run(["logits"], encoded)[0]
        return logits


def load_runtime(directory: str | Path, threads: int = 1, max_length: int | None = None) -> ClassifierRuntime:
    """The classifier in `directory`: a Hugging Face model directory, or an onnx-fp32/onnx-int8/torch-int8 export.

    `max_length` truncates inputs (default: the tokenizer's limit, at most the model's positions).
    """
    path = Path(directory)
    record = read_record(path) if path.is_dir() else None
    if record is not None:
        if record["task"] != "classification":
            raise NotAClassifier(f"{path}: a {record['task']} export; expected a classifier")
        check_model_dir(path, [str(record["weights_file"])])
        if record["variant"] == "torch-int8":
            return TorchRuntime(path, "torch-int8", load_torch_int8(path), max_length)
        return OnnxRuntime(path, record["variant"], threads, max_length)
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise NotAClassifier(
            f"{path}: holds no classifier; expected a Hugging Face model directory (config.json and *.safetensors) "
            f"or an export with {RECORD_NAME}"
        )
    check_model_dir(path)
    architectures = AutoConfig.from_pretrained(path).architectures or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise NotAClassifier(
            f"{path}: holds {', '.join(architectures) or 'a model of unknown architecture'}; "
            "expected a sequence classifier (…ForSequenceClassification)"
        )
    model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True)
    return TorchRuntime(path, HF_VARIANT, model, max_length)


def runtime_for(location: str, threads: int = 1, max_length: int | None = None) -> ClassifierRuntime:
    """The classifier at `location`: a directory (see `load_runtime`) or a model reference (`package:`,
    `tiny:`, `hub:`; run in PyTorch float32)."""
    if ModelRef.parse(location).kind == "path":
        return load_runtime(location, threads, max_length)
    model = load_classifier(location)
    return TorchRuntime(None, HF_VARIANT, model, max_length, tokenizer=load_tokenizer(location))


def _default_max_length(tokenizer: Any, config: Any) -> int:
    limits = [
        limit
        for limit in (getattr(tokenizer, "model_max_length", None), getattr(config, "max_position_embeddings", None))
        if isinstance(limit, int) and 0 < limit < 1_000_000  # tokenizers without a limit say 1e30
    ]
    return min(limits, default=_FALLBACK_MAX_LENGTH)
