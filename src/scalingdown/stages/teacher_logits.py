"""The `teacher_logits` stage: run a teacher once over the data and cache its outputs, as the task's model family
caches them (`families.interface.ModelFamily.cache_teacher`): a classifier's logits on every split and the pooled
states of the hidden layers some student maps to; a text-to-text teacher's top-k distribution on every train target
token, with its validation perplexity."""

from __future__ import annotations

from scalingdown.families.registry import family_for
from scalingdown.kd.logit_store import is_logit_cache
from scalingdown.pipeline.outputs.atomic import check_replaceable
from scalingdown.pipeline.specs.definitions import LogitsSpec, TopkLogitsSpec


def teacher_logits(
    spec: LogitsSpec | TopkLogitsSpec, data: str, out: str, experiment: str | None = None, batch_size: int = 64
) -> None:
    """Cache the teacher's outputs on the prepared `data` in `out`; an existing `out` is replaced only when it is a
    teacher cache."""
    check_replaceable(out, "teacher_logits", is_logit_cache)
    family_for(spec.type, spec.family).cache_teacher(spec, data, out, batch_size, experiment)
