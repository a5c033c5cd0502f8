"""Seeds as a dimension of the experiment: which seeds run, and whether their outputs live in per-seed folders.

A seed is one replicate of the whole experiment: it draws the split (and a generated dataset), initialises the
models and orders the training batches. So every seed has its own prepared data, teachers, logit caches and
students (their cache keys hold the seed), and the report compares them seed by seed. `seed: 13` runs one seed
with today's paths; `seeds: [13, 14, 15]` runs three, each under `<task>/seed-<seed>/` in the experiment folder.
Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The seed of an experiment that names neither `seed` nor `seeds`.
DEFAULT_SEED = 13


def experiment_seeds(config: Mapping[str, Any]) -> tuple[int, ...]:
    """The seeds an experiment runs, in the config's order: `seeds`, else `(seed,)`."""
    if "seeds" in config:
        return tuple(int(seed) for seed in config["seeds"])
    return (int(config.get("seed", DEFAULT_SEED)),)


def seed_folders(config: Mapping[str, Any]) -> bool:
    """Whether each seed's outputs live in their own folder: yes whenever the config lists `seeds` (even one), so
    that adding a seed later leaves the others' paths, and so their jobs, as they are."""
    return "seeds" in config


def with_default_seed(config: dict[str, Any]) -> dict[str, Any]:
    """The config with `seed` filled in when it names neither `seed` nor `seeds` (the resolved config the report
    shows, as the schema's default used to fill it)."""
    if "seed" in config or "seeds" in config:
        return config
    return {**config, "seed": DEFAULT_SEED}
