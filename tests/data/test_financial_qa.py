"""The built-in financial question generator: determinism, spans, both forms, option checks, the loader."""

import numpy as np
import pandas as pd
import pytest

from scalingdown.data.generators.financial_qa import KINDS, MAKERS, TEMPLATES, generate_financial_qa
from scalingdown.data.generators.financial_sentiment import template_slots
from scalingdown.data.loaders import load
from scalingdown.data.schema import COLUMNS
from scalingdown.pipeline.names.loader_registry import DataConfigError, check_data


def _parts(question: str) -> tuple[str, str]:
    asked, sentence = question.split(" context: ", 1)
    return asked, sentence


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    first = generate_financial_qa(300, seed=5)
    pd.testing.assert_frame_equal(first, generate_financial_qa(300, seed=5))
    assert not first["question"].equals(generate_financial_qa(300, seed=6)["question"])
    choices = generate_financial_qa(100, seed=5, form="multiple_choice")
    pd.testing.assert_frame_equal(choices, generate_financial_qa(100, seed=5, form="multiple_choice"))


def test_every_answer_is_a_span_of_its_sentence_and_not_given_away_by_the_question():
    frame = generate_financial_qa(2000, seed=1)
    for question, answer, aliases in zip(frame["question"], frame["answer"], frame["aliases"]):
        asked, sentence = _parts(question)
        assert answer in sentence, (answer, sentence)
        assert answer not in asked, (answer, asked)
        assert list(aliases) == [answer]
    assert frame["question"].is_unique
    assert set(frame["kind"]) == set(KINDS)


def test_questions_read_only_slots_their_sentence_filled():
    rng = np.random.default_rng(0)
    for template in TEMPLATES:
        for question in template.questions:
            slots = template_slots(rng, MAKERS)
            template.sentence.format_map(slots)
            filled = set(slots)
            question.text.format_map(slots)
            drawn = set(slots) - filled - {"cos", "co2s"}  # possessives are spelled from the sentence's companies
            assert not drawn, f"{question.text!r} draws {drawn}, which the sentence lacks"
            assert question.answer in filled and question.kind in KINDS


def test_multiple_choice_rows_hold_the_answer_among_distinct_options():
    frame = generate_financial_qa(600, seed=2, form="multiple_choice", choices=5)
    for context, options, label in zip(frame["context"], frame["options"], frame["label"]):
        assert len(options) == len(set(options)) == 5
        assert options[label] in context
    assert set(frame["label"]) == set(range(5)), "the answer's position is shuffled"
    # Distractors of the answer's kind come from the sentence first: both companies of an order are options.
    orders = frame[frame["question"].isin(["Which company won the order?", "Which company placed the order?"])]
    assert len(orders) > 0
    assert all(
        sum(option in context for option in options) == 2 for context, options in orders[["context", "options"]].values
    )


@pytest.mark.parametrize(
    ("options", "key", "problem"),
    [
        ({"rows": 5}, "data.options.rows", "an integer >= 10"),
        ({"choices": 11}, "data.options.choices", "an integer from 2 to 10"),
        ({"seed": -1}, "data.options.seed", "an integer >= 0"),
        ({"path": "x.jsonl"}, "data.options.path", "not an option of loader 'synthetic_finance_qa'"),
    ],
)
def test_loader_options_are_checked_before_any_job(options, key, problem):
    with pytest.raises(DataConfigError) as error:
        check_data("synthetic_finance_qa", "generative_qa", options)
    assert error.value.key == key and problem in error.value.problem


def test_the_loader_returns_the_task_types_schema():
    for task_type in ("generative_qa", "multiple_choice"):
        parts = load("synthetic_finance_qa", {"rows": 40, "seed": 3}, 13, task_type)
        assert list(parts) == ["all"] and list(parts["all"].columns) == list(COLUMNS[task_type])
    with pytest.raises(DataConfigError, match="produces generative_qa or multiple_choice data"):
        check_data("synthetic_finance_qa", "classification", {})
