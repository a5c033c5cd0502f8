"""The package's layers: what each may import, no import cycles, and a pipeline layer light enough for the
Snakefile (which runs again in every cluster job)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "src" / "scalingdown"

# Each layer and the layers it may import (besides itself). See docs/architecture.md.
ALLOWED = {
    "pipeline": set(),
    "models": {"pipeline"},
    "data": {"pipeline"},
    "kd": {"pipeline", "models", "data"},
    "training": {"pipeline", "models", "data", "kd"},
    "evaluation": {"pipeline", "models", "data", "kd"},
    "seq2seq": {"pipeline", "models", "data", "kd", "training", "evaluation"},
    "report": {"pipeline", "kd"},
    "stages": {"pipeline", "models", "data", "kd", "training", "evaluation", "seq2seq", "report"},
    "cli": {"pipeline", "data", "models", "evaluation"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    """Every scalingdown module `path` imports, at any depth (function-level imports included), except
    imports only for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scalingdown"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("scalingdown")}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {target for target in _imports(path) if target in modules} for name, path in modules.items()}


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for module, targets in _graph().items():
        layer = _layer(module)
        wrong += [f"{module} -> {target}" for target in targets if _layer(target) not in ALLOWED[layer] | {layer}]
    assert not wrong, "imports across layers that docs/architecture.md does not allow:\n" + "\n".join(wrong)


def test_the_package_has_no_import_cycles():
    graph = _graph()
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target] if target in trail else [module, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_every_module_belongs_to_a_known_layer():
    assert {_layer(module) for module in _graph()} <= set(ALLOWED)


@pytest.mark.parametrize("heavy", ["torch", "pandas", "transformers", "yaml", "numpy", "pyarrow"])
def test_importing_the_pipeline_layer_loads_no_heavy_library(heavy: str):
    modules = sorted(_module_name(path) for path in (PACKAGE / "pipeline").glob("*.py"))
    code = "import sys\n" + "".join(f"import {module}\n" for module in modules) + f"print({heavy!r} in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src")}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", f"importing the pipeline layer loaded {heavy}"
