"""The report's "Teachers" section: each teacher, their ensembles and how often they agree."""

from __future__ import annotations

from typing import Any

_METHOD_NAMES = {"uniform": "uniform", "validation": "weighted by validation accuracy",
                 "confidence": "weighted by confidence per example"}


def teachers_markdown(records: list[dict[str, Any]]) -> list[str]:
    """Markdown lines for the `teacher_ensemble` records (one per task); none without records."""
    lines: list[str] = []
    for record in records:
        lines += ["", f"## Teachers: {record['task']}", "",
                  "| Model | Accuracy | Macro-F1 | Validation accuracy |", "|---|---|---|---|"]
        for name, scores in record["teachers"].items():
            lines.append(f"| teacher {name} | {scores['accuracy']:.4f} | {scores['f1_macro']:.4f} "
                         f"| {scores['validation_accuracy']:.4f} |")
        for method, scores in record["ensembles"].items():
            lines.append(f"| ensemble ({_METHOD_NAMES.get(method, method)}) | {scores['accuracy']:.4f} "
                         f"| {scores['f1_macro']:.4f} | – |")
        agreement = record["agreement"]
        pairs = "; ".join(f"{pair}: {100 * share:.1f} %" for pair, share in agreement["pairwise"].items())
        lines += ["", f"On the {record['test_rows']} test rows all teachers predict the same label for "
                      f"{100 * agreement['all']:.1f} % (pairwise: {pairs}); at least one teacher is right on "
                      f"{100 * record['any_teacher_correct']:.1f} %. Scores come from the cached teacher logits."]
    return lines
