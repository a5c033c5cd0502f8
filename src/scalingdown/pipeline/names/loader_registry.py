"""The loader registry: each loader's name, the task types it produces and the options it accepts.

Standard library only: `check_config` (which the Snakefile runs) checks a task's loader and its
options with it before any job starts. A loader's code lives in `module` (a function
`load(options, seed, task_type)`) and is imported only when the loader runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.families import TASK_TYPES

SPLIT_NAMES = ("train", "validation", "test")
SOURCE_OPTIONS = ("path", "files", "hub")
HUB_KEYS = ("id", "config", "revision", "splits")
GENERIC_FORMATS = ("csv", "jsonl", "parquet")

# The generic loader's column options, by task type (besides `format` and `id_column`).
GENERIC_COLUMNS = {
    "classification": ("text_column", "label_column", "label_names"),
    "multiple_choice": (
        "context_column",
        "question_column",
        "options_column",
        "option_columns",
        "label_column",
        "label_base",
    ),
    "generative_qa": ("question_column", "answer_column", "aliases_column"),
    "math": ("question_column", "options_column", "option_columns", "rationale_column", "answer_column"),
    "instruction": ("prompt_column", "response_column", "messages_column"),
}


@dataclass(frozen=True)
class LoaderInfo:
    """What the registry knows about a loader without importing it."""

    module: str
    task_types: tuple[str, ...]
    options: frozenset[str]
    reads_sources: bool = True  # takes one of `path`, `files`, `hub`
    labels_files: bool = False  # takes `labels_path` / `labels_files` (labels kept apart from the data)


_FORMATS = "scalingdown.data.formats"

LOADERS: dict[str, LoaderInfo] = {
    "synthetic_finance": LoaderInfo(
        f"{_FORMATS}.synthetic",
        ("classification",),
        frozenset({"rows", "label_noise", "label_mix", "seed"}),
        reads_sources=False,
    ),
    "synthetic_finance_qa": LoaderInfo(
        f"{_FORMATS}.synthetic_qa",
        ("generative_qa", "multiple_choice"),
        frozenset({"rows", "seed", "choices"}),
        reads_sources=False,
    ),
    "phrasebank": LoaderInfo(f"{_FORMATS}.phrasebank", ("classification",), frozenset({"encoding"})),
    "aqua_rat": LoaderInfo(f"{_FORMATS}.aqua_rat", ("math",), frozenset()),
    "winogrande": LoaderInfo(f"{_FORMATS}.winogrande", ("multiple_choice",), frozenset(), labels_files=True),
    "social_iqa": LoaderInfo(f"{_FORMATS}.social_iqa", ("multiple_choice",), frozenset(), labels_files=True),
    "triviaqa": LoaderInfo(f"{_FORMATS}.triviaqa", ("generative_qa",), frozenset()),
    "generic": LoaderInfo(
        f"{_FORMATS}.generic", TASK_TYPES, frozenset({"format", "id_column"}).union(*GENERIC_COLUMNS.values())
    ),
}


class DataConfigError(UserError, ValueError):
    """A loader, task type or loader option that cannot work; `key` is relative to the task (`data.options.path`)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"`{key}`: {problem}")
        self.key = key
        self.problem = problem


def loader_info(name: str) -> LoaderInfo:
    """The registry entry of `name`; `DataConfigError` listing the known loaders otherwise."""
    if name not in LOADERS:
        raise DataConfigError("data.loader", f"unknown loader {name!r}; known loaders: {', '.join(sorted(LOADERS))}")
    return LOADERS[name]


def check_data(loader: str, task_type: str, options: Mapping[str, Any]) -> LoaderInfo:
    """Check that `loader` exists, produces `task_type` and accepts `options`; return its entry."""
    info = loader_info(loader)
    if task_type not in info.task_types:
        raise DataConfigError(
            "type", f"loader {loader!r} produces {' or '.join(info.task_types)} data, not {task_type!r}"
        )
    accepted = set(info.options)
    if info.reads_sources:
        accepted |= set(SOURCE_OPTIONS)
    if info.labels_files:
        accepted |= {"labels_path", "labels_files"}
    for name in sorted(options):
        if name not in accepted:
            raise DataConfigError(
                f"data.options.{name}", f"not an option of loader {loader!r} (options: {', '.join(sorted(accepted))})"
            )
    if info.reads_sources:
        _check_sources(options)
    if loader == "generic":
        _check_generic(task_type, options)
    if loader == "synthetic_finance_qa":
        _check_synthetic_qa(options)
    return info


def _key(name: str) -> str:
    return f"data.options.{name}"


def _check_string(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise DataConfigError(_key(name), f"expected a non-empty string, found {value!r}")


def _check_split_mapping(name: str, value: Any, allowed: tuple[str, ...], need_train: bool = True) -> None:
    if not isinstance(value, Mapping) or not value:
        raise DataConfigError(_key(name), f"expected a mapping of split names ({', '.join(allowed)}) to names")
    for split, item in value.items():
        if split not in allowed:
            raise DataConfigError(_key(f"{name}.{split}"), f"unknown split; expected one of {', '.join(allowed)}")
        _check_string(f"{name}.{split}", item)
    if "all" in value and len(value) > 1:
        raise DataConfigError(_key(name), "`all` (no official split) cannot be combined with other splits")
    if need_train and "all" not in value and "train" not in value:
        raise DataConfigError(_key(name), "no train split: map a source to `train` (or give one source as `all`)")


def _check_sources(options: Mapping[str, Any]) -> None:
    given = [name for name in SOURCE_OPTIONS if name in options]
    if len(given) != 1:
        raise DataConfigError(
            "data.options", f"give exactly one of {', '.join(SOURCE_OPTIONS)} (found: {', '.join(given) or 'none'})"
        )
    source = given[0]
    if source == "path":
        _check_string("path", options["path"])
    elif source == "files":
        _check_split_mapping("files", options["files"], SPLIT_NAMES)
    else:
        hub = options["hub"]
        if not isinstance(hub, Mapping):
            raise DataConfigError(_key("hub"), "expected a mapping with id, splits and optionally config, revision")
        for name in hub:
            if name not in HUB_KEYS:
                raise DataConfigError(_key(f"hub.{name}"), f"unknown key; expected {', '.join(HUB_KEYS)}")
        for name in ("id", "splits"):
            if name not in hub:
                raise DataConfigError(_key(f"hub.{name}"), "required")
        for name in ("id", "config", "revision"):
            if name in hub:
                _check_string(f"hub.{name}", hub[name])
        _check_split_mapping("hub.splits", hub["splits"], ("all", *SPLIT_NAMES))
    if "labels_path" in options:
        if source != "path":
            raise DataConfigError(_key("labels_path"), "goes with `path`; use `labels_files` with `files`")
        _check_string("labels_path", options["labels_path"])
    if "labels_files" in options:
        if source != "files":
            raise DataConfigError(_key("labels_files"), "goes with `files`; use `labels_path` with `path`")
        _check_split_mapping("labels_files", options["labels_files"], SPLIT_NAMES, need_train=False)
        extra = sorted(set(options["labels_files"]) - set(options["files"]))
        if extra:
            raise DataConfigError(_key("labels_files"), f"splits {extra} have no data file under `files`")


def _check_synthetic_qa(options: Mapping[str, Any]) -> None:
    """`rows` >= 10 (every split gets rows), `seed` >= 0, `choices` from 2 to 10 (the option letters A–J)."""
    for name, low, high in (("rows", 10, None), ("seed", 0, None), ("choices", 2, 10)):
        value = options.get(name, low)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
            raise DataConfigError(_key(name), f"expected {expected}, found {value!r}")


def _check_generic(task_type: str, options: Mapping[str, Any]) -> None:
    by_type = frozenset().union(*GENERIC_COLUMNS.values())
    for name, value in sorted(options.items()):
        if name in by_type and name not in GENERIC_COLUMNS[task_type]:
            raise DataConfigError(
                _key(name), f"not used by {task_type} data (its options: {', '.join(GENERIC_COLUMNS[task_type])})"
            )
        if name.endswith("_column"):
            _check_string(name, value)
        if name in {"option_columns", "label_names"} and (
            not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, str) and v for v in value)
        ):
            raise DataConfigError(_key(name), f"expected a list of at least two non-empty strings, found {value!r}")
    if "messages_column" in options and ({"prompt_column", "response_column"} & set(options)):
        raise DataConfigError(_key("messages_column"), "give either messages_column or prompt_column/response_column")
    if "options_column" in options and "option_columns" in options:
        raise DataConfigError(_key("option_columns"), "give either options_column or option_columns, not both")
    if options.get("label_base", 0) not in (0, 1) or isinstance(options.get("label_base"), bool):
        raise DataConfigError(_key("label_base"), f"expected 0 or 1, found {options['label_base']!r}")
    if "format" in options and options["format"] not in GENERIC_FORMATS:
        raise DataConfigError(
            _key("format"), f"expected one of {', '.join(GENERIC_FORMATS)}, found {options['format']!r}"
        )
