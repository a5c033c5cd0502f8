"""Task metrics, computed with scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score


def classification_scores(gold: list[int], predicted: list[int] | np.ndarray, labels: list[str]) -> dict[str, object]:
    """Accuracy, macro/weighted F1, macro precision and recall, and the confusion matrix (rows = gold)."""
    classes = list(range(len(labels)))
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "f1_macro": float(f1_score(gold, predicted, average="macro", labels=classes, zero_division=0)),
        "f1_weighted": float(f1_score(gold, predicted, average="weighted", labels=classes, zero_division=0)),
        "precision_macro": float(precision_score(gold, predicted, average="macro", labels=classes, zero_division=0)),
        "recall_macro": float(recall_score(gold, predicted, average="macro", labels=classes, zero_division=0)),
        "confusion_matrix": confusion_matrix(gold, predicted, labels=classes).tolist(),
    }
