"""Which code implements each model family: the family's `family` module, by the family's name.

The stages find the family of a job here, once, from its spec's task type.
"""

from __future__ import annotations

from scalingdown.families.classification import family as classification
from scalingdown.families.interface import ModelFamily
from scalingdown.families.text2text import family as text2text
from scalingdown.pipeline.names.families import CLASSIFICATION, TEXT2TEXT, family_of

# A module implements the interface with module-level members (`info`, `fit_teacher`, …).
FAMILIES: dict[str, ModelFamily] = {CLASSIFICATION: classification, TEXT2TEXT: text2text}


def family_for(task_type: str) -> ModelFamily:
    """The code of the family that learns `task_type` (`pipeline.names.families.family_of`)."""
    return FAMILIES[family_of(task_type).name]
