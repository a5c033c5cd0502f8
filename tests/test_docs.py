"""The documents name files and modules that exist: every repository path in README.md, CONTRIBUTING.md,
config/README.md and docs/architecture.md, and every module of the package docs/architecture.md names."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

DOCUMENTS = ("README.md", "CONTRIBUTING.md", "config/README.md", "docs/architecture.md")
# A repository path: a top-level folder of the repository, then a name (placeholders like `<name>` are skipped).
PATH = re.compile(r"(?<![\w./<-])((?:config|workflow|bench|src|tests|docs|profiles|envs|\.ci)/[\w./-]*\w)")
# A module or folder of the package as docs/architecture.md names it: `pipeline/plan/keys.py`, `families/text2text/`.
PACKAGE = REPO / "src" / "scalingdown"
LAYERS = ("pipeline", "models", "data", "kd", "training", "evaluation", "families", "report", "stages")
MODULE = re.compile(r"`((?:" + "|".join(LAYERS) + r")/[\w/]*?(?:\.py|/))[:`]")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_repository_path_a_document_names_exists(document: str):
    text = (REPO / document).read_text(encoding="utf-8")
    named = {match.rstrip(".") for match in PATH.findall(text)}
    missing = sorted(path for path in named if not (REPO / path).exists())
    assert named and missing == [], f"{document} names paths that do not exist: {missing}"


def test_every_module_the_architecture_names_exists():
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(MODULE.findall(text))
    missing = sorted(path for path in named if not (PACKAGE / path).exists())
    assert len(named) > 30 and missing == [], f"docs/architecture.md names modules that do not exist: {missing}"


def test_the_check_would_find_a_moved_module():
    assert MODULE.findall("see `pipeline/stage_specs.py: StageSpecs` and `seq2seq/fit.py`") == [
        "pipeline/stage_specs.py",
    ]
    assert PATH.findall("see src/scalingdown/seq2seq/fit.py and tests/<folder>/x") == ["src/scalingdown/seq2seq/fit.py"]
