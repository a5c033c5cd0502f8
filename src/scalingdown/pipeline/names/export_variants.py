"""Which export variants exist, what the config calls them, and which models each can take.

Standard library only: the config check (`pipeline.config.checks`) refuses an impossible export before any job runs.
ONNX graphs are written by `torch.onnx.export` (the dynamo exporter). optimum-onnx, the library that exports
text-to-text models with their decoder loop, could not be used: its only release (0.1.0) requires
transformers < 4.58, and this project runs transformers 5. So text-to-text students ship as PyTorch int8 only.
"""

from __future__ import annotations

from scalingdown.pipeline.names.families import FamilyInfo

# Directory name of each variant under a student's export folder, and what the variant is.
VARIANTS: dict[str, str] = {
    "onnx-fp32": "ONNX graph, float32 weights (dynamic batch and sequence axes)",
    "onnx-int8": "the ONNX graph with int8 weights (onnxruntime dynamic quantization)",
    "onnx-int8-static": "the ONNX graph in static int8 (QDQ; activation scales calibrated on training texts)",
    "torch-int8": "PyTorch with int8 Linear layers (torch dynamic quantization)",
}
# The names a student's `export` list uses, and the variant each one builds.
CONFIG_NAMES: dict[str, str] = {
    "onnx": "onnx-fp32",
    "onnx-int8": "onnx-int8",
    "onnx-int8-static": "onnx-int8-static",
    "torch-int8": "torch-int8",
}
# How the report names each variant in a model's row ("distilled · ONNX int8"); `fp32` is the model as trained.
TITLES: dict[str, str] = {
    "onnx-fp32": "ONNX fp32",
    "onnx-int8": "ONNX int8",
    "onnx-int8-static": "ONNX int8 static",
    "torch-int8": "PyTorch int8",
}
ORIGINAL = "fp32"
# The variant another one is made from (ONNX int8 quantizes the float32 graph); the rest start from the student.
SOURCES: dict[str, str] = {"onnx-int8": "onnx-fp32", "onnx-int8-static": "onnx-fp32"}
# The variants calibrated on texts of the task's training split (their export job reads the prepared data).
CALIBRATED = ("onnx-int8-static",)
# Training texts a calibrated variant's activation scales are measured on (a seeded sample of the training split).
CALIBRATION_TEXTS = 256
# Encoder architectures (`config.model_type`) whose sequence classifiers were exported to ONNX and matched
# PyTorch's logits with transformers 5.24 and torch 2.13; others may work but are refused rather than guessed.
ONNX_CLASSIFIER_TYPES = ("bert", "distilbert", "roberta", "xlm-roberta", "electra", "albert", "deberta-v2", "mpnet")


def variants(config_names: list[str]) -> list[str]:
    """The variants a student's `export` list asks for, in the order of `VARIANTS`."""
    wanted = {CONFIG_NAMES[name] for name in config_names}
    return [variant for variant in VARIANTS if variant in wanted]


def variants_with_sources(wanted: list[str]) -> list[str]:
    """`wanted` variants and the variants they are made from, in the order of `VARIANTS`."""
    needed = set(wanted) | {SOURCES[variant] for variant in wanted if variant in SOURCES}
    return [variant for variant in VARIANTS if variant in needed]


def export_refusal(variant: str, family: FamilyInfo, model_type: str | None) -> str | None:
    """Why `variant` cannot be exported for a student of `family` whose model is of `model_type`; None when it can.

    `model_type` is the model config's `model_type` (e.g. "bert", "t5"), None when it is not known yet (a Hub
    model not downloaded; the export stage checks it then).
    """
    if variant not in VARIANTS:
        return f"unknown export variant {variant!r}; expected one of {', '.join(VARIANTS)}"
    if not family.export_variants:
        return (
            f"{family.name} models are not exported: the student's directory is the hand-off "
            "(transformers, vLLM and SGLang load it as it is)"
        )
    if variant == "torch-int8":
        return None
    if variant not in family.export_variants:  # the family's models generate text: no ONNX graph of their loop
        return (
            f"text-to-text ({model_type or 'T5-family'}) models are not exported to ONNX: that needs "
            "optimum-onnx, whose only release requires transformers < 4.58 (this project uses transformers 5); "
            "use torch-int8"
        )
    if model_type is not None and model_type not in ONNX_CLASSIFIER_TYPES:
        return (
            f"ONNX export is supported for {', '.join(ONNX_CLASSIFIER_TYPES)} classifiers, "
            f"not {model_type!r}; use torch-int8"
        )
    return None
