"""Student shapes: a student whose depth or input length is a list is a sweep, one student per shape.

`init.layers` as a list of layer lists (`[[0], [0, 3], [0, 2, 4]]`, with `init.method: teacher_layers`) sweeps the
depth; `max_length` as a list (`[64, 128]`) sweeps the input length; both together sweep their product (layers
varying slowest). Each shape is a student of its own — initialised, distilled, evaluated, exported and benchmarked as
any — named `<student>-<shape>`: `layers0_3` for the kept layers, `len64` for the length, joined by `-`
(`distilled-layers0_3-len64`). A student without lists is left as it is (same name, specs, keys and paths), so the
sweep adds students and changes nothing else. Its `baseline`, when that student sweeps the same shapes, is the
baseline's student of the same shape; the default twin of a shape is the gold-only student of the same shape
(`config.twins`). Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple

from scalingdown.pipeline.errors import ConfigError


class Shape(NamedTuple):
    """One shape of a swept student: the layers it keeps and its input length (None: the dimension is not swept,
    the student's one value holds), and its label in the student's name."""

    layers: tuple[int, ...] | None
    max_length: int | None

    @property
    def label(self) -> str:
        """`layers0_3`, `len64` or `layers0_3-len64`."""
        parts = [] if self.layers is None else ["layers" + "_".join(map(str, self.layers))]
        parts += [] if self.max_length is None else [f"len{self.max_length}"]
        return "-".join(parts)


class ShapedStudent(NamedTuple):
    """A student of a sweep: the configured (swept) student's name and the shape."""

    sweep: str
    shape: Shape


def _layer_lists(student: Mapping[str, Any]) -> list[tuple[int, ...]] | None:
    layers = (student.get("init") or {}).get("layers")
    if isinstance(layers, list) and layers and all(isinstance(item, list) for item in layers):
        return [tuple(item) for item in layers]
    return None


def _lengths(student: Mapping[str, Any]) -> list[int] | None:
    lengths = student.get("max_length")
    return list(lengths) if isinstance(lengths, list) else None


def is_swept(student: Mapping[str, Any]) -> bool:
    """Whether the student lists layer lists or lengths (a sweep of shapes)."""
    return _layer_lists(student) is not None or _lengths(student) is not None


def shapes(student: Mapping[str, Any]) -> list[Shape]:
    """The shapes of a swept student in the config's order (layers varying slowest); [] for a student without lists."""
    if not is_swept(student):
        return []
    layers: list[tuple[int, ...] | None] = [None]
    lengths: list[int | None] = [None]
    layers = [*(_layer_lists(student) or layers)]
    lengths = [*(_lengths(student) or lengths)]
    return [Shape(kept, length) for kept, length in itertools.product(layers, lengths)]


def shaped_name(name: str, shape: Shape) -> str:
    """The name of one shape's student: `<name>-<shape label>`."""
    return f"{name}-{shape.label}"


def _with_shape(student: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    member = dict(student)
    if shape.layers is not None:
        member["init"] = {**student["init"], "layers": list(shape.layers)}
    if shape.max_length is not None:
        member["max_length"] = shape.max_length
    return member


def expand_students(students: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every student of a task with each swept one replaced, in place, by one student per shape (its baseline, when
    that sweeps too, the baseline's student of the same shape). Students without lists are kept as they are."""
    expanded: dict[str, dict[str, Any]] = {}
    for name, student in students.items():
        found = shapes(student)
        if not found:
            expanded[name] = dict(student)
            continue
        for shape in found:
            member = _with_shape(student, shape)
            baseline = student.get("baseline")
            if baseline is not None and is_swept(students[baseline]):
                member["baseline"] = shaped_name(baseline, shape)
            expanded[shaped_name(name, shape)] = member
    return expanded


def shaped_students(students: Mapping[str, Mapping[str, Any]]) -> dict[str, ShapedStudent]:
    """Each shape's student name → the swept student and its shape (empty when no student of the task sweeps)."""
    return {
        shaped_name(name, shape): ShapedStudent(name, shape)
        for name, student in students.items()
        for shape in shapes(student)
    }


def check_shapes(prefix: str, students: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse what a sweep cannot plan, naming the key: a shape listed twice, layer lists without `teacher_layers`, a
    shape's name that another student has, a chain (`init.student`) starting from a swept student (which shape?),
    and a `baseline` that sweeps other shapes than its student."""
    for name, student in students.items():
        key = f"{prefix}.students.{name}"
        layers, lengths = _layer_lists(student), _lengths(student)
        listed: tuple[tuple[str, list[Any]], ...] = (("init.layers", list(layers or [])), ("max_length", lengths or []))
        for what, values in listed:
            repeated = sorted({str(value) for value in values if values.count(value) > 1})
            if repeated:
                raise ConfigError(f"{key}.{what}", f"lists {', '.join(repeated)} twice; list each shape once")
        if layers is not None and student["init"].get("method") != "teacher_layers":
            raise ConfigError(
                f"{key}.init.layers", "a list of layer lists (a depth sweep) needs init.method teacher_layers"
            )
        for shape in shapes(student):
            if shaped_name(name, shape) in students:
                raise ConfigError(
                    f"{key}",
                    f"its shape {shape.label!r} would be the student {shaped_name(name, shape)!r}, which is already "
                    "configured; rename one of them",
                )
        source = str((student.get("init") or {}).get("student"))
        if source in students and is_swept(students[source]):
            raise ConfigError(
                f"{key}.init.student",
                f"{source!r} sweeps shapes, so there is no one model to start from; name one of its shapes' "
                "students as a student of its own",
            )
        baseline = str(student.get("baseline"))
        if baseline in students and is_swept(students[baseline]):
            theirs = {shape.label for shape in shapes(students[baseline])}
            missing = [shape.label for shape in shapes(student) if shape.label not in theirs] or (
                [] if is_swept(student) else ["(no sweep)"]
            )
            if missing:
                raise ConfigError(
                    f"{key}.baseline",
                    f"{baseline!r} sweeps the shapes {sorted(theirs)}; this student's {missing} are not among them, "
                    "so it has no baseline of the same shape",
                )


def attributed(error: ConfigError, prefix: str, students: Mapping[str, Mapping[str, Any]]) -> ConfigError:
    """An error a check raised about one shape's student, named under the configured (swept) student's key."""
    for expanded, shaped in shaped_students(students).items():
        own = f"{prefix}.students.{expanded}"
        if error.key == own or error.key.startswith(f"{own}."):
            key = f"{prefix}.students.{shaped.sweep}{error.key[len(own) :]}"
            return ConfigError(key, f"shape {shaped.shape.label}: {error.problem}")
    return error
