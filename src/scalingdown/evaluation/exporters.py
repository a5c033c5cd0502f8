"""Exports of a trained student: ONNX float32, ONNX int8 (dynamic, or static calibrated on texts) and PyTorch int8,
each a self-contained directory.

Every export directory holds the model, the student's config (with its label names) and tokenizer, and a
record (`scalingdown-export.json`) naming the variant, the student's parameter count and the student it came
from (its path and the sha256 of its weights), so that an export of a student that has changed since is
detectable (`stale_reason`).

ONNX: `torch.onnx.export` with the dynamo exporter (needs onnxscript), batch and sequence axes dynamic.
The TorchScript exporter (`dynamo=False`) also gave matching logits with torch 2.13, but it is deprecated
since torch 2.9 and warns that it froze data-dependent branches of transformers' mask code as constants;
optimum-onnx could not be installed beside transformers 5 (see `pipeline.names.export_variants`). The graph then
goes through ONNX Runtime's transformer optimizer (`onnxruntime.transformers.optimizer`, model type `bert`): it fuses
the residual Add and LayerNorm into SkipLayerNormalization and the bias Add and GELU into BiasGelu (attention does not
fuse: the dynamo exporter's attention-mask pattern is not one the optimizer matches); the record lists the fusions.

ONNX int8, dynamic (`onnx-int8`): `quantize_dynamic`, int8 weights, each activation quantized with a scale computed
from the batch it is in, so a text's probabilities depend (slightly) on its batch neighbours. Static
(`onnx-int8-static`): `quantize_static` in QDQ form, int8 weights per channel and uint8 activations whose scales are
calibrated once (MinMax) on texts of the task's training split; with fixed scales every text is computed alone,
whatever its batch (tests/evaluation/test_static_int8.py checks it to the last bit with batches padded to different
lengths).

PyTorch int8: `torch.ao.quantization.quantize_dynamic` on the Linear layers. The quantized weights are
stored as plain tensors in safetensors (per Linear: the int8 weight, its scale and zero point, the float
bias; every other tensor as it is), never as a pickle; `load_torch_int8` rebuilds the model from the config
and puts them back, which gives the same weights as quantizing the student again. Its size on disk is
that file's size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification, AutoTokenizer

from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.export_variants import export_refusal
from scalingdown.pipeline.names.families import CLASSIFICATION, FAMILIES, TEXT2TEXT, FamilyInfo
from scalingdown.pipeline.outputs.atomic import atomic_path, write_json

RECORD_NAME = "scalingdown-export.json"
# Every export directory is the `export` stage's output (its marker names it): only such a directory is replaced.
STAGE = "export"
RECORD_FORMAT = 1
ONNX_FILE = "model.onnx"
TORCH_INT8_FILE = "model-int8.safetensors"
# ONNX Runtime's transformer optimizer model type for every encoder classifier we export (BERT-style graphs).
OPTIMIZER_MODEL_TYPE = "bert"
# Two example texts of different lengths, so that the traced graph sees padding (shapes only; any text works).
_EXAMPLE_TEXTS = ["a short example", "a somewhat longer example sentence, traced for its shapes only"]


class ExportError(UserError, RuntimeError):
    """A model cannot be exported, or an export directory cannot be read."""


def weights_sha256(model_dir: str | Path) -> str:
    """sha256 over a model directory's weight files (`*.safetensors`, by name then content, in name order)."""
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise ExportError(f"{model_dir}: no *.safetensors weights (expected a saved Hugging Face model directory)")
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode("utf-8"))
        digest.update(bytes.fromhex(_file_sha256(file)))
    return digest.hexdigest()


def read_record(export_dir: str | Path) -> dict[str, Any] | None:
    """The export record of a directory, or None when it is not an export."""
    path = Path(export_dir) / RECORD_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(f"{path}: not a readable export record ({error})") from error
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ExportError(f"{path}: expected an export record with format {RECORD_FORMAT}")
    return record


def export_record(export_dir: str | Path) -> dict[str, Any]:
    """The record of an export directory; `UserError` when it holds none."""
    record = read_record(export_dir)
    if record is None:
        raise UserError(f"{export_dir}: not an export (no scalingdown-export.json); run the export stage first")
    return record


def stale_reason(export_dir: str | Path) -> str | None:
    """Why an export no longer matches its student (weights changed or gone); None when it matches."""
    record = read_record(export_dir)
    if record is None:
        raise ExportError(f"{export_dir}: no {RECORD_NAME}; not an export directory")
    student = Path(record["student"]["path"])
    if not student.is_dir():
        return f"{export_dir}: its student {student} no longer exists"
    if weights_sha256(student) != record["student"]["weights_sha256"]:
        return f"{export_dir}: its student {student} has changed since it was exported"
    return None


def export_onnx(student_dir: str | Path, out_dir: str | Path, optimize: bool = True) -> dict[str, Any]:
    """ONNX float32 graph of a sequence classifier with dynamic batch and sequence axes, in `out_dir`; with
    `optimize` (the workflow's), fused by ONNX Runtime's transformer optimizer (`optimize_graph`).

    Refuses (ExportError) the models `pipeline.names.export_variants.export_refusal` refuses. Returns the export record.
    """
    with atomic_path(out_dir, STAGE) as temporary:
        temporary.mkdir()
        record = _write_onnx(Path(student_dir), temporary)
        if optimize:
            record["graph_optimization"] = optimize_graph(temporary / ONNX_FILE, AutoConfig.from_pretrained(temporary))
        write_json(temporary / RECORD_NAME, record)
    return record


def export_onnx_int8(onnx_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """The graph of an onnx-fp32 export with int8 weights (`onnxruntime.quantization.quantize_dynamic`), in `out_dir`.

    Refuses a source that is not an onnx-fp32 export or whose student has changed since. Returns the record.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, record = _checked_onnx_source(onnx_dir)
    with atomic_path(out_dir, STAGE) as temporary:
        temporary.mkdir()
        float_path = _shapeless_copy(source, temporary)
        with _without_preprocessing_advice():
            quantize_dynamic(
                float_path, temporary / ONNX_FILE, weight_type=QuantType.QInt8, extra_options=_QUANTIZER_OPTIONS
            )
        float_path.unlink()
        _copy_config_and_tokenizer(source, temporary)
        record.update(
            variant="onnx-int8",
            size_mb=_size_mb(temporary / ONNX_FILE),
            quantization="onnxruntime dynamic, QInt8 weights",
            graph={"path": str(source.resolve()), "sha256": _file_sha256(source / ONNX_FILE)},
        )
        write_json(temporary / RECORD_NAME, record)
    return record


def export_onnx_int8_static(
    onnx_dir: str | Path, out_dir: str | Path, texts: Sequence[str], max_length: int
) -> dict[str, Any]:
    """The graph of an onnx-fp32 export in static int8 QDQ form (`onnxruntime.quantization.quantize_static`):
    int8 weights per channel, uint8 activations with scales calibrated (MinMax) on `texts`, each run alone and
    truncated to `max_length` tokens as the student reads them. Returns the record."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not texts:
        raise ExportError(f"{onnx_dir}: no calibration texts for a static int8 export")
    source, record = _checked_onnx_source(onnx_dir)
    tokenizer = AutoTokenizer.from_pretrained(source)
    with atomic_path(out_dir, STAGE) as temporary:
        temporary.mkdir()
        float_path = _shapeless_copy(source, temporary)
        with _without_preprocessing_advice():
            quantize_static(
                float_path,
                temporary / ONNX_FILE,
                _CalibrationTexts(tokenizer, list(texts), max_length, record["input_names"]),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=list(STATIC_OPS),
                calibrate_method=CalibrationMethod.MinMax,
                extra_options=_QUANTIZER_OPTIONS,
            )
        float_path.unlink()
        _copy_config_and_tokenizer(source, temporary)
        record.update(
            variant="onnx-int8-static",
            size_mb=_size_mb(temporary / ONNX_FILE),
            quantization=(
                "onnxruntime static QDQ: QInt8 weights per channel, QUInt8 activations, "
                f"{', '.join(STATIC_OPS)} inputs; MinMax calibration"
            ),
            calibration={"texts": len(texts), "max_length": max_length, "method": "MinMax"},
            graph={"path": str(source.resolve()), "sha256": _file_sha256(source / ONNX_FILE)},
        )
        write_json(temporary / RECORD_NAME, record)
    return record


# The fused operators' domain (ONNX Runtime's contrib operators).
CONTRIB_DOMAIN = "com.microsoft"
# Shape inference gives no type to the outputs of the fused (contrib-domain) operators; they are all float32.
_QUANTIZER_OPTIONS = {"DefaultTensorType": 1}  # onnx.TensorProto.FLOAT
# The operators whose inputs static int8 quantizes: the matrix products, where the time goes, and the embedding
# lookups, most of the weights (as dynamic int8 does). LayerNorm, softmax and GELU stay in float32 between them, which
# keeps the fused float kernels.
STATIC_OPS = ("MatMul", "Gemm", "Gather")


class _CalibrationTexts:
    """ONNX Runtime's calibration reader (`CalibrationDataReader` protocol: `get_next`) over texts, one at a time."""

    def __init__(self, tokenizer: Any, texts: list[str], max_length: int, input_names: list[str]) -> None:
        self.tokenizer, self.max_length, self.input_names = tokenizer, max_length, input_names
        self.texts = iter(texts)

    def get_next(self) -> dict[str, Any] | None:
        """The next text's graph inputs, or None when every text has been read."""
        text = next(self.texts, None)
        if text is None:
            return None
        encoded = self.tokenizer([text], truncation=True, max_length=self.max_length, return_tensors="np")
        return {name: encoded[name].astype("int64") for name in self.input_names}


def optimize_graph(path: Path, config: Any) -> dict[str, Any]:
    """Fuse the ONNX graph at `path` in place with ONNX Runtime's transformer optimizer (Python fusions only: the
    session applies its own when it loads); returns what was fused (operator → count, those above 0)."""
    from onnxruntime.transformers import optimizer

    with _quiet_optimizer():
        optimized = optimizer.optimize_model(
            str(path),
            model_type=OPTIMIZER_MODEL_TYPE,
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,
        )
        optimized.save_model_to_file(str(path))
    fused = {name: int(count) for name, count in optimized.get_fused_operator_statistics().items() if count}
    return {"tool": "onnxruntime.transformers.optimizer", "model_type": OPTIMIZER_MODEL_TYPE, "fused": fused}


def export_torch_int8(student_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """The student with int8 Linear layers (torch dynamic quantization), stored as safetensors in `out_dir`.

    Works for sequence classifiers and text-to-text (T5-family) models.
    """
    student = Path(student_dir)
    config = _student_config(student)
    model = _model_class(config).from_pretrained(student, use_safetensors=True).eval()
    params = _parameters(model)
    with atomic_path(out_dir, STAGE) as temporary:
        temporary.mkdir()
        tensors = _int8_tensors(quantize_linears(model, inplace=True))
        save_file(tensors, temporary / TORCH_INT8_FILE, metadata={"format": "pt"})
        _copy_config_and_tokenizer(student, temporary)
        size_mb = _size_mb(temporary / TORCH_INT8_FILE)
        record = _record("torch-int8", student, config, TORCH_INT8_FILE, size_mb, params)
        record["quantization"] = "dynamic, qint8, per-tensor, Linear layers"
        write_json(temporary / RECORD_NAME, record)
    return record


def load_torch_int8(export_dir: str | Path) -> torch.nn.Module:
    """The model of a torch-int8 export: built from its config, quantized, its int8 weights put back."""
    directory = Path(export_dir)
    config = AutoConfig.from_pretrained(directory)
    model = quantize_linears(_model_class(config).from_config(config).eval(), inplace=True)
    stored = load_file(directory / TORCH_INT8_FILE)
    quantized = _quantized_linears(model)
    for name, module in cast(dict[str, Any], quantized).items():
        weight = torch._make_per_tensor_quantized_tensor(
            stored.pop(f"{name}.weight"),
            float(stored.pop(f"{name}.weight_scale")),
            int(stored.pop(f"{name}.weight_zero_point")),
        )
        module.set_weight_bias(weight, stored.pop(f"{name}.bias", None))
    state = model.state_dict()
    plain = _plain_keys(state, quantized)
    aliases = _aliases(state)
    unloaded = sorted(key for key in plain if not aliases.get(key, {key}) & stored.keys())
    mismatched = sorted(key for key in stored if key not in plain or state[key].shape != stored[key].shape)
    if unloaded or mismatched:
        raise ExportError(
            f"{directory / TORCH_INT8_FILE}: does not fit its config.json "
            f"(missing {unloaded[:5]}, unexpected or misshapen {mismatched[:5]})"
        )
    with torch.no_grad():
        for key, value in stored.items():
            state[key].copy_(value)  # state_dict tensors share storage with the model's parameters and buffers
    return model


def _checked_onnx_source(onnx_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """An onnx-fp32 export directory to quantize and its record; ExportError when it is not one or its student
    has changed since."""
    source = Path(onnx_dir)
    record = read_record(source)
    if record is None or record["variant"] != "onnx-fp32":
        raise ExportError(f"{source}: expected an onnx-fp32 export directory (with {RECORD_NAME}) to quantize")
    problem = stale_reason(source)
    if problem:
        raise ExportError(f"{problem}; export it again before quantizing")
    return source, record


def _shapeless_copy(source: Path, directory: Path) -> Path:
    """The source graph saved in `directory` without the exporter's intermediate shape annotations (they trip the
    quantizer's own shape inference, "Inferred shape and existing shape differ", and are hints only), the fused
    operators' outputs typed."""
    import onnx

    graph = onnx.load(source / ONNX_FILE)
    del graph.graph.value_info[:]
    # ONNX's shape inference knows no type for the outputs of ONNX Runtime's fused operators (all float32); without
    # one the quantizers would leave the matrix products after them in float.
    graph.graph.value_info.extend(
        onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)
        for node in graph.graph.node
        if node.domain == CONTRIB_DOMAIN
        for output in node.output
        if output
    )
    float_path = directory / "float.onnx"
    onnx.save(graph, float_path)
    return float_path


def _write_onnx(student: Path, directory: Path) -> dict[str, Any]:
    """Export the student's graph to `directory / ONNX_FILE` beside its config and tokenizer; the record."""
    import onnx

    config = _student_config(student)
    problem = export_refusal("onnx-fp32", _family(config), config.model_type)
    if problem:
        raise ExportError(f"{student}: {problem}")
    model = AutoModelForSequenceClassification.from_pretrained(student, use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(student)
    names = [name for name in tokenizer.model_input_names if name in _LogitsOnly.INPUTS]
    example = tokenizer(_EXAMPLE_TEXTS, padding=True, return_tensors="pt")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings():
        # The exporter says it merges the axis names of inputs that share a dimension, which is intended.
        warnings.filterwarnings("ignore", message="# The axis name")
        warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec", category=FutureWarning)  # torch-internal
        torch.onnx.export(
            _LogitsOnly(model).eval(),
            (),
            str(directory / ONNX_FILE),
            kwargs={name: example[name] for name in names},
            input_names=names,
            output_names=["logits"],
            dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    _copy_config_and_tokenizer(student, directory)
    graph = onnx.load(directory / ONNX_FILE, load_external_data=False)
    record = _record("onnx-fp32", student, config, ONNX_FILE, _size_mb(directory / ONNX_FILE), _parameters(model))
    record["input_names"] = names
    record["opset"] = next(entry.version for entry in graph.opset_import if entry.domain in ("", "ai.onnx"))
    return record


class _LogitsOnly(torch.nn.Module):
    """A classifier whose forward takes named token tensors and returns its logits only (what ONNX exports)."""

    INPUTS = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        logits: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        return logits


def _student_config(student_dir: str | Path) -> Any:
    directory = Path(student_dir)
    if not (directory / "config.json").is_file():
        raise ExportError(f"{directory}: no config.json; expected a saved Hugging Face model directory")
    return AutoConfig.from_pretrained(directory)


def _family(config: Any) -> FamilyInfo:
    """The model family of a saved student, told by its config: text-to-text for an encoder-decoder."""
    return FAMILIES[TEXT2TEXT if getattr(config, "is_encoder_decoder", False) else CLASSIFICATION]


def _model_class(config: Any) -> Any:
    return AutoModelForSeq2SeqLM if _family(config).generative else AutoModelForSequenceClassification


def quantize_linears(model: torch.nn.Module, inplace: bool = False) -> torch.nn.Module:
    """`model` (a copy unless `inplace`) with dynamic int8 Linear layers (per-tensor qint8).

    torch.ao.quantization is deprecated in favour of torchao but still works in torch 2.13; its notices are hidden.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor")
        quantized: torch.nn.Module = torch.ao.quantization.quantize_dynamic(
            model, {torch.nn.Linear}, dtype=torch.qint8, inplace=inplace
        )
        return quantized


def _quantized_linears(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The model's dynamically quantized Linear layers by module name."""
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear)
    }


def _plain_keys(state: dict[str, Any], quantized: dict[str, torch.nn.Module]) -> set[str]:
    """State keys outside the quantized Linear layers (stored and loaded as they are)."""
    return {key for key in state if not any(key.startswith(f"{name}.") for name in quantized)}


def _int8_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Plain tensors that rebuild a dynamically quantized model: int8 Linear weights with scale and zero point."""
    tensors: dict[str, torch.Tensor] = {}
    quantized = _quantized_linears(model)
    for name, module in cast(dict[str, Any], quantized).items():
        weight, bias = module._weight_bias()
        tensors[f"{name}.weight"] = weight.int_repr()
        tensors[f"{name}.weight_scale"] = torch.tensor(weight.q_scale(), dtype=torch.float64)
        tensors[f"{name}.weight_zero_point"] = torch.tensor(weight.q_zero_point(), dtype=torch.int64)
        if bias is not None:
            tensors[f"{name}.bias"] = bias.detach()
    state = model.state_dict()
    stored_storage: set[int] = set()
    for key in sorted(_plain_keys(state, quantized)):
        value = state[key]
        if value.numel() and value.data_ptr() in stored_storage:  # a tied weight (e.g. T5's embeddings): once
            continue
        stored_storage.add(value.data_ptr())
        tensors[key] = value.contiguous()
    return tensors


def _aliases(state: dict[str, Any]) -> dict[str, set[str]]:
    """For each tensor key, the keys of the tensors that share its storage (tied weights)."""
    groups: dict[int, set[str]] = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and not value.is_quantized and value.numel():
            groups.setdefault(value.data_ptr(), set()).add(key)
    return {key: group for group in groups.values() for key in group}


def _copy_config_and_tokenizer(student: Path, directory: Path) -> None:
    AutoConfig.from_pretrained(student).save_pretrained(directory)
    AutoTokenizer.from_pretrained(student).save_pretrained(directory)


def _record(variant: str, student: Path, config: Any, weights_file: str, size_mb: float, params: int) -> dict[str, Any]:
    text_to_text = _family(config).generative
    return {
        "format": RECORD_FORMAT,
        "variant": variant,
        "task": "text-to-text" if text_to_text else "classification",
        "model_type": config.model_type,
        "labels": None if text_to_text else [str(config.id2label[index]) for index in range(config.num_labels)],
        "student": {"path": str(student.resolve()), "weights_sha256": weights_sha256(student)},
        "weights_file": weights_file,
        "size_mb": size_mb,
        "params": params,
        "versions": {package: version(package) for package in ("torch", "transformers", "onnx", "onnxruntime")},
    }


def _parameters(model: torch.nn.Module) -> int:
    """The student's parameter count (quantizing changes how weights are stored, not how many there are)."""
    return sum(parameter.numel() for parameter in model.parameters())


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _size_mb(path: Path) -> float:
    return path.stat().st_size / 2**20


@contextmanager
def _quiet_optimizer() -> Iterator[None]:
    """Keep the transformer optimizer's per-fusion INFO lines and its warnings about patterns it does not fuse out of
    the stage's log (the record lists what was fused)."""
    logger = logging.getLogger("onnxruntime.transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@contextmanager
def _without_preprocessing_advice() -> Iterator[None]:
    """Drop onnxruntime's advice to pre-process before quantizing (a root-logger warning).

    Its pre-processing (`quant_pre_process`) stops at "Incomplete symbolic shape inference" on these graphs.
    """

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)
