"""The `prepare` stage: load a dataset, validate and de-duplicate it, split it, write Parquet."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.loaders import load
from scalingdown.data.schema import STRATIFY, label_counts
from scalingdown.data.splits import drop_duplicates, split_off, take_portion
from scalingdown.data.store import MANIFEST, SPLITS, frame_fingerprint, split_path
from scalingdown.pipeline.atomic import atomic_path, write_json
from scalingdown.pipeline.config import ConfigError
from scalingdown.pipeline.loaders import DataConfigError
from scalingdown.pipeline.provenance import provenance_record, write_provenance
from scalingdown.pipeline.specs import PrepareSpec, SplitSpec

log = logging.getLogger(__name__)


def _check_labels(frame: pd.DataFrame, labels: list[str] | None, key: str) -> None:
    if labels is None:
        return
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise ConfigError(key, f"the data has labels {unknown} that are not among the configured labels {labels}")


def _check_labels_trained(parts: dict[str, pd.DataFrame], labels: list[str], task_key: str, portion: float) -> None:
    """Every label that is evaluated is also trained on; configured labels absent from all data are logged."""
    trained = set(parts["train"]["label"])
    for name in ("validation", "test"):
        counts = parts[name]["label"].value_counts()
        unseen = {label: int(count) for label, count in counts.items() if label not in trained}
        if unseen:
            key = f"{task_key}.data.data_portion" if portion < 1 else f"{task_key}.data"
            raise ConfigError(
                key,
                f"labels {sorted(unseen)} occur in the {name} split ({unseen} rows) but never in "
                f"the train split (data_portion {portion}): no model can learn them; use more "
                "training data or drop those rows",
            )
    absent = [label for label in labels if not any(label in set(frame["label"]) for frame in parts.values())]
    if absent:
        log.warning("configured labels %s occur in none of the splits", absent)


def _complete_splits(
    parts: dict[str, pd.DataFrame], split: SplitSpec, seed: int, stratify: str | None
) -> dict[str, pd.DataFrame]:
    """Fill in the splits the source does not provide with seeded splits, stratified by `stratify`."""
    if "all" in parts:
        rest, test = split_off(parts.pop("all"), split.test, seed, stratify)
        parts = {"train": rest, "test": test, **parts}
    if "test" not in parts:
        parts["train"], parts["test"] = split_off(parts["train"], split.test, seed, stratify)
    if "validation" not in parts:
        parts["train"], parts["validation"] = split_off(parts["train"], split.validation, seed + 1, stratify)
    return {name: parts[name] for name in SPLITS}


def prepare(spec: PrepareSpec, out: str | Path, experiment: str | None = None) -> dict[str, Any]:
    """Run the stage; `spec` is the plan's prepare spec. Returns the manifest it wrote.

    Everything is loaded and checked before anything is written: bad data raises `DataError`
    and leaves no output behind. `experiment` is recorded in the output's provenance as the
    experiment that built it.
    """
    data, seed, task_type = spec.data, spec.seed, spec.type
    task_key = f"tasks.{spec.task}"
    try:
        parts = load(data.loader, data.options, seed, task_type)
    except DataConfigError as error:
        raise ConfigError(f"{task_key}.{error.key}", error.problem) from None
    if task_type == "classification":
        for frame in parts.values():
            _check_labels(frame, spec.labels, f"{task_key}.labels")
    parts, cleaning = drop_duplicates(parts, task_type)
    if cleaning.duplicates_dropped or cleaning.label_conflicts_dropped:
        log.warning(
            "dropped %d exact repeats and %d rows of %d texts with conflicting labels",
            cleaning.duplicates_dropped,
            cleaning.label_conflicts_dropped,
            cleaning.conflicting_texts,
        )
    for name, frame in parts.items():
        if frame.empty:
            raise ConfigError(
                f"{task_key}.data",
                f"no rows of the {name} source are left after de-duplication "
                "(each of its texts repeats one kept in another split, or has conflicting labels)",
            )
    stratify = STRATIFY[task_type]
    parts = _complete_splits(parts, data.split, seed, stratify)
    full_train = len(parts["train"])
    parts["train"] = take_portion(parts["train"], data.data_portion, seed + 2, stratify)
    if parts["train"].empty and full_train:
        raise ConfigError(
            f"{task_key}.data.data_portion",
            f"{data.data_portion} of the {full_train} training rows leaves the train split empty; raise it",
        )
    for name, frame in parts.items():
        if frame.empty:
            raise ConfigError(f"{task_key}.data", f"the {name} split is empty (rows loaded: {cleaning.rows_loaded})")
    if task_type == "classification":
        _check_labels_trained(parts, spec.labels or [], task_key, data.data_portion)

    manifest = {
        "type": task_type,
        "labels": spec.labels,
        **cleaning.counts(),
        "train_rows_before_portion": full_train,
        "splits": {
            name: {
                "rows": len(frame),
                "sha256": frame_fingerprint(frame),
                "label_counts": label_counts(frame, task_type),
            }
            for name, frame in parts.items()
        },
    }
    with atomic_path(out) as staging:
        staging.mkdir(parents=True)
        for name, frame in parts.items():
            frame.to_parquet(split_path(staging, name), index=False)
        write_json(staging / MANIFEST, manifest)
        write_provenance(staging, provenance_record("prepare", experiment))
    for name, info in manifest["splits"].items():
        log.info("%s: %d rows, labels %s", name, info["rows"], info["label_counts"])
    return manifest
