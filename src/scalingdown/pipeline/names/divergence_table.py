"""The divergences `loss.divergence` may name, declared once: each one's parameter (`beta`, `alpha` or none), the
parameters' ranges and defaults, the name of the logged loss term and its title in the report.

Standard library only: the config check (`pipeline.config.checks`) and the spec builder use it before any job runs;
`scalingdown.kd.divergences` computes the divergences (and documents their formulas) from the same table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from scalingdown.pipeline.errors import KeyProblem


class Parameter(NamedTuple):
    """A divergence parameter: its interval (written out for errors), whether 1 is excluded, its default."""

    interval: str
    excludes_one: bool
    default: float

    def contains(self, value: float) -> bool:
        """Whether `value` lies in the parameter's interval."""
        return 0 <= value < 1 if self.excludes_one else 0 <= value <= 1


class DivergenceInfo(NamedTuple):
    """One divergence: the `loss` key of its parameter (None: it takes none) and its title in the report."""

    parameter: str | None
    title: str


DEFAULT = "forward_kl"
# beta's default is TRL's GKDConfig.beta (0.5), alpha's DistiLLM's skew (0.1).
PARAMETERS: dict[str, Parameter] = {"beta": Parameter("[0, 1]", False, 0.5), "alpha": Parameter("[0, 1)", True, 0.1)}
DIVERGENCES: dict[str, DivergenceInfo] = {
    "forward_kl": DivergenceInfo(None, "KL(teacher ‖ student)"),
    "reverse_kl": DivergenceInfo(None, "reverse KL(student ‖ teacher)"),
    "jsd": DivergenceInfo("beta", "generalised JSD_β(teacher, student)"),
    "skew_kl": DivergenceInfo("alpha", "skew KL_α(teacher ‖ student)"),
    "skew_reverse_kl": DivergenceInfo("alpha", "skew reverse KL_α(student ‖ teacher)"),
}
_SYMBOLS = {"beta": "β", "alpha": "α"}


def term(name: str) -> str:
    """The name under which training logs the divergence term (`loss_<term>` in the history): `kl` for forward
    KL, as before there was a choice, so that old histories read the same; the divergence's name otherwise."""
    return "kl" if name == DEFAULT else name


def divergence_problem(name: Any, parameters: Mapping[str, Any]) -> KeyProblem | None:
    """What is wrong with a divergence and its parameters (`beta`, `alpha`; None = not given), as (the `loss`
    key at fault, the problem), or None when they fit: an unknown name, a parameter the divergence does not take,
    or a missing, non-numeric or out-of-range value of the one it takes."""
    if not isinstance(name, str) or name not in DIVERGENCES:
        return KeyProblem("divergence", f"unknown divergence {name!r}; expected one of {', '.join(DIVERGENCES)}")
    wanted = DIVERGENCES[name].parameter
    for key in PARAMETERS:
        if key != wanted and parameters.get(key) is not None:
            takers = " or ".join(other for other, info in DIVERGENCES.items() if info.parameter == key)
            return KeyProblem(key, f"{key} applies only to loss.divergence {takers}, not {name}")
    if wanted is None:
        return None
    value: Any = parameters.get(wanted)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and math.isfinite(value) and PARAMETERS[wanted].contains(value):
        return None
    return KeyProblem(
        wanted, f"expected a number in {PARAMETERS[wanted].interval} for divergence {name}, got {value!r}"
    )


def with_defaults(loss: Mapping[str, Any]) -> dict[str, Any]:
    """A `loss` config section with its divergence's parameter filled from `PARAMETERS` when it is not given
    (`divergence` itself stays absent when not given: forward KL)."""
    filled = dict(loss)
    name = filled.get("divergence", DEFAULT)
    info = DIVERGENCES.get(name) if isinstance(name, str) else None
    if info is not None and info.parameter is not None and filled.get(info.parameter) is None:
        filled[info.parameter] = PARAMETERS[info.parameter].default
    return filled


def label(name: str, beta: float | None = None, alpha: float | None = None) -> str:
    """A short label of a divergence and its parameter, e.g. `jsd, β = 0.5`."""
    parameter = DIVERGENCES[name].parameter
    if parameter is None:
        return name
    value = beta if parameter == "beta" else alpha
    return f"{name}, {_SYMBOLS[parameter]} = {value:g}"
