"""The gold-only twin of a distilled student: the student the report compares it with, seed by seed.

The twin starts from the same weights (same `model` and `init`) and is trained on the gold labels alone, so the
per-seed difference of their scores is what distillation added. `students.<name>.baseline` names it; without
it, the first such student by name is the twin, preferring one with the same `max_length` (a shape sweep's twin
has the student's shape). Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def gold_only(student: Mapping[str, Any]) -> bool:
    """A student trained on the gold labels alone."""
    return bool(student["train"]) and not student["teachers"]


def twin_candidates(students: Mapping[str, Mapping[str, Any]], name: str) -> list[str]:
    """The gold-only students that start where `name` starts (same model and init), those that also read inputs of
    its length (`max_length`: the same shape, in a shape sweep) first, each group sorted by name."""
    student = students[name]
    found = [
        other
        for other, spec in sorted(students.items())
        if other != name and gold_only(spec) and spec["model"] == student["model"] and spec["init"] == student["init"]
    ]
    return sorted(found, key=lambda other: students[other].get("max_length") != student.get("max_length"))


def gold_twin(students: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    """The twin of a trained student with teachers (its `baseline`, else the first candidate); None for a student
    without teachers, an untrained one, or one that has no candidate."""
    student = students[name]
    if not student["train"] or not student["teachers"]:
        return None
    if student.get("baseline"):
        return str(student["baseline"])
    candidates = twin_candidates(students, name)
    return candidates[0] if candidates else None
