"""The `prepare` stage: load a dataset, validate and de-duplicate it, split it, write Parquet."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.atomic import atomic_path, write_json
from scalingdown.config import ConfigError
from scalingdown.data.loaders import get_loader
from scalingdown.data.splits import drop_duplicate_texts, split_off, take_portion
from scalingdown.data.store import MANIFEST, SPLITS, frame_fingerprint, split_path
from scalingdown.provenance import provenance_record, write_provenance

log = logging.getLogger(__name__)

# When a text occurs in several official splits, the evaluation split keeps it.
_KEEP_PRIORITY = ("test", "validation", "train", "all")


def _check_labels(frame: pd.DataFrame, labels: list[str] | None, key: str) -> None:
    if labels is None or "label" not in frame:
        return
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise ConfigError(key, f"the data has labels {unknown} that are not among the configured labels {labels}")


def _label_counts(frame: pd.DataFrame) -> dict[str, int] | None:
    if "label" not in frame:
        return None
    return {str(label): int(count) for label, count in frame["label"].value_counts().sort_index().items()}


def _deduplicate(parts: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], int]:
    """Drop repeated texts across and within splits, keeping evaluation splits intact first."""
    order = [name for name in _KEEP_PRIORITY if name in parts]
    tagged = pd.concat([parts[name].assign(_split=name) for name in order], ignore_index=True)
    kept, dropped = drop_duplicate_texts(tagged)
    return {name: kept[kept["_split"] == name].drop(columns="_split").reset_index(drop=True) for name in order}, dropped


def _complete_splits(parts: dict[str, pd.DataFrame], split: dict[str, float], seed: int) -> dict[str, pd.DataFrame]:
    """Fill in the splits the source does not provide with seeded, stratified splits."""
    if "all" in parts:
        rest, test = split_off(parts.pop("all"), split["test"], seed)
        parts = {"train": rest, "test": test, **parts}
    if "test" not in parts:
        parts["train"], parts["test"] = split_off(parts["train"], split["test"], seed)
    if "validation" not in parts:
        parts["train"], parts["validation"] = split_off(parts["train"], split["validation"], seed + 1)
    return {name: parts[name] for name in SPLITS}


def prepare(spec: dict[str, Any], out_dir: str | Path, experiment: str | None = None) -> dict[str, Any]:
    """Run the stage; `spec` is the plan's prepare spec. Returns the manifest it wrote.

    `experiment` is recorded in the output's provenance as the experiment that built it.
    """
    data = spec["data"]
    seed = spec["seed"]
    parts = get_loader(data["loader"])(data.get("options", {}), seed)
    task_key = f"tasks.{spec['task']}"
    for frame in parts.values():
        _check_labels(frame, spec.get("labels"), f"{task_key}.labels")
    loaded_rows = sum(len(frame) for frame in parts.values())
    parts, duplicates = _deduplicate(parts)
    if duplicates:
        log.warning("dropped %d rows whose text repeats an earlier row", duplicates)
    parts = _complete_splits(parts, data["split"], seed)
    full_train = len(parts["train"])
    parts["train"] = take_portion(parts["train"], data["data_portion"], seed + 2)
    for name, frame in parts.items():
        if frame.empty:
            raise ConfigError(f"{task_key}.data", f"the {name} split is empty (rows loaded: {loaded_rows})")

    labels = spec.get("labels")
    manifest = {
        "labels": labels,
        "rows_loaded": loaded_rows,
        "duplicates_dropped": duplicates,
        "train_rows_before_portion": full_train,
        "splits": {
            name: {
                "rows": len(frame),
                "sha256": frame_fingerprint(frame),
                "label_counts": _label_counts(frame),
            }
            for name, frame in parts.items()
        },
    }
    with atomic_path(out_dir) as staging:
        staging.mkdir(parents=True)
        for name, frame in parts.items():
            frame.to_parquet(split_path(staging, name), index=False)
        write_json(staging / MANIFEST, manifest)
        write_provenance(staging, provenance_record("prepare", experiment))
    for name, info in manifest["splits"].items():
        log.info("%s: %d rows, labels %s", name, info["rows"], info["label_counts"])
    return manifest
