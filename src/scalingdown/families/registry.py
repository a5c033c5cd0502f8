"""Which code implements each model family: the family's `family` module, by the family's name.

The stages find the family of a job here, once, from its spec's task type.
"""

from __future__ import annotations

from scalingdown.families.causal import family as causal
from scalingdown.families.classification import family as classification
from scalingdown.families.interface import ModelFamily
from scalingdown.families.text2text import family as text2text
from scalingdown.pipeline.names.families import CAUSAL, CLASSIFICATION, TEXT2TEXT, family_of

# A module implements the interface with module-level members (`info`, `fit_teacher`, …).
FAMILIES: dict[str, ModelFamily] = {CLASSIFICATION: classification, TEXT2TEXT: text2text, CAUSAL: causal}


def family_for(task_type: str, family: str | None = None) -> ModelFamily:
    """The code of the family that learns `task_type` (`pipeline.names.families.family_of`; `family` is a spec's,
    set where a task is learnt by another family than its type's own)."""
    return FAMILIES[family_of(task_type, family).name]
