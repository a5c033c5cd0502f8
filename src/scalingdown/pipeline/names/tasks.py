"""What the config check needs to know about a task type (the types themselves, and which model family learns each,
are `names.families`): its primary metric, what its models read, and the prompts of text-to-text task types.

Prompts are `str.format` templates over a row's fields; each text-to-text task type names the fields it
offers (rendering a row into source and target texts is `families.text2text.formats`):

- generative_qa: `question`, `answer`
- multiple_choice: `context`, `question`, `options` (rendered "(A) … (B) …"), `choice` (the text of
  one option: the gold one for training, each one in turn when options are scored)
- math: `question`, `options` (rendered "(A) … (E) …"), `rationale`, `answer` (the letter)
- instruction: `prompt`, `response` (causal LMs, through the chat template)
"""

from __future__ import annotations

import string
from collections.abc import Mapping

# The score that ranks the models of a task type: it selects each model's checkpoint on the validation split, ranks
# teacher candidates, defines the best teacher and sets retention in the report.
PRIMARY_METRIC: dict[str, str] = {
    "classification": "accuracy",
    "multiple_choice": "accuracy",
    "math": "accuracy",
    "generative_qa": "f1",
    "instruction": "f1",
}
# What a model reads of a row of each task type (the columns `data.split.group_by` may name).
INPUTS: dict[str, tuple[str, ...]] = {
    "classification": ("text",),
    "multiple_choice": ("context", "question", "options"),
    "generative_qa": ("question",),
    "math": ("question", "options"),
    "instruction": ("prompt",),
}
PROMPT_FIELDS: dict[str, tuple[str, ...]] = {
    "generative_qa": ("question", "answer"),
    "multiple_choice": ("context", "question", "options", "choice"),
    "math": ("question", "options", "rationale", "answer"),
    "instruction": ("prompt", "response"),
}
DEFAULT_PROMPTS: dict[str, dict[str, str]] = {
    "generative_qa": {"source": "question: {question}", "target": "{answer}"},
    "multiple_choice": {"source": "{context} {question} options: {options}", "target": "{choice}"},
    "math": {"source": "question: {question} options: {options}", "target": "{rationale} The answer is {answer}."},
    "instruction": {"source": "{prompt}", "target": "{response}"},
}
# Fields only the target may use (they give the answer away).
_TARGET_ONLY = {
    "generative_qa": {"answer"},
    "multiple_choice": {"choice"},
    "math": {"rationale", "answer"},
    "instruction": {"response"},
}


def prompt_for(task_type: str, prompt: Mapping[str, str] | None) -> dict[str, str]:
    """The task's prompt: the type's defaults, overridden by the configured `source`/`target`."""
    return {**DEFAULT_PROMPTS[task_type], **(prompt or {})}


def prompt_problem(task_type: str, part: str, template: str) -> str | None:
    """Why `template` cannot be the `part` (source/target) prompt of `task_type`, or None when it can."""
    allowed = set(PROMPT_FIELDS[task_type]) - (_TARGET_ONLY[task_type] if part == "source" else set())
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        return f"not a valid format template ({error})"
    unknown = sorted({name for name in fields if name not in allowed})
    if unknown:
        return f"uses {{{'}, {'.join(unknown)}}}; the {part} of a {task_type} task may use {sorted(allowed)}"
    try:  # conversions and format specs are only checked when a row's text is formatted
        template.format(**dict.fromkeys(allowed, "text"))
    except (KeyError, IndexError) as error:  # a field inside a format spec, e.g. {question:{width}}
        return f"uses {{{error.args[0]}}}; the {part} of a {task_type} task may use {sorted(allowed)}"
    except (ValueError, TypeError) as error:
        return f"does not format with the task's fields (each a text): {error}"
    return None
