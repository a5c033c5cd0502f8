"""Text-to-text formats: how a row of each task type becomes a source and a target text, and the prompt checks."""

import pytest

from scalingdown.evaluation.metrics import parse_answer_letter
from scalingdown.families.text2text.formats import option_targets, source_text, target_text
from scalingdown.pipeline.names.tasks import prompt_for, prompt_problem


def test_text_to_text_formats_per_task_type():
    row = {"context": "Ann lent Beth a pen because _ had two.", "question": "", "options": ["Ann", "Beth"], "label": 0}
    prompt = prompt_for("multiple_choice", None)
    assert (
        source_text("multiple_choice", prompt, row)
        == "Ann lent Beth a pen because _ had two. options: (A) Ann (B) Beth"
    )
    assert target_text("multiple_choice", prompt, row) == "Ann"
    assert option_targets(prompt, row) == ["Ann", "Beth"]
    math = {"question": "What is 1 + 1?", "options": ["1", "2"], "rationale": "1 + 1 = 2.\nSo:", "answer": "B"}
    math_prompt = prompt_for("math", None)
    assert target_text("math", math_prompt, math) == "1 + 1 = 2. So: The answer is B."
    assert parse_answer_letter(target_text("math", math_prompt, math)) == "B"
    custom = prompt_for("generative_qa", {"source": "Q: {question}\nA:"})
    assert source_text("generative_qa", custom, {"question": "Why?", "answer": "x"}) == "Q: Why? A:"


@pytest.mark.parametrize(
    ("task_type", "part", "template", "problem"),
    [
        ("generative_qa", "source", "question: {question}", None),
        ("generative_qa", "source", "{question} {answer}", "uses {answer}"),
        ("math", "source", "{question} {choice}", "uses {choice}"),
        ("multiple_choice", "target", "{choice}", None),
        ("multiple_choice", "source", "{context", "not a valid format template"),
    ],
)
def test_prompt_templates_are_checked(task_type, part, template, problem):
    found = prompt_problem(task_type, part, template)
    assert (found is None) if problem is None else (problem in found)
