"""Seeded generator of questions about synthetic financial-news sentences (text-to-text tasks).

Each row is one sentence, written from templates and the invented entities of `financial_sentiment` (no external
dataset text), and one question about it whose answer is a
span of the sentence: a company, a figure (percentage, amount, count, price), the direction of a
change (the verb the sentence uses), a metric, a period, a place, a person or a role. Most sentences
hold a distractor of the answer's kind (two companies, two figures, two movements in contrasting
clauses), so the answer depends on reading which span goes with what.

Two forms of the same questions:
- generative_qa: `question` = "<question> context: <sentence>", `answer` = the span, `aliases` = [span];
- multiple_choice: `context` = the sentence, `question`, `options` (the answer, the sentence's other
  spans of its kind, then invented ones, shuffled) and `label` (the answer's index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from scalingdown.data.generators.financial_sentiment import template_slots
from scalingdown.data.generators.template_files import generator_data

KINDS = ("company", "figure", "amount", "direction", "metric", "period", "place", "product", "person", "role")
FORMS = ("generative_qa", "multiple_choice")
MAX_CHOICES = 10
_MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class Question:
    """A question template over a sentence's slots; `answer` names the slot whose value answers it."""

    kind: str
    text: str
    answer: str


@dataclass(frozen=True)
class Template:
    """A sentence template and the questions it can answer."""

    sentence: str
    questions: tuple[Question, ...]


# The sentence templates and their questions: data/templates/financial_qa.json.
TEMPLATES: tuple[Template, ...] = tuple(
    Template(entry["sentence"], tuple(Question(*question) for question in entry["questions"]))
    for entry in generator_data("financial_qa")
)

# Slots that hold a second value of another slot's kind (their distractors are drawn like it).
_SAME_KIND = {"co2": "co", "pct2": "pct", "money2": "money", "move2": "move", "move_against": "move"}


def _draw(slots: Any, key: str) -> str:
    """A new value of slot `key`, independent of `slots`' values except the currency (amounts in one sentence
    share it)."""
    fresh = template_slots(slots.rng, MAKERS)
    if "currency" in slots:
        fresh["currency"] = slots["currency"]
    return fresh[key]


def _other(key: str) -> Callable[[Any], str]:
    """A maker of a value of `key`'s kind that differs from the sentence's `key`."""

    def make(slots: Any) -> str:
        for _ in range(_MAX_ATTEMPTS):
            value = _draw(slots, key)
            if value != slots[key]:
                return value
        raise RuntimeError(f"could not draw a second {key} after {_MAX_ATTEMPTS} attempts")

    return make


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


_OPPOSITE = {"up": "down", "down": "up"}
MAKERS: dict[str, Callable[[Any], str]] = {
    "trend": lambda s: "up" if s.rng.random() < 0.5 else "down",
    "move": lambda s: _draw(s, s["trend"]),  # a verb of the sentence's trend (rose, edged down, …)
    "move_against": lambda s: _draw(s, _OPPOSITE[s["trend"]]),
    "move2": _other("move"),
    "expected": lambda s: _draw(s, f"{_OPPOSITE[s['trend']]}_inf"),
    "revised": lambda s: "raised" if s["trend"] == "up" else "cut",
    "pct2": _other("pct"),
    "money2": _other("money"),
    "co2s": lambda s: _possessive(s["co2"]),
}


def _capitalised(text: str) -> str:
    return text[0].upper() + text[1:]


def _options(rng: np.random.Generator, slots: dict[str, str], answer_slot: str, count: int) -> tuple[list[str], int]:
    """`count` distinct options: the answer, the sentence's other values of its kind, invented ones; shuffled."""
    kind = _SAME_KIND.get(answer_slot, answer_slot)
    answer = slots[answer_slot]
    options = [answer]
    for name, value in slots.items():
        if _SAME_KIND.get(name, name) == kind and value not in options and len(options) < count:
            options.append(value)
    for _ in range(_MAX_ATTEMPTS):
        if len(options) == count:
            break
        value = template_slots(rng, MAKERS)[kind]
        if value not in options:
            options.append(value)
    else:
        raise RuntimeError(f"could not draw {count} distinct {kind} options after {_MAX_ATTEMPTS} attempts")
    order = rng.permutation(count)
    shuffled = [options[index] for index in order]
    return shuffled, int(np.flatnonzero(order == 0)[0])


def _row(rng: np.random.Generator, form: str, choices: int) -> dict[str, Any]:
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    question = template.questions[int(rng.integers(len(template.questions)))]
    slots = template_slots(rng, MAKERS)
    sentence = _capitalised(template.sentence.format_map(slots))
    asked = _capitalised(question.text.format_map(slots))
    answer = slots[question.answer]
    if form == "generative_qa":
        question_text = f"{asked} context: {sentence}"
        return {"question": question_text, "answer": answer, "aliases": [answer], "kind": question.kind}
    options, label = _options(rng, slots, question.answer, choices)
    return {"context": sentence, "question": asked, "options": options, "label": label, "kind": question.kind}


def _validate(rows: Any, seed: Any, form: str, choices: Any) -> None:
    def is_int(value: Any) -> bool:
        return isinstance(value, Integral) and not isinstance(value, bool)

    if not is_int(rows) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if not is_int(choices) or not 2 <= choices <= MAX_CHOICES:
        raise ValueError(f"choices must be an int from 2 to {MAX_CHOICES}, got {choices!r}")


def generate_financial_qa(rows: int, seed: int, form: str = "generative_qa", choices: int = 4) -> pd.DataFrame:
    """Generate `rows` distinct questions about synthetic financial sentences, in `form` (see the module).

    Columns: `row_id` ('sqa-000000' style), the form's columns, and `kind` (the question kind, one of
    `KINDS`). The same seed gives the same frame.
    """
    _validate(rows, seed, form, choices)
    rng = np.random.default_rng(seed)
    seen: set[tuple[str, str]] = set()
    records = []
    for _ in range(rows):
        for _ in range(_MAX_ATTEMPTS):
            record = _row(rng, form, choices)
            key = (record.get("context", ""), record["question"])
            if key not in seen:
                break
        else:
            raise RuntimeError(f"could not generate a new question after {_MAX_ATTEMPTS} attempts")
        seen.add(key)
        records.append(record)
    frame = pd.DataFrame(records)
    frame.insert(0, "row_id", [f"sqa-{index:06d}" for index in range(rows)])
    return frame
