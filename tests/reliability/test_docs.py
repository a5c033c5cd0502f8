"""docs/reliability.md: every test it names exists, and it lists at least the cases issue 15 asks for."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOC = REPO / "docs" / "reliability.md"
TESTS = REPO / "tests"


def test_every_test_named_in_the_reliability_document_exists():
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"((?:\w+/)*test_\w+\.py)::(test_\w+)", text))
    missing = [
        f"{file}::{name}"
        for file, name in sorted(named)
        if not (TESTS / file).is_file() or f"def {name}(" not in (TESTS / file).read_text(encoding="utf-8")
    ]
    assert len(named) > 40 and missing == []


def test_the_reliability_document_lists_at_least_120_numbered_cases_in_order():
    numbers = [int(n) for n in re.findall(r"^\| (\d+) \|", DOC.read_text(encoding="utf-8"), flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 120
