"""The `prepare` stage: load a dataset, validate and de-duplicate it, split it, write Parquet.

With a label budget (`data.label_budget`) only a stratified share of the training split keeps its labels, the rest
becoming transfer rows; transfer text (`data.transfer`) is appended to the training split without labels. The
training split then has a `labelled` column (see `data.budget`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from scalingdown.data.budget import LABELLED, apply_budget, budget_rows, cap_validation, labelled_rows
from scalingdown.data.loaders import load
from scalingdown.data.schema import NAMED_LABELS, STRATIFY, group_keys, label_counts
from scalingdown.data.splits import drop_duplicates, split_off, take_portion
from scalingdown.data.store import MANIFEST, SPLITS, write_split
from scalingdown.data.transfer import TransferCounts, load_transfer, transfer_rows
from scalingdown.pipeline.config.data_files import source_files
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.loader_registry import DataConfigError
from scalingdown.pipeline.outputs.atomic import atomic_path, check_replaceable, write_json
from scalingdown.pipeline.outputs.input_fingerprints import MANIFEST_KEY as INPUTS_KEY
from scalingdown.pipeline.outputs.input_fingerprints import fingerprints
from scalingdown.pipeline.outputs.provenance import provenance_record, write_provenance
from scalingdown.pipeline.specs.definitions import PrepareSpec, SplitSpec

log = logging.getLogger(__name__)


def _check_labels(frame: pd.DataFrame, labels: list[str] | None, key: str) -> None:
    if labels is None:
        return
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise ConfigError(key, f"the data has labels {unknown} that are not among the configured labels {labels}")


def _check_labels_trained(
    parts: dict[str, pd.DataFrame], labels: list[str], task_key: str, portion: float, budget: float | None = None
) -> None:
    """Every label that is evaluated is also trained on (among the labelled rows)."""
    trained = set(labelled_rows(parts["train"])["label"])
    for name in ("validation", "test"):
        counts = parts[name]["label"].value_counts()
        unseen = {label: int(count) for label, count in counts.items() if label not in trained}
        if unseen:
            key = f"{task_key}.data.data_portion" if portion < 1 else f"{task_key}.data"
            if budget is not None:
                key = f"{task_key}.data.label_budget"
            raise ConfigError(
                key,
                f"labels {sorted(unseen)} occur in the {name} split ({unseen} rows) but never in "
                f"the train split (data_portion {portion}): no model can learn them; use more "
                "training data or drop those rows",
            )


def _check_absent_labels(parts: dict[str, pd.DataFrame], labels: list[str], task_key: str, allowed: bool) -> None:
    """Refuse a configured label that no row of any split has (a typo, or a class the data lacks), unless `allowed`:
    its recall and F1 count as 0 and lower every macro-averaged score."""
    found = {name: frame["label"].dropna().value_counts() for name, frame in parts.items()}
    absent = [label for label in labels if not any(label in counts for counts in found.values())]
    if not absent:
        return
    rows = ", ".join(
        f"{name} {dict(sorted((str(k), int(v)) for k, v in counts.items()))}" for name, counts in found.items()
    )
    problem = f"label(s) {absent} occur in no split (rows by label: {rows})"
    if allowed:
        log.warning("%s; kept because data.allow_absent_labels is on", problem)
        return
    raise ConfigError(
        f"{task_key}.labels",
        f"{problem}: a label without rows lowers every macro-averaged score (its recall and F1 count as 0); correct "
        "the label names, or set data.allow_absent_labels: true to keep it",
    )


# The fewest labels a split needs for its scores to mean something: training on one label learns a constant,
# and on a test split with one label that constant scores 100 %.
FEWEST_LABELS = {"train": 2, "test": 2}


def _check_label_spread(parts: dict[str, pd.DataFrame], column: str, task: str, allowed: bool) -> dict[str, Any] | None:
    """Refuse a train split with fewer than two labels or a test split with one, unless `allowed`; then return
    what the manifest records (and the report shows in bold)."""
    scored = {name: labelled_rows(parts[name]) for name in FEWEST_LABELS}
    few = {
        name: sorted(str(label) for label in scored[name][column].unique())
        for name, fewest in FEWEST_LABELS.items()
        if scored[name][column].nunique() < fewest
    }
    if not few:
        return None
    found = "; ".join(f"the {name} split holds only the label(s) {labels}" for name, labels in few.items())
    if not allowed:
        raise ConfigError(
            f"tasks.{task}.data",
            f"{found}: a model trained on one label learns a constant, and one test label makes a constant "
            "score 100 %; use more or other data, or set data.allow_few_labels: true to go on anyway",
        )
    log.warning("%s (allowed by data.allow_few_labels): the scores of this task are not meaningful", found)
    return {"task": task, "splits": few}


def _split_off(
    frame: pd.DataFrame, fraction: float, seed: int, stratify: str | None, key: str, group_by: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`split_off`, refusing (naming `key`) a fraction that would take every row or group (scikit-learn rounds it
    up)."""
    count, what = (group_keys(frame, group_by).nunique(), "groups") if group_by else (len(frame), "rows")
    taken = math.ceil(fraction * count)
    if taken >= count:
        raise ConfigError(
            key, f"{fraction} of {count} {what} takes {taken}, which leaves no training rows; lower it or add data"
        )
    return split_off(frame, fraction, seed, stratify, group_by)


def _complete_splits(
    parts: dict[str, pd.DataFrame], split: SplitSpec, seed: int, stratify: str | None, key: str
) -> dict[str, pd.DataFrame]:
    """Fill in the splits the source does not provide with seeded splits, stratified by `stratify` (or grouped by
    `split.group_by`); `key` is the config key of the split fractions."""
    group_by = split.group_by
    if group_by is not None:
        log.info("splitting by groups of rows with equal %r (not stratified)", group_by)
    if "all" in parts:
        rest, test = _split_off(parts.pop("all"), split.test, seed, stratify, f"{key}.test", group_by)
        parts = {"train": rest, "test": test, **parts}
    if "test" not in parts:
        parts["train"], parts["test"] = _split_off(parts["train"], split.test, seed, stratify, f"{key}.test", group_by)
    if "validation" not in parts:
        parts["train"], parts["validation"] = _split_off(
            parts["train"], split.validation, seed + 1, stratify, f"{key}.validation", group_by
        )
    return {name: parts[name] for name in SPLITS}


def _budget_and_transfer(
    parts: dict[str, pd.DataFrame], spec: PrepareSpec, stratify: str | None
) -> tuple[pd.DataFrame, TransferCounts | None]:
    """The training split with its label budget applied and the transfer text appended (unchanged without either),
    and what became of the transfer rows."""
    data, train = spec.data, parts["train"]
    if data.label_budget is None and data.transfer is None:
        return train, None
    key = f"tasks.{spec.task}.data.label_budget"
    if data.label_budget is not None and budget_rows(data.label_budget, len(train)) > len(train):
        raise ConfigError(
            key,
            f"{data.label_budget:g} labelled rows is more than the {len(train)} training rows left; lower it (or "
            "the `label_budget` of the teacher that learns from these rows)",
        )
    train = apply_budget(train, data.label_budget, spec.seed, stratify, spec.type)
    if data.transfer is None:
        return train, None
    try:
        source = load_transfer(data.transfer, spec.seed)
    except DataConfigError as error:
        raise ConfigError(f"tasks.{spec.task}.data.transfer.{error.key}", error.problem) from None
    kept, counts = transfer_rows(source, train, [parts["validation"], parts["test"]])
    log.info(
        "transfer text: %d rows loaded, %d dropped as validation or test texts, %d already in train, %d repeats; "
        "%d appended",
        counts.rows_loaded,
        counts.dropped_in_evaluation,
        counts.dropped_in_train,
        counts.repeats_dropped,
        counts.rows_kept,
    )
    if counts.rows_kept == 0:
        log.warning(
            "transfer text adds nothing: none of its %d rows is new to the training split (see the counts above); "
            "the students learn from the same rows as without data.transfer",
            counts.rows_loaded,
        )
    unlabelled = kept.assign(label=None, **{LABELLED: False})
    return pd.concat([train, unlabelled[list(train.columns)]], ignore_index=True), counts


def _validation_budget(validation: pd.DataFrame, spec: PrepareSpec, stratify: str | None) -> pd.DataFrame:
    """The validation split capped to `data.validation_budget` (the labels checkpoint selection may use)."""
    budget = spec.data.validation_budget
    if budget is None:
        return validation
    if budget_rows(budget, len(validation)) > len(validation):
        raise ConfigError(
            f"tasks.{spec.task}.data.validation_budget",
            f"{budget:g} validation rows is more than the {len(validation)} rows of the validation split; lower it",
        )
    capped = cap_validation(validation, budget, spec.seed, stratify)
    log.info("validation budget: %d of %d validation rows kept for checkpoint selection", len(capped), len(validation))
    return capped


def _budget_manifest(train: pd.DataFrame, budget: float | None, transfer: TransferCounts | None) -> dict[str, Any]:
    """What the manifest records of a training split with a budget or transfer text: labelled and transfer rows."""
    labelled = int(train[LABELLED].sum())
    found: dict[str, Any] = {
        "label_budget": budget,
        "labelled_rows": labelled,
        "transfer_rows": len(train) - labelled,
    }
    if transfer is not None:
        found["transfer"] = transfer.to_dict()
    return found


def prepare(spec: PrepareSpec, out: str | Path, experiment: str | None = None) -> dict[str, Any]:
    """Run the stage; `spec` is the plan's prepare spec. Returns the manifest it wrote.

    Everything is loaded and checked before anything is written: bad data raises `DataError`
    and leaves no output behind. `experiment` is recorded in the output's provenance as the
    experiment that built it.
    """
    check_replaceable(out, "prepare")
    data, seed, task_type = spec.data, spec.seed, spec.type
    sources = [data.options] + ([data.transfer.options] if data.transfer is not None else [])
    inputs = fingerprints(source_files(sources))  # before reading: a file changed meanwhile reruns prepare
    task_key = f"tasks.{spec.task}"
    try:
        parts = load(data.loader, data.options, seed, task_type)
    except DataConfigError as error:
        raise ConfigError(f"{task_key}.{error.key}", error.problem) from None
    if task_type in NAMED_LABELS:
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
    parts = _complete_splits(parts, data.split, seed, stratify, f"{task_key}.data.split")
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
    parts["train"], transfer = _budget_and_transfer(parts, spec, stratify)
    validation_rows = len(parts["validation"])
    parts["validation"] = _validation_budget(parts["validation"], spec, stratify)
    if task_type in NAMED_LABELS:
        _check_labels_trained(parts, spec.labels or [], task_key, data.data_portion, data.label_budget)
        _check_absent_labels(parts, spec.labels or [], task_key, data.allow_absent_labels)
    few_labels, stratify_by = None, STRATIFY[task_type]
    if stratify_by is not None:
        few_labels = _check_label_spread(parts, stratify_by, spec.task, data.allow_few_labels)

    with atomic_path(out, stage="prepare") as staging:
        staging.mkdir(parents=True)
        manifest: dict[str, Any] = {
            "type": task_type,
            "labels": spec.labels,
            **cleaning.counts(),
            "train_rows_before_portion": full_train,
            "splits": {
                name: {
                    "rows": len(frame),
                    "sha256": write_split(staging, name, frame),
                    "label_counts": label_counts(frame, task_type),
                }
                for name, frame in parts.items()
            },
        }
        if LABELLED in parts["train"]:
            manifest.update(_budget_manifest(parts["train"], data.label_budget, transfer))
        if data.validation_budget is not None:
            manifest.update(validation_budget=data.validation_budget, validation_rows_before_budget=validation_rows)
        if few_labels is not None:
            manifest["few_labels"] = few_labels
        manifest[INPUTS_KEY] = inputs
        write_json(staging / MANIFEST, manifest)
        write_provenance(staging, provenance_record("prepare", experiment))
    for name, info in manifest["splits"].items():
        log.info("%s: %d rows, labels %s", name, info["rows"], info["label_counts"])
    return manifest
