"""Tests for the built-in synthetic financial-sentiment generator."""

from __future__ import annotations

import math
import re
import time

import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from scalingdown.data.generators.financial_sentiment import DEFAULT_LABEL_MIX, LABELS, generate_financial_sentiment


def _counts(series: pd.Series) -> dict[str, int]:
    return {label: int((series == label).sum()) for label in LABELS}


def _opening(text: str, length: int = 3) -> tuple[str, ...]:
    """First tokens of a sentence with names and numbers masked, i.e. its template opening."""
    tokens: list[str] = []
    for token in text.split():
        masked = "<E>" if token[0].isupper() or any(c.isdigit() for c in token) else token.lower()
        if not (masked == "<E>" and tokens and tokens[-1] == "<E>"):
            tokens.append(masked)
    return tuple(tokens[:length])


def test_schema_and_row_ids() -> None:
    frame = generate_financial_sentiment(25, seed=3)
    assert list(frame.columns) == ["row_id", "text", "label", "text_label"]
    assert list(frame["row_id"]) == [f"syn-{i:06d}" for i in range(25)]
    assert set(frame["label"]) <= set(LABELS)
    assert set(frame["text_label"]) <= set(LABELS)
    assert all(isinstance(text, str) and text.endswith(".") for text in frame["text"])


def test_same_seed_gives_identical_frame() -> None:
    first = generate_financial_sentiment(400, seed=7, label_noise=0.1)
    second = generate_financial_sentiment(400, seed=7, label_noise=0.1)
    pd.testing.assert_frame_equal(first, second)


def test_different_seeds_give_different_data() -> None:
    first = generate_financial_sentiment(400, seed=1)
    second = generate_financial_sentiment(400, seed=2)
    assert list(first["label"]) != list(second["label"])
    assert len(set(first["text"]) & set(second["text"])) < 20


@pytest.mark.parametrize(
    ("rows", "mix", "expected"),
    [
        (1000, None, {"negative": 250, "neutral": 450, "positive": 300}),
        (10, None, {"negative": 3, "neutral": 4, "positive": 3}),
        (7, {"negative": 1 / 3, "neutral": 1 / 3, "positive": 1 / 3}, {"negative": 3, "neutral": 2, "positive": 2}),
        (101, {"negative": 0.0, "neutral": 0.55, "positive": 0.45}, {"negative": 0, "neutral": 56, "positive": 45}),
        (3, {"negative": 0.2, "neutral": 0.3, "positive": 0.5}, {"negative": 1, "neutral": 1, "positive": 1}),
        (1, {"negative": 0.0, "neutral": 0.0, "positive": 1.0}, {"negative": 0, "neutral": 0, "positive": 1}),
    ],
)
def test_label_counts_are_largest_remainder(rows: int, mix: dict[str, float] | None, expected: dict[str, int]) -> None:
    frame = generate_financial_sentiment(rows, seed=5, label_mix=mix)
    assert _counts(frame["label"]) == expected
    assert len(frame) == rows


@pytest.mark.parametrize(("rows", "noise"), [(1000, 0.08), (37, 0.1), (25, 0.1), (500, 0.0), (60, 0.5)])
def test_noise_count_is_exact_and_marks_label_mismatch(rows: int, noise: float) -> None:
    frame = generate_financial_sentiment(rows, seed=11, label_noise=noise)
    noisy = frame["label"] != frame["text_label"]
    assert int(noisy.sum()) == round(rows * noise)


def test_noise_is_spread_over_classes_in_proportion() -> None:
    frame = generate_financial_sentiment(1000, seed=2, label_noise=0.08)
    noisy = frame[frame["label"] != frame["text_label"]]
    assert _counts(noisy["label"]) == {"negative": 20, "neutral": 36, "positive": 24}
    # The emitted labels still follow the promised mix exactly.
    assert _counts(frame["label"]) == {"negative": 250, "neutral": 450, "positive": 300}


def test_zero_noise_means_label_equals_text_label() -> None:
    frame = generate_financial_sentiment(300, seed=4, label_noise=0.0)
    assert (frame["label"] == frame["text_label"]).all()


def test_texts_unique_and_generation_fast() -> None:
    start = time.perf_counter()
    frame = generate_financial_sentiment(5000, seed=0)
    elapsed = time.perf_counter() - start
    assert frame["text"].is_unique
    assert elapsed < 2.0


def test_variety_of_templates_and_wording() -> None:
    frame = generate_financial_sentiment(2000, seed=21, label_noise=0.0)
    for label in LABELS:
        texts = frame.loc[frame["text_label"] == label, "text"]
        assert len({_opening(text) for text in texts}) >= 30, label
    tokens = [text.lower().split() for text in frame["text"]]
    bigrams = [tuple(words[i : i + 2]) for words in tokens for i in range(len(words) - 1)]
    assert len(set(bigrams)) / len(bigrams) > 0.15
    assert len({word for words in tokens for word in words}) > 1500


def test_classes_share_vocabulary() -> None:
    frame = generate_financial_sentiment(2000, seed=8, label_noise=0.0)
    words = {
        label: set(re.findall(r"[a-z]+", " ".join(frame.loc[frame["text_label"] == label, "text"]).lower()))
        for label in LABELS
    }
    for cue in ("rose", "fell", "despite", "not", "expects", "jobs", "order"):
        assert sum(cue in words[label] for label in LABELS) >= 2, cue
    polar = words["positive"] | words["negative"]
    assert len(words["neutral"] & polar) / len(words["neutral"]) > 0.5


def test_bag_of_words_is_learnable_but_not_trivial() -> None:
    train = generate_financial_sentiment(2000, seed=101)
    test = generate_financial_sentiment(1000, seed=202)
    model = make_pipeline(CountVectorizer(), LogisticRegression(max_iter=2000))
    model.fit(train["text"], train["label"])
    predicted = model.predict(test["text"])
    noisy_accuracy = float((predicted == test["label"]).mean())
    clean_accuracy = float((predicted == test["text_label"]).mean())
    assert 0.6 < noisy_accuracy < 0.97
    assert clean_accuracy < 0.97


@pytest.mark.parametrize("rows", [0, -3, 2.5, "10", True, None])
def test_invalid_rows(rows: object) -> None:
    with pytest.raises(ValueError, match="rows"):
        generate_financial_sentiment(rows, seed=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1.5, "1", None, -1, False])
def test_invalid_seed(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_financial_sentiment(10, seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "mix",
    [
        {"negative": 0.5, "positive": 0.5},
        {**DEFAULT_LABEL_MIX, "mixed": 0.0},
        {"negative": -0.1, "neutral": 0.6, "positive": 0.5},
        {"negative": 0.3, "neutral": 0.3, "positive": 0.3},
        {"negative": "0.3", "neutral": 0.4, "positive": 0.3},
        {"negative": math.nan, "neutral": 0.5, "positive": 0.5},
        [("negative", 0.3), ("neutral", 0.4), ("positive", 0.3)],
    ],
)
def test_invalid_label_mix(mix: object) -> None:
    with pytest.raises(ValueError, match="label_mix"):
        generate_financial_sentiment(10, seed=0, label_mix=mix)  # type: ignore[arg-type]


def test_label_mix_sum_tolerance() -> None:
    mix = {"negative": 0.25, "neutral": 0.45, "positive": 0.3 + 5e-7}
    assert len(generate_financial_sentiment(10, seed=0, label_mix=mix)) == 10


@pytest.mark.parametrize("noise", [-0.01, 1.0, 1.5, math.nan, "0.1", True])
def test_invalid_label_noise(noise: object) -> None:
    with pytest.raises(ValueError, match="label_noise"):
        generate_financial_sentiment(10, seed=0, label_noise=noise)  # type: ignore[arg-type]
