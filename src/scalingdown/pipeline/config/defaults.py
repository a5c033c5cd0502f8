"""Defaults merged into every teacher and student before the config is validated.

Precedence, lowest first: the `hyperparameters` file the config names (its `teacher_defaults` and `student_defaults`),
the task's `teacher_defaults` / `student_defaults`, the teacher's or student's own settings. Standard library only;
`yaml` is imported only to read the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.canonical import deep_merge
from scalingdown.pipeline.config.model_files import is_causal_lm
from scalingdown.pipeline.errors import ConfigError
from scalingdown.pipeline.names.families import CAUSAL, FAMILIES

# What a `hyperparameters` file may hold (each merged under the tasks' keys of the same name).
HYPERPARAMETER_KEYS = ("teacher_defaults", "student_defaults")


def apply_defaults(config: dict[str, Any], workdir: Path | None = None) -> None:
    """Fill every teacher and student from the defaults, in place, before validation.

    Precedence, lowest first: the `hyperparameters` file (if the config names one), the task's
    `teacher_defaults` / `student_defaults`, the teacher's or student's own settings. A text-to-text task type whose
    models are causal LMs gets `family: causal` (`resolve_family`).
    """
    shared = read_hyperparameters(config, workdir)
    for task in _tasks(config):
        if not isinstance(task, dict):
            continue
        for key in HYPERPARAMETER_KEYS:
            if shared.get(key):
                own = task.get(key) or {}
                task[key] = deep_merge(shared[key], own) if isinstance(own, Mapping) else own
        resolve_family(task, workdir)
    apply_member_defaults(config)


def resolve_family(task: dict[str, Any], workdir: Path | None) -> None:
    """Set `family: causal` on a task that names no family, whose type causal LMs learn too, and one of whose teachers
    or students is a causal LM by its files (`model_files.is_causal_lm`); a Hub model's files are known only once it is
    downloaded, so a task of Hub causal LMs says `family: causal` itself. The family checks then refuse any member of
    another family."""
    if "family" in task or task.get("type") not in FAMILIES[CAUSAL].also_learns:
        return
    roles = [task.get(role) for role in ("teachers", "students")]
    members = [
        member.get("model")
        for role in roles
        if isinstance(role, Mapping)  # anything else is the schema's to refuse
        for member in role.values()
        if isinstance(member, Mapping)
    ]
    if any(isinstance(ref, str) and is_causal_lm(ref, workdir) for ref in members):
        task["family"] = CAUSAL


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


def apply_member_defaults(config: dict[str, Any]) -> None:
    """Merge each task's `teacher_defaults` into its teachers and its `student_defaults` into its students, in
    place."""
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
