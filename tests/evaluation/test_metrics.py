"""Task metrics: answer matching with aliases, answer-letter parsing, option choice."""

import pytest

from scalingdown.evaluation.metrics import (
    answer_scores,
    choice_scores,
    letter_scores,
    normalize_answer,
    parse_answer_letter,
    qa_scores,
)


def test_squad_normalisation():
    assert normalize_answer("  The Eiffel-Tower!  ") == "eiffeltower"
    assert normalize_answer("A tale of Two Cities") == "tale of two cities"
    assert normalize_answer("an apple, the pear") == "apple pear"


def test_exact_match_and_f1_take_the_best_alias():
    scores = answer_scores("the Pacific", ["Pacific Ocean", "Pacific"])
    assert scores["exact_match"] == 1.0 and scores["f1"] == 1.0
    partial = answer_scores("Pacific sea", ["Pacific Ocean", "Atlantic"])
    assert partial["exact_match"] == 0.0
    assert partial["precision"] == pytest.approx(0.5) and partial["recall"] == pytest.approx(0.5)
    assert partial["f1"] == pytest.approx(0.5)


def test_precision_and_recall_are_each_maximised_over_aliases():
    scores = answer_scores("red planet", ["planet", "the red planet mars"])
    assert scores["precision"] == pytest.approx(1.0)  # both words of the prediction are in the second alias
    assert scores["recall"] == pytest.approx(1.0)  # "planet" is fully covered
    assert scores["f1"] == pytest.approx(max(2 * 0.5 * 1 / 1.5, 2 * 1 * (2 / 3) / (1 + 2 / 3)))


def test_qa_scores_average_over_questions_and_handle_empty_answers():
    result = qa_scores(["Mars", "", "eight legs"], [["Mars"], ["Ice"], ["Eight", "8"]])
    assert result["exact_match"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert answer_scores("", [""])["exact_match"] == 1.0


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("6 * 2 = 12. The answer is C.", "C"),
        ("so x = 905.\nAnswer: B", "B"),
        ("Correct answer - A", "A"),
        ("CORRECT OPTION:OPTION E", None),
        ("the answer is (d)", "D"),
        ("answer is b, not answer is e. The answer is a", "A"),
        ("the options are A and B", None),
        ("answer: f", None),
    ],
)
def test_answer_letter_parsing(text, letter):
    assert parse_answer_letter(text) == letter


def test_letter_accuracy_counts_unparsable_generations_as_wrong():
    scores = letter_scores(["The answer is A", "no idea", "answer: c"], ["A", "B", "C"])
    assert scores["accuracy"] == pytest.approx(2 / 3) and scores["answer_parsed"] == pytest.approx(2 / 3)


def test_multiple_choice_picks_the_highest_scoring_option():
    assert choice_scores([0, 2, 1], [[-1.0, -3.0], [-5.0, -4.0, -0.5], [-2.0, -2.5]])["accuracy"] == pytest.approx(
        2 / 3
    )
