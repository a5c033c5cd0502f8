"""The config as the Snakefile takes it, before any job: defaults merged in, the schema checked (ours, naming the
key, then Snakemake's `validate`, which fills the schema's defaults), the checks the schema cannot express, the data
files present. One function, so that tests check exactly what a run checks. Standard library only (Snakemake's
`validate` is imported when called).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from scalingdown.pipeline.config.attribution import attribute_to_defaults
from scalingdown.pipeline.config.checks import check_config
from scalingdown.pipeline.config.data_files import check_data_files
from scalingdown.pipeline.config.defaults import apply_defaults
from scalingdown.pipeline.config.json_schema import check_schema
from scalingdown.pipeline.errors import ConfigError


def validate_config(config: dict[str, Any], workdir: Path, schema: Path) -> None:
    """Complete and check `config` in place, as a run does; a `ConfigError` names the key the user wrote (under the
    defaults that hold it, when the mistake came from `student_defaults`, `teacher_defaults` or `hyperparameters`)."""
    raw = copy.deepcopy(config)
    try:
        apply_defaults(config, workdir)
        check_schema(config, schema)
        from snakemake.utils import validate

        validate(config, str(schema))
        check_config(config, workdir)
        check_data_files(config, workdir)
    except ConfigError as error:
        raise attribute_to_defaults(error, raw, workdir) from None
