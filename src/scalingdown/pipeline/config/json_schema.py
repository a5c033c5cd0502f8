"""The config's JSON schema (`workflow/schemas/config.schema.yaml`), checked before any job with an error naming the
dotted key. Standard library only; `yaml` and `jsonschema` are imported only when it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    import jsonschema
    import yaml
    from jsonschema.exceptions import best_match

    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ConfigError(key, error.message)
