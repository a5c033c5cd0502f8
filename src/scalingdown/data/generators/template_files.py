"""The generators' templates and word lists, read from their data files (`scalingdown/data/templates/<name>.json`,
shipped with the package)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def generator_data(name: str) -> Any:
    """The content of the data file `templates/<name>.json` of the `scalingdown.data` package."""
    text = resources.files("scalingdown.data").joinpath("templates", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)
