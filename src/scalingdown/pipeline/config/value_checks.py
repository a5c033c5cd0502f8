"""Values the schema lets through but no stage can use, refused before any job runs, each naming its key:
non-finite numbers, seeds numpy cannot take, options of the built-in generator out of range, split fractions
that leave no training rows, tiny-model shapes that cannot be built, malformed Hub ids, and a `max_length`
beyond the positions a model can embed. Standard library only.
"""

from __future__ import annotations

import codecs
import datetime
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

from scalingdown.pipeline.config.model_files import model_config
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.tiny_models import tiny_problem, tiny_shape

# numpy's legacy seeding (numpy.random.seed, RandomState), which transformers.set_seed and scikit-learn's
# random_state use, takes 0 <= seed < 2**32; `prepare` draws its splits with seed, seed + 1 and seed + 2.
SEED_LIMIT = 2**32
SPLIT_SEED_OFFSETS = 2

# The built-in generator's labels (`data.generators.financial_sentiment.LABELS`) and its default row count.
GENERATOR_LABELS = ("negative", "neutral", "positive")
GENERATOR_ROWS = 1500

# Hugging Face Hub repository ids, as `huggingface_hub.utils.validate_repo_id` (huggingface_hub 2.4) checks them:
# `name` or `namespace/name`; each part 1-96 characters of [A-Za-z0-9_.-], starting and ending with a letter,
# digit or `_`; no `--` or `..`; not ending in `.git`.
_HUB_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")


def check_values(config: Mapping[str, Any], workdir: Path | None = None) -> None:
    """Refuse (`ConfigError`, naming the key) every value of a validated config that no stage can use."""
    _check_finite("", config)
    _check_seed("seed", config.get("seed", 0), SEED_LIMIT - 1 - SPLIT_SEED_OFFSETS)
    for index, seed in enumerate(config.get("seeds") or []):
        _check_seed(f"seeds[{index}]", seed, SEED_LIMIT - 1 - SPLIT_SEED_OFFSETS)
    for task_name, task in config["tasks"].items():
        prefix = f"tasks.{task_name}"
        _check_data(f"{prefix}.data", task["data"])
        if task["data"].get("transfer") is not None:
            _check_source(f"{prefix}.data.transfer", task["data"]["transfer"])
        for role in ("teachers", "students"):
            for name, member in task[role].items():
                _check_member(f"{prefix}.{role}.{name}", member, workdir)


# What YAML builds besides JSON's types, which no setting takes (an unquoted 2020-01-01 is a date).
_YAML_ONLY = ((datetime.datetime, "a timestamp"), (datetime.date, "a date"), (bytes, "binary data"), (set, "a set"))


def _check_finite(key: str, value: Any) -> None:
    """Every number finite, and every value of a JSON type (text, number, boolean, null, list, mapping)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key or "(top level)", f"{value} is not a finite number")
    if isinstance(value, str) and "\x00" in value:
        raise ConfigError(
            key or "(top level)", f"{value!r} holds a NUL character (\\x00), which no setting, name or path can"
        )
    what = next((name for kind, name in _YAML_ONLY if isinstance(value, kind)), None)
    if what is not None:
        raise ConfigError(
            key or "(top level)",
            f"{value!r} is {what}, which no setting takes (YAML reads an unquoted 2020-01-01 as a date); quote it "
            "to write a text",
        )
    if isinstance(value, Mapping):
        for name, item in value.items():
            _check_finite(f"{key}.{name}" if key else str(name), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(f"{key}[{index}]", item)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_seed(key: str, seed: Any, highest: int) -> None:
    if not _is_int(seed) or not 0 <= seed <= highest:
        offsets = "; the splits also use seed + 1 and seed + 2" if highest < SEED_LIMIT - 1 else ""
        raise ConfigError(
            key,
            f"{seed!r} is not a seed numpy accepts here: expected an integer from 0 to {highest} "
            f"(numpy.random.seed takes 0 <= seed < 2**32{offsets})",
        )


def _check_data(key: str, data: Mapping[str, Any]) -> None:
    _check_source(key, data)
    if data["loader"] == "synthetic_finance":
        rows = (data.get("options") or {}).get("rows", GENERATOR_ROWS)
        split = data.get("split") or {}
        _check_split_rows(key, rows, split.get("validation", 0.1), split.get("test", 0.2), data.get("data_portion", 1))


def _check_source(key: str, data: Mapping[str, Any]) -> None:
    """A data source's options (`data`, or `data.transfer`): Hub id, encoding, the built-in generator's options."""
    options = data.get("options") or {}
    hub = options.get("hub")
    if isinstance(hub, Mapping) and isinstance(hub.get("id"), str):
        problem = hub_id_problem(hub["id"])
        if problem:
            raise ConfigError(f"{key}.options.hub.id", problem)
    if isinstance(options.get("encoding"), str):
        try:
            codecs.lookup(options["encoding"])
        except (LookupError, ValueError):
            raise ConfigError(
                f"{key}.options.encoding",
                f"{options['encoding']!r} is not a text encoding Python knows (e.g. latin-1, utf-8)",
            ) from None
    if data["loader"] == "synthetic_finance":
        _check_generator(f"{key}.options", options)


def _check_generator(key: str, options: Mapping[str, Any]) -> None:
    """The built-in generator's options (see config/README.md: synthetic_finance)."""
    rows = options.get("rows", GENERATOR_ROWS)
    if not _is_int(rows) or rows < 1:
        raise ConfigError(f"{key}.rows", f"expected a whole number of rows >= 1, found {rows!r}")
    noise = options.get("label_noise", 0.0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < 1:
        raise ConfigError(f"{key}.label_noise", f"expected a fraction with 0 <= label_noise < 1, found {noise!r}")
    if "seed" in options:
        _check_seed(f"{key}.seed", options["seed"], SEED_LIMIT - 1)
    mix = options.get("label_mix")
    if mix is None:
        return
    if not isinstance(mix, Mapping) or set(mix) != set(GENERATOR_LABELS):
        raise ConfigError(
            f"{key}.label_mix", f"expected a fraction for each of {list(GENERATOR_LABELS)}, found {mix!r}"
        )
    for label, share in mix.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise ConfigError(f"{key}.label_mix.{label}", f"expected a fraction from 0 to 1, found {share!r}")
    total = sum(float(share) for share in mix.values())
    if abs(total - 1) > 1e-6:
        raise ConfigError(f"{key}.label_mix", f"the fractions sum to {total:g}, not 1")


def generated_train_rows(data: Mapping[str, Any]) -> int | None:
    """The training rows the built-in generator's data leaves after the splits and `data_portion` (before
    de-duplication, so at most this many); None for data read from files or the Hub."""
    if data["loader"] != "synthetic_finance":
        return None
    rows = int((data.get("options") or {}).get("rows", GENERATOR_ROWS))
    split = data.get("split") or {}
    rest: int = rows - math.ceil(split.get("test", 0.2) * rows)
    train: int = rest - math.ceil(split.get("validation", 0.1) * rest)
    portion = float(data.get("data_portion", 1))
    return train if portion >= 1 else math.ceil(portion * train)


def _check_split_rows(key: str, rows: int, validation: float, test: float, portion: float) -> None:
    """The splits of `rows` generated rows leave training rows (as scikit-learn rounds: the part taken up)."""
    test_rows = math.ceil(test * rows)
    rest = rows - test_rows
    validation_rows = math.ceil(validation * rest)
    train = rest - validation_rows
    if rest < 1 or train < 1:
        raise ConfigError(
            f"{key}.split",
            f"validation {validation} and test {test} of {rows} generated rows leave no training rows "
            f"(test takes {test_rows}, validation {validation_rows} of the other {rest}); lower them or raise rows",
        )
    if math.ceil(portion * train) < 1:
        raise ConfigError(f"{key}.data_portion", f"{portion} of {train} training rows leaves none")


def _check_member(key: str, member: Mapping[str, Any], workdir: Path | None) -> None:
    """A teacher's or student's model reference and its `max_length`; its training seed."""
    ref = member["model"]
    scheme, _, rest = ref.partition(":")
    problem = None
    if scheme == "tiny":
        problem = tiny_problem(rest)
    elif scheme == "hub":
        name, at, revision = rest.partition("@")
        problem = hub_id_problem(name) or (f"{ref!r} names no revision after '@'" if at and not revision else None)
    if problem:
        raise ConfigError(f"{key}.model", problem)
    limit = position_limit(ref, workdir)
    max_length = member.get("max_length")
    if limit is not None and _is_int(max_length) and max_length > limit:
        raise ConfigError(
            f"{key}.max_length",
            f"{max_length} tokens is more than the {limit} positions {ref} can embed "
            f"(max_position_embeddings of its config); use at most {limit}",
        )
    for settings_key in ("training", "finetune"):
        settings = member.get(settings_key)
        if isinstance(settings, Mapping) and "seed" in settings:
            _check_seed(f"{key}.{settings_key}.seed", settings["seed"], SEED_LIMIT - 1)
        if isinstance(settings, Mapping):
            _check_selection(f"{key}.{settings_key}", settings)


def _check_selection(key: str, settings: Mapping[str, Any]) -> None:
    """Early stopping needs a best checkpoint; with `checkpoint: best` the checkpoints are the evaluations."""
    if settings.get("checkpoint", "best") == "best":
        if "checkpoint_steps" in settings:
            raise ConfigError(
                f"{key}.checkpoint_steps",
                "with checkpoint: best a resumable checkpoint is saved at every evaluation (eval_steps); set "
                "eval_steps instead, or checkpoint: last to keep the last step's weights",
            )
    elif "early_stopping" in settings:
        raise ConfigError(
            f"{key}.early_stopping",
            "early stopping keeps the best checkpoint; it needs checkpoint: best, not checkpoint: last",
        )


def position_limit(ref: str, workdir: Path | None = None) -> int | None:
    """The longest input (in tokens) a model can embed: its `max_position_embeddings`, read from the tiny
    reference or the config of a local, packaged or cached Hub model; None when unknown or unlimited."""
    scheme, _, rest = ref.partition(":")
    if scheme == "tiny":
        shape = tiny_shape(rest)
        return None if shape is None else shape.positions
    config = model_config(ref, workdir)
    limit = (config or {}).get("max_position_embeddings")
    return limit if _is_int(limit) and limit > 0 else None


def hub_id_problem(repo_id: str) -> str | None:
    """Why `repo_id` is not a valid Hugging Face Hub repository id, or None when it is."""
    expected = "expected <name> or <namespace>/<name>"
    parts = repo_id.split("/")
    if len(parts) > 2:
        return f"{repo_id!r} is not a Hub repository id: more than one '/' ({expected})"
    for part in parts:
        if not _HUB_PART.fullmatch(part):
            return (
                f"{repo_id!r} is not a Hub repository id: {part!r} must be 1 to 96 characters of letters, digits, "
                f"'-', '_' or '.', not starting or ending with '-' or '.' ({expected})"
            )
    if "--" in repo_id or ".." in repo_id:
        return f"{repo_id!r} is not a Hub repository id: it contains '--' or '..'"
    if repo_id.endswith(".git"):
        return f"{repo_id!r} is not a Hub repository id: it ends in '.git'"
    return None
