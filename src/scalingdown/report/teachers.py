"""The report's "Teachers" section: each teacher, their ensembles and how often they agree (mean ± sd over the
seeds of a task when it has several), and the causal teachers' caches (bytes per response token, top-k mass)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from typing import Any

import pandas as pd

from scalingdown.kd.logit_store import read_fingerprint
from scalingdown.report.document import Block, Heading, Paragraph, Table

_METHOD_NAMES = {
    "uniform": "uniform",
    "validation": "weighted by validation accuracy",
    "confidence": "weighted by confidence per example",
}

Record = dict[str, Any]


def mean_sd(values: list[float], pattern: str = "{:.4f}") -> str:
    """`mean ± sd` of the values (just the value for one)."""
    if len(values) == 1:
        return pattern.format(values[0])
    return f"{pattern.format(statistics.fmean(values))} ± {pattern.format(statistics.stdev(values))}"


def _over_seeds(records: list[Record], value: Callable[[Record], float], pattern: str = "{:.4f}") -> str:
    return mean_sd([value(record) for record in records], pattern)


def _value(*keys: str, scale: float = 1.0) -> Callable[[Record], float]:
    """Reads the number at `keys` of a record (times `scale`)."""

    def read(record: Record) -> float:
        value: Any = record
        for key in keys:
            value = value[key]
        return scale * float(value)

    return read


def _scores_frame(records: list[Record]) -> pd.DataFrame:
    first = records[0]
    rows = [
        (
            f"teacher {name}",
            _over_seeds(records, _value("teachers", name, "accuracy")),
            _over_seeds(records, _value("teachers", name, "f1_macro")),
            _over_seeds(records, _value("teachers", name, "validation_accuracy")),
        )
        for name in first["teachers"]
    ]
    rows += [
        (
            f"ensemble ({_METHOD_NAMES.get(method, method)})",
            _over_seeds(records, _value("ensembles", method, "accuracy")),
            _over_seeds(records, _value("ensembles", method, "f1_macro")),
            "–",
        )
        for method in first["ensembles"]
    ]
    return pd.DataFrame(rows, columns=["Model", "Accuracy", "Macro-F1", "Validation accuracy"])


def _agreement_text(records: list[Record]) -> str:
    first = records[0]
    pairs = "; ".join(
        f"{pair}: {_over_seeds(records, _value('agreement', 'pairwise', pair, scale=100), '{:.1f}')} %"
        for pair in first["agreement"]["pairwise"]
    )
    rows = _over_seeds(records, lambda r: r["test_rows"], "{:.0f}")
    seeds = f" (mean ± sd over {len(records)} seeds)" if len(records) > 1 else ""
    return (
        f"On the {rows} test rows{seeds} all teachers predict the same label for "
        f"{_over_seeds(records, lambda r: 100 * r['agreement']['all'], '{:.1f}')} % (pairwise: {pairs}); at least "
        f"one teacher is right on {_over_seeds(records, lambda r: 100 * r['any_teacher_correct'], '{:.1f}')} %. "
        "Scores come from the cached teacher logits."
    )


def teacher_blocks(records: list[Record]) -> list[Block]:
    """Report blocks for the `teacher_ensemble` records (one per task and seed); none without records."""
    by_task: dict[str, list[Record]] = {}
    for record in records:
        by_task.setdefault(record["task"], []).append(record)
    blocks: list[Block] = []
    for task, seeds in by_task.items():
        blocks += [Heading(f"Teachers: {task}"), Table(_scores_frame(seeds)), Paragraph(_agreement_text(seeds))]
    return blocks


def cache_blocks(cached: list[str]) -> list[Block]:
    """The top-k caches of response tokens among the experiment's shared artefacts (causal teachers'): per cache its
    teacher, k, response tokens, bytes per response token and the probability its top-k hold (mean, 5th percentile);
    none when the experiment has no such cache."""
    rows = []
    for path in sorted(set(cached)):
        if not path.endswith(".parquet") or not os.path.isfile(path):
            continue
        fingerprint = read_fingerprint(path)
        tokens = fingerprint.get("response_tokens")
        if not tokens:  # a classification or text-to-text cache
            continue
        mass = fingerprint.get("captured_mass") or {}
        rows.append(
            {
                "Cache": os.path.basename(path),
                "Teacher": fingerprint.get("teacher"),
                "k": fingerprint.get("top_k"),
                "Response tokens": f"{tokens:,}",
                "Bytes per token": f"{os.path.getsize(path) / tokens:.1f}",
                "Top-k mass (mean)": f"{mass.get('mean', float('nan')):.3f}",
                "Top-k mass (p5)": f"{mass.get('p5', float('nan')):.3f}",
            }
        )
    if not rows:
        return []
    text = (
        "Each causal teacher's cache holds, per response token, its top-k log-probabilities (float16), their ids and "
        "the probability of every other token; the top-k mass is what the cached tokens hold of the teacher's "
        "distribution (1 − tail)."
    )
    return [Heading("Teacher caches"), Paragraph(text), Table(pd.DataFrame(rows))]
