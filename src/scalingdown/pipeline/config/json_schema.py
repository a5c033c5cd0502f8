"""The config's JSON schema (`workflow/schemas/config.schema.yaml`), checked before any job with an error naming the
dotted key. Standard library only; `yaml` and `jsonschema` are imported only when it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.candidates import candidate_list_problem
from scalingdown.pipeline.errors import ConfigError


def check_schema(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Validate `config` against the JSON schema; the most relevant error becomes a `ConfigError`
    naming the dotted key (Snakemake's own `validate`, which also fills defaults, runs after). Lists of teacher
    candidates (`config.candidates`) are checked first, with a message that says which keys may list them."""
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
