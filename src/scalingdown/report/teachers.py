"""The report's "Teachers" section: each teacher, their ensembles and how often they agree."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scalingdown.report.document import Block, Heading, Paragraph, Table

_METHOD_NAMES = {
    "uniform": "uniform",
    "validation": "weighted by validation accuracy",
    "confidence": "weighted by confidence per example",
}


def _scores_frame(record: dict[str, Any]) -> pd.DataFrame:
    rows = [
        (
            f"teacher {name}",
            f"{scores['accuracy']:.4f}",
            f"{scores['f1_macro']:.4f}",
            f"{scores['validation_accuracy']:.4f}",
        )
        for name, scores in record["teachers"].items()
    ]
    rows += [
        (
            f"ensemble ({_METHOD_NAMES.get(method, method)})",
            f"{scores['accuracy']:.4f}",
            f"{scores['f1_macro']:.4f}",
            "–",
        )
        for method, scores in record["ensembles"].items()
    ]
    return pd.DataFrame(rows, columns=["Model", "Accuracy", "Macro-F1", "Validation accuracy"])


def teacher_blocks(records: list[dict[str, Any]]) -> list[Block]:
    """Report blocks for the `teacher_ensemble` records (one per task); none without records."""
    blocks: list[Block] = []
    for record in records:
        agreement = record["agreement"]
        pairs = "; ".join(f"{pair}: {100 * share:.1f} %" for pair, share in agreement["pairwise"].items())
        blocks += [
            Heading(f"Teachers: {record['task']}"),
            Table(_scores_frame(record)),
            Paragraph(
                f"On the {record['test_rows']} test rows all teachers predict the same label for "
                f"{100 * agreement['all']:.1f} % (pairwise: {pairs}); at least one teacher is right on "
                f"{100 * record['any_teacher_correct']:.1f} %. Scores come from the cached teacher logits."
            ),
        ]
    return blocks
