"""The experiment config before any job runs: defaults merged in, the schema checked, settings looked up.

Standard library only (the Snakefile runs it again in every cluster job); `yaml` and `jsonschema` are
imported only by the functions that read a file or check the schema. The semantic checks the schema
cannot express are `pipeline.checks`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.candidates import candidate_list_problem
from scalingdown.pipeline.canonical import canonical, deep_merge
from scalingdown.pipeline.errors import UserError

# Defaults of the keys that only text-to-text (seq2seq) tasks use; the schema gives them none so
# that a classification task setting one is an error rather than silently ignored.
SEQ2SEQ_DEFAULTS: dict[str, Any] = {"max_target_length": 64, "top_k": 32, "targets": "gold"}


# What a `hyperparameters` file may hold (each merged under the tasks' keys of the same name).
HYPERPARAMETER_KEYS = ("teacher_defaults", "student_defaults")


# The peft LoraConfig arguments of `finetune.method: lora` when `finetune.lora_config` names no other file.
DEFAULT_LORA_CONFIG = "config/lora_config.json"


class ConfigError(UserError, ValueError):
    """A config value is invalid; the message starts with the dotted key that is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key `{key}`: {problem}")
        self.key = key
        self.problem = problem


def config_key(config: Any, path: Iterable[Any]) -> str:
    """The dotted key of the value at `path` in `config`, list elements by index: `tasks.t.data.label_budget[1]`."""
    key, node = "", config
    for part in path:
        if isinstance(node, list):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return key


def apply_defaults(config: dict[str, Any], workdir: Path | None = None) -> None:
    """Fill every teacher and student from the defaults, in place, before validation.

    Precedence, lowest first: the `hyperparameters` file (if the config names one), the task's
    `teacher_defaults` / `student_defaults`, the teacher's or student's own settings.
    """
    shared = read_hyperparameters(config, workdir)
    for task in _tasks(config):
        if not isinstance(task, dict):
            continue
        for key in HYPERPARAMETER_KEYS:
            if shared.get(key):
                own = task.get(key) or {}
                task[key] = deep_merge(shared[key], own) if isinstance(own, Mapping) else own
    apply_student_defaults(config)


def _tasks(config: Mapping[str, Any]) -> list[Any]:
    """The tasks of a config not yet validated (none when `tasks` is not a mapping: the schema then says so)."""
    tasks = config.get("tasks")
    return list(tasks.values()) if isinstance(tasks, Mapping) else []


def read_hyperparameters(config: Mapping[str, Any], workdir: Path | None) -> dict[str, Any]:
    """The defaults of the `hyperparameters` file the config names (empty without one)."""
    name = config.get("hyperparameters")
    if name is None:
        return {}
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ConfigError("hyperparameters", f"expected the path of a YAML file, got {name!r}")
    path = Path(name)
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    if not path.is_file():
        raise ConfigError("hyperparameters", f"file {name!r} not found (paths are relative to the working directory)")
    import yaml  # light, and only needed here

    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError("hyperparameters", f"{name} is not valid YAML: {error}") from None
    if not isinstance(content, dict):
        raise ConfigError("hyperparameters", f"{name} must hold a mapping with {' and/or '.join(HYPERPARAMETER_KEYS)}")
    unknown = sorted(set(content) - set(HYPERPARAMETER_KEYS))
    if unknown:
        raise ConfigError("hyperparameters", f"{name} has unknown keys {unknown}; allowed: {list(HYPERPARAMETER_KEYS)}")
    for key, value in content.items():
        if not isinstance(value, dict):
            raise ConfigError("hyperparameters", f"{name}: `{key}` must be a mapping")
    return content


def apply_student_defaults(config: dict[str, Any]) -> None:
    """Merge each task's `teacher_defaults` and `student_defaults` into its teachers and students, in place."""
    for task in _tasks(config):
        if not isinstance(task, dict):
            continue
        for defaults_key, members_key in (("teacher_defaults", "teachers"), ("student_defaults", "students")):
            defaults = task.get(defaults_key) or {}
            members = task.get(members_key) or {}
            if isinstance(defaults, Mapping) and isinstance(members, Mapping):
                task[members_key] = {
                    name: deep_merge(defaults, spec) if isinstance(spec, Mapping) else spec
                    for name, spec in members.items()
                }


def check_schema(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Validate `config` against the JSON schema; the most relevant error becomes a `ConfigError`
    naming the dotted key (Snakemake's own `validate`, which also fills defaults, runs after). Lists of teacher
    candidates (`pipeline.candidates`) are checked first, with a message that says which keys may list them."""
    problem = candidate_list_problem(config)
    if problem is not None:
        raise ConfigError(*problem)
    from jsonschema.exceptions import best_match

    error = best_match(_validator(str(schema_path)).iter_errors(config))
    if error is not None:
        key = config_key(config, error.absolute_path) or "(top level)"
        raise ConfigError(key, error.message)


@functools.cache
def _validator(schema_path: str) -> Any:
    """The JSON-schema validator of the schema file (read once per process)."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def data_file_options(options: Mapping[str, Any], prefix: str = "data.options") -> list[tuple[str, str]]:
    """(dotted key, path) of every input file a loader's options name: options called `path` or
    `files` or ending in `_path` / `_files` (a string, or the strings of a list or mapping)."""
    found: list[tuple[str, str]] = []

    def collect(key: str, value: Any) -> None:
        if isinstance(value, str):
            found.append((key, value))
        elif isinstance(value, Mapping):
            for name, item in value.items():
                collect(f"{key}.{name}", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                collect(f"{key}.{index}", item)

    for name, value in options.items():
        if name in {"path", "files"} or name.endswith(("_path", "_files")):
            collect(f"{prefix}.{name}", value)
    return found


def source_files(options: Iterable[Mapping[str, Any]]) -> list[str]:
    """The input files the options of some loaders name (see `data_file_options`), sorted and without repeats."""
    return sorted({path for option in options for _, path in data_file_options(option)})


def check_data_files(config: Mapping[str, Any], workdir: Path) -> None:
    """Every data file the tasks' loaders (and transfer loaders) name exists (relative paths start in `workdir`)."""
    for task_name, task in config["tasks"].items():
        sources = {"data": task["data"], "data.transfer": task["data"].get("transfer") or {}}
        for where, source in sources.items():
            _check_files_exist(source.get("options", {}), f"tasks.{task_name}.{where}.options", workdir)


def _check_files_exist(options: Mapping[str, Any], prefix: str, workdir: Path) -> None:
    for key, name in data_file_options(options, prefix):
        if not (workdir / name).exists():  # an absolute `name` replaces `workdir`
            raise ConfigError(
                key, f"file {name!r} does not exist (relative paths start in the working directory, {workdir})"
            )


def seq2seq_setting(member: Mapping[str, Any], key: str) -> Any:
    """A seq2seq-only teacher/student setting, or its default."""
    return member.get(key, SEQ2SEQ_DEFAULTS.get(key))


def hidden_pairs(loss: Mapping[str, Any]) -> list[tuple[int, str, int]]:
    """`loss.hidden_map` as sorted (student layer, teacher, teacher layer) triples."""
    return sorted(
        (int(student_layer), teacher, int(teacher_layer))
        for student_layer, targets in (loss.get("hidden_map") or {}).items()
        for teacher, teacher_layer in targets.items()
    )


def lora_settings(
    finetune: Mapping[str, Any], workdir: Path | None = None, key: str = "finetune.lora_config"
) -> dict[str, Any]:
    """The peft `LoraConfig` arguments a LoRA fine-tune uses (the JSON file it names, or the default)."""
    name = finetune.get("lora_config", DEFAULT_LORA_CONFIG)
    path = Path(name)
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            key, f"LoRA config {name!r} not found (paths are relative to the working directory)"
        ) from None
    except json.JSONDecodeError as error:
        raise ConfigError(key, f"{name} is not valid JSON: {error}") from None
    if not isinstance(settings, dict):
        raise ConfigError(key, f"{name} must hold a JSON object of peft LoraConfig arguments")
    if "task_type" in settings:
        raise ConfigError(key, f"{name}: leave out task_type (ScalingDown sets it from the model)")
    return settings


def cache_settings(teacher: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a text-to-text teacher's cache beyond the teacher itself."""
    return {
        "top_k": seq2seq_setting(teacher, "top_k"),
        "targets": seq2seq_setting(teacher, "targets"),
        "hidden_layers": teacher.get("hidden_layers") or {},
    }


def finetune_settings(finetune: Mapping[str, Any] | bool) -> Mapping[str, Any] | bool:
    """A teacher's fine-tune settings with the LoRA file replaced by its content (what determines the model)."""
    if isinstance(finetune, bool) or finetune["method"] != "lora":
        return finetune
    settings = {key: value for key, value in finetune.items() if key != "lora_config"}
    return {**settings, "lora": canonical(lora_settings(finetune))}
