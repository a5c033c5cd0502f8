"""Which export variants exist and which models each can take (standard library only: the config check imports it).

ONNX graphs are written by `torch.onnx.export` (the dynamo exporter). optimum-onnx, the library that exports
text-to-text models with their decoder loop, could not be used: its only release (0.1.0) requires
transformers < 4.58, and this project runs transformers 5. So text-to-text students ship as PyTorch int8 only.
"""

from __future__ import annotations

# Directory name of each variant under a student's export folder, and what the variant is.
VARIANTS: dict[str, str] = {
    "onnx-fp32": "ONNX graph, float32 weights (dynamic batch and sequence axes)",
    "onnx-int8": "the ONNX graph with int8 weights (onnxruntime dynamic quantization)",
    "torch-int8": "PyTorch with int8 Linear layers (torch dynamic quantization)",
}
# Encoder architectures (`config.model_type`) whose sequence classifiers were exported to ONNX and matched
# PyTorch's logits with transformers 5.24 and torch 2.13; others may work but are refused rather than guessed.
ONNX_CLASSIFIER_TYPES = ("bert", "distilbert", "roberta", "xlm-roberta", "electra", "albert", "deberta-v2", "mpnet")


def export_refusal(variant: str, text_to_text: bool, model_type: str) -> str | None:
    """Why `variant` cannot be exported for a model of `model_type`; None when it can.

    `text_to_text`: whether the model is a text-to-text (T5-family) student rather than a classifier;
    `model_type` is the model config's `model_type` (e.g. "bert", "t5").
    """
    if variant not in VARIANTS:
        return f"unknown export variant {variant!r}; expected one of {', '.join(VARIANTS)}"
    if variant == "torch-int8":
        return None
    if text_to_text:
        return (
            f"{variant}: text-to-text ({model_type}) models are not exported to ONNX: that needs optimum-onnx, "
            "whose only release requires transformers < 4.58 (this project uses transformers 5); "
            "use the torch-int8 variant"
        )
    if model_type not in ONNX_CLASSIFIER_TYPES:
        return (
            f"{variant}: ONNX export is supported for {', '.join(ONNX_CLASSIFIER_TYPES)} classifiers, "
            f"not {model_type!r}; use the torch-int8 variant"
        )
    return None
