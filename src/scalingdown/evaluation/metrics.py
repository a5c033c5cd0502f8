"""Task metrics: classification scores with scikit-learn; answer matching for text-to-text tasks."""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)


def per_class_scores(
    gold: list[int], predicted: list[int] | np.ndarray, labels: list[str]
) -> dict[str, dict[str, float]]:
    """Each label's precision, recall, F1 and support (its gold rows), by label name: label `i` is class id `i`. A
    label never predicted has precision 0; one without gold rows recall 0 (and support 0)."""
    classes = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=classes, average=None, zero_division=0
    )
    return {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
        for label, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True)
    }


def agreement(reference_logits: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """How a model's predictions agree with a reference model's on the same rows (e.g. an export against its
    float32 student): the share of rows with the same label (`labels_equal`) and the largest absolute difference of
    any class probability (`max_prob_diff`; softmax of each, in float64)."""
    from scipy.special import softmax

    if reference_logits.shape != logits.shape:
        raise ValueError(f"logits of shape {logits.shape} cannot be compared with {reference_logits.shape}")
    if not len(logits):
        return {"labels_equal": float("nan"), "max_prob_diff": float("nan"), "rows": 0}
    reference = softmax(reference_logits.astype(np.float64), axis=1)
    mine = softmax(logits.astype(np.float64), axis=1)
    return {
        "labels_equal": float(np.mean(reference.argmax(axis=1) == mine.argmax(axis=1))),
        "max_prob_diff": float(np.abs(reference - mine).max()),
        "rows": len(logits),
    }


def classification_scores(gold: list[int], predicted: list[int] | np.ndarray, labels: list[str]) -> dict[str, object]:
    """Accuracy, macro/weighted F1, macro precision and recall, the confusion matrix (rows = gold) and, under
    `per_class`, each label's precision, recall, F1 and support (`per_class_scores`)."""
    classes = list(range(len(labels)))
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "f1_macro": float(f1_score(gold, predicted, average="macro", labels=classes, zero_division=0)),
        "f1_weighted": float(f1_score(gold, predicted, average="weighted", labels=classes, zero_division=0)),
        "precision_macro": float(precision_score(gold, predicted, average="macro", labels=classes, zero_division=0)),
        "recall_macro": float(recall_score(gold, predicted, average="macro", labels=classes, zero_division=0)),
        "confusion_matrix": confusion_matrix(gold, predicted, labels=classes).tolist(),
        "per_class": per_class_scores(gold, predicted, labels),
    }


# -- text answers (generative QA, math) -------------------------------------------------------
_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ANSWER_LETTER = re.compile(r"answer\W*(?:is\W*)?(?:option\W*)?\(?\b([a-e])\b", re.IGNORECASE)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _overlap_scores(prediction: str, reference: str) -> tuple[float, float, float]:
    """Token precision, recall and F1 between two normalised answers."""
    predicted, gold = prediction.split(), reference.split()
    if not predicted or not gold:
        same = float(predicted == gold)
        return same, same, same
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0, 0.0, 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return precision, recall, 2 * precision * recall / (precision + recall)


def answer_scores(prediction: str, aliases: list[str]) -> dict[str, float]:
    """Exact match, token F1, precision and recall of one prediction: each the max over the aliases."""
    predicted = normalize_answer(prediction)
    scores = {"exact_match": 0.0, "f1": 0.0, "precision": 0.0, "recall": 0.0}
    for alias in aliases:
        reference = normalize_answer(alias)
        precision, recall, f1 = _overlap_scores(predicted, reference)
        candidate = {"exact_match": float(predicted == reference), "f1": f1, "precision": precision, "recall": recall}
        scores = {name: max(value, candidate[name]) for name, value in scores.items()}
    return scores


def qa_scores(predictions: list[str], aliases: list[list[str]]) -> dict[str, float]:
    """Mean exact match, token F1, precision and recall over questions (max over each one's aliases)."""
    per_question = [answer_scores(prediction, names) for prediction, names in zip(predictions, aliases, strict=True)]
    names = ("exact_match", "f1", "precision", "recall")
    return {name: float(np.mean([scores[name] for scores in per_question])) if per_question else 0.0 for name in names}


def parse_answer_letter(text: str) -> str | None:
    """The option letter (A–E) a generated rationale ends on: the last "answer [is] (X)" in it, or None."""
    matches = _ANSWER_LETTER.findall(text)
    return matches[-1].upper() if matches else None


def letter_scores(generations: list[str], gold: list[str]) -> dict[str, float]:
    """Accuracy of the letters parsed from generations, and the share of generations with a parsable letter."""
    parsed = [parse_answer_letter(text) for text in generations]
    return {
        "accuracy": float(accuracy_score(gold, [letter or "" for letter in parsed])) if gold else 0.0,
        "answer_parsed": float(np.mean([letter is not None for letter in parsed])) if parsed else 0.0,
    }


def choice_scores(gold: list[int], option_scores: list[list[float]]) -> dict[str, float]:
    """Multiple-choice accuracy: the option with the highest score (log-likelihood) is the prediction."""
    predicted = [int(np.argmax(scores)) for scores in option_scores]
    return {"accuracy": float(accuracy_score(gold, predicted)) if gold else 0.0}
