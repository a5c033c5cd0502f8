"""The codec of the typed stage specs (`definitions`): canonical JSON out, checked parsing in.

A spec travels as the rule's `spec` param: compact, key-sorted JSON (`Spec.to_json`), so Snakemake reruns a
stage exactly when what determines it changes. `parse_spec` turns that JSON back into the dataclass and refuses
a missing, unknown or mistyped key with one line naming it. Two field options shape the JSON:

- `optional(default)`: left out of the JSON while it equals its default, so that settings most runs never use
  (remote code, a label map, a text-to-text prompt) leave every other spec, and the cache keys made from
  them, as they were;
- `flattened(...)`: a nested spec whose keys sit beside the parent's (`TextTask`: `prompt`,
  `max_target_length`).

Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import field
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from scalingdown.pipeline.canonical import canonical, canonical_json
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.names.families import is_generative

SpecT = TypeVar("SpecT", bound="Spec")

_OPTIONAL = "optional"
_FLATTENED = "flattened"


class SpecError(UserError, ValueError):
    """A stage spec given on the command line lacks a key, has an unknown one, or a value of the wrong type."""


def optional(default: Any = None) -> Any:
    """A field left out of the JSON while it equals `default` (None, False, an empty mapping or a string)."""
    if isinstance(default, dict):
        return field(default_factory=dict, metadata={_OPTIONAL: default})
    return field(default=default, metadata={_OPTIONAL: default})


def flattened() -> Any:
    """A nested spec (or None) whose keys are written beside the parent's keys."""
    return field(default=None, metadata={_FLATTENED: True, _OPTIONAL: None})


class Spec:
    """Base of every spec: canonical JSON out, checked parsing in."""

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain, key-sorted builtins (what the JSON holds)."""
        return _to_dict(self)

    def to_json(self) -> str:
        """Compact key-sorted JSON: the rule's `spec` param."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls: type[SpecT], data: Mapping[str, Any], where: str = "spec") -> SpecT:
        """Build the spec from its JSON form; `SpecError` names the first key that does not fit."""
        spec: SpecT = _from_dict(cls, data, where)
        return spec


def _to_dict(spec: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in dataclasses.fields(spec):
        value = getattr(spec, item.name)
        if _omitted(item, value):
            continue
        if item.metadata.get(_FLATTENED):
            result.update(_to_dict(value))
        else:
            result[item.name] = _plain(value)
    return canonical(result)  # type: ignore[no-any-return]


def _omitted(item: dataclasses.Field[Any], value: Any) -> bool:
    """Whether an `optional` field holds its default (then the JSON leaves it out)."""
    if _OPTIONAL not in item.metadata:
        return False
    default = item.metadata[_OPTIONAL]
    return value is default if default is None or isinstance(default, bool) else bool(value == default)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _keys(cls: type) -> set[str]:
    """Every JSON key a spec class reads (flattened fields contribute their own keys)."""
    hints = get_type_hints(cls)
    keys: set[str] = set()
    for item in dataclasses.fields(cls):
        if item.metadata.get(_FLATTENED):
            keys |= _keys(_dataclass_in(hints[item.name]))
        else:
            keys.add(item.name)
    return keys


def _dataclass_in(hint: Any) -> type:
    for candidate in get_args(hint) or (hint,):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    raise TypeError(f"{hint} holds no dataclass")


def _from_dict(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _keys(cls))
    if unknown:
        raise SpecError(f"{where}: unknown key `{unknown[0]}` (a {cls.__name__} has {sorted(_keys(cls))})")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        key = f"{where}.{item.name}"
        if item.metadata.get(_FLATTENED):
            nested = _dataclass_in(hints[item.name])
            present = {name: data[name] for name in _keys(nested) if name in data}
            values[item.name] = _from_dict(nested, present, where) if present else None
        elif item.name in data:
            values[item.name] = _convert(hints[item.name], data[item.name], key)
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise SpecError(f"{where}: missing key `{item.name}` ({cls.__name__} needs it)")
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    """`value` checked against the type `hint` (nested specs built)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        problems = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except SpecError as error:
                problems.append(str(error))
        raise SpecError(problems[0] if problems else f"{key}: expected a value, got null")
    if hint is Any:
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(f"{key}: expected a list, got {json.dumps(value)}")
        (item,) = get_args(hint)
        return [_convert(item, element, f"{key}[{index}]") for index, element in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise SpecError(f"{key}: expected an object, got {json.dumps(value)}")
        _, item = get_args(hint) or (str, Any)
        return {str(name): _convert(item, element, f"{key}.{name}") for name, element in value.items()}
    if origin is typing.Literal:
        if value not in get_args(hint):
            raise SpecError(f"{key}: expected one of {list(get_args(hint))}, got {json.dumps(value)}")
        return value
    return _scalar(hint, value, key)


def _scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (str, bool) and isinstance(value, hint):
        return value
    name = getattr(hint, "__name__", str(hint))
    raise SpecError(f"{key}: expected {name}, got {json.dumps(value)}")


def parse_spec(classes: tuple[type[Spec], ...], data: Any) -> Spec:
    """The typed spec of a stage from its JSON form. With several classes (a stage whose spec differs between
    generative and classifying model families: `teacher_logits`), the one whose `generative` matches the family of
    the spec's `type` (`names.families`); a spec without a known type is parsed as the first class."""
    chosen = classes[0]
    if len(classes) > 1:
        wanted = is_generative(data.get("type") if isinstance(data, Mapping) else None)
        chosen = next(cls for cls in classes if getattr(cls, "generative", False) == wanted)
    return chosen.from_dict(data)
