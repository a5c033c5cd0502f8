"""The package's layers: what each may import (imports for type checking too), no import cycles, module names that
say one thing, and a pipeline layer light enough for the Snakefile (which runs again in every cluster job)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "src" / "scalingdown"

# The sub-packages of the pipeline layer, lowest first: each may import the ones before it.
PIPELINE = ("pipeline", "pipeline.names", "pipeline.outputs", "pipeline.config", "pipeline.specs", "pipeline.plan")
LIBRARIES = {*PIPELINE, "models", "data", "kd", "training", "evaluation"}
FAMILIES = ("families.classification", "families.text2text", "families.causal")
# Each layer (a package, or a sub-package of one) and the layers it may import besides itself; a module belongs to
# the longest layer its name starts with (`pipeline` itself: the modules at the pipeline's base). See
# docs/architecture.md.
ALLOWED: dict[str, set[str]] = {
    "pipeline": set(),
    "pipeline.names": {"pipeline"},
    "pipeline.outputs": {"pipeline"},
    "pipeline.config": {"pipeline", "pipeline.names"},
    "pipeline.specs": {"pipeline", "pipeline.names", "pipeline.config"},
    "pipeline.plan": {"pipeline", "pipeline.names", "pipeline.config", "pipeline.specs"},
    "models": {*PIPELINE},
    "data": {*PIPELINE},
    "kd": {*PIPELINE, "models", "data"},
    "training": {*PIPELINE, "models", "data", "kd"},
    "evaluation": {*PIPELINE, "models", "data", "kd"},
    "families.interface": LIBRARIES,
    "families.classification": {*LIBRARIES, "families.interface"},
    "families.text2text": {*LIBRARIES, "families.interface"},
    # causal LMs learn the text-to-text task types: the task formats, metrics and target rules are that family's
    "families.causal": {*LIBRARIES, "families.interface", "families.text2text"},
    "families.registry": {*LIBRARIES, "families.interface", *FAMILIES},
    "families": set(),
    "report": {*PIPELINE, "kd"},
    "stages": {*LIBRARIES, "families.interface", "families.registry", "report", "families.classification"},
    # `generate` is the causal family's hand-off command
    "cli": {*PIPELINE, "data", "models", "evaluation", "families.causal"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    """The longest layer of `ALLOWED` that `module` (e.g. `scalingdown.pipeline.plan.keys`) belongs to."""
    parts = module.split(".")[1:]
    if not parts:
        return "__init__"
    for length in range(len(parts), 0, -1):
        candidate = ".".join(parts[:length])
        if candidate in ALLOWED:
            return candidate
    return parts[0]


def _imports(path: Path) -> set[str]:
    """Every scalingdown module `path` imports, at any depth: function-level imports and imports only for type
    checking (under `if TYPE_CHECKING:`) included, so that a layer cannot lean on a higher one for its types."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
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


def test_imports_for_type_checking_count_as_imports(tmp_path: Path):
    module = tmp_path / "typed.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from scalingdown.stages.distill import distill\n"
    )
    assert "scalingdown.stages.distill" in _imports(module)


def test_the_layers_allow_no_cycle():
    """A layer may import only layers that cannot import it back (so no cycle between sub-packages either)."""
    order: list[str] = []

    def visit(layer: str, trail: tuple[str, ...]) -> None:
        assert layer not in trail, "layers that may import each other: " + " -> ".join([*trail, layer])
        for lower in sorted(ALLOWED[layer] - {layer}):
            visit(lower, (*trail, layer))
        if layer not in order:
            order.append(layer)

    for layer in ALLOWED:
        visit(layer, ())


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


def test_no_two_modules_share_a_name():
    """A module name says one thing: `errors`, `loaders` or `seeds` twice in the package would mean two things. The
    model families are the exception by design: each has the same parts (`family`, `fit`, `teacher_cache`, …)."""
    families = PACKAGE / "families"
    modules = [path for path in PACKAGE.rglob("*.py") if path.stem != "__init__"]
    names = Counter(path.stem for path in modules if path.parent.parent != families)
    names.update({path.stem for path in modules if path.parent.parent == families})
    repeated = sorted(name for name, count in names.items() if count > 1)
    assert not repeated, f"module names used twice: {repeated}"


@pytest.mark.parametrize("heavy", ["torch", "pandas", "transformers", "yaml", "numpy", "pyarrow"])
def test_importing_the_pipeline_layer_loads_no_heavy_library(heavy: str):
    modules = sorted(_module_name(path) for path in (PACKAGE / "pipeline").rglob("*.py"))
    code = "import sys\n" + "".join(f"import {module}\n" for module in modules) + f"print({heavy!r} in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src")}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", f"importing the pipeline layer loaded {heavy}"
