"""What produced a report: config hash and resolved config, code version, packages, seeds,
timing setup, and which cached artefacts were built for this experiment or reused."""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from scalingdown.kd.logit_store import read_provenance_metadata
from scalingdown.pipeline.canonical import short_hash
from scalingdown.pipeline.outputs.provenance import PROVENANCE_FILE

PACKAGES = ("scalingdown", "torch", "transformers", "tokenizers", "datasets", "peft", "accelerate", "snakemake")

# Kind of a cached artefact, from its folder under results/cache/.
ARTEFACT_KINDS = {
    "data": "prepared data",
    "teachers": "fine-tuned teacher",
    "logits": "teacher logits",
    "student-init": "student initialisation",
}


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages that determine the results."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _git(directory: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"git {' '.join(args)} failed")
    return result.stdout.strip()


def git_state(directory: str | Path | None) -> dict[str, Any]:
    """The commit of the workflow checkout and whether it has uncommitted changes.

    `commit` and `dirty` are None when `directory` is not a git checkout (or git is missing);
    `note` then says why.
    """
    if directory is None:
        return {"commit": None, "dirty": None, "note": "workflow directory not given"}
    try:
        commit = _git(Path(directory), "rev-parse", "HEAD")
        dirty = bool(_git(Path(directory), "status", "--porcelain"))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        return {"commit": None, "dirty": None, "note": f"not a git checkout ({str(error).splitlines()[0]})"}
    return {"commit": commit, "dirty": dirty, "note": None}


def seeds(config: Any, prefix: str = "") -> dict[str, int | list[int]]:
    """Every `seed` in the resolved config, by dotted key (experiment, loaders, training), and the experiment's
    `seeds` list."""
    found: dict[str, int | list[int]] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            dotted = f"{prefix}.{key}" if prefix else key
            if (key == "seed" and isinstance(value, int)) or (dotted == "seeds" and isinstance(value, list)):
                found[dotted] = value
            else:
                found.update(seeds(value, dotted))
    return found


def timing_setups(benchmarks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct timing setups of the tasks' benchmark records (one, when every task was timed alike)."""
    setups: list[dict[str, Any]] = []
    for record in benchmarks:
        settings = record["settings"]
        setup = {
            "device": record["device"],
            "device_name": record["device_name"],
            **{key: settings[key] for key in ("threads", "rounds", "calls_per_round", "warmup", "batch_size")},
        }
        if setup not in setups:
            setups.append(setup)
    return setups


def artefact_kind(path: str) -> str:
    """`prepared data`, `teacher logits`, … from the artefact's folder under `cache/`."""
    parts = Path(path).parts
    folder = parts[parts.index("cache") + 1] if "cache" in parts[:-1] else Path(path).parent.name
    return ARTEFACT_KINDS.get(folder, folder)


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The record of a cached artefact (directory or logit cache); None when it has none."""
    path = Path(path)
    if path.is_dir():
        sidecar = path / PROVENANCE_FILE
        return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else None
    if path.suffix == ".parquet":
        return read_provenance_metadata(path)
    return None


def artefact_provenance(paths: list[str], experiment: str) -> list[dict[str, Any]]:
    """For each cached artefact: who built it, when, where, and whether this experiment reused it."""
    rows = []
    for path in paths:
        record = read_provenance(path) or {}
        builder = record.get("experiment")
        if not record:
            status = "no provenance record (built by an older version or by hand)"
        elif builder == experiment:
            status = "built by this experiment"
        else:
            status = f"reused from experiment {builder}" if builder else "reused (built by hand)"
        rows.append(
            {
                "artefact": artefact_kind(path),
                "path": path,
                "status": status,
                "experiment": builder,
                "stage": record.get("stage"),
                "created": record.get("created"),
                "host": record.get("host"),
            }
        )
    return rows


def reproducibility(
    config: dict[str, Any], benchmarks: list[dict[str, Any]], cached: list[str], workflow_dir: str | Path | None
) -> dict[str, Any]:
    """Every field of the report's reproducibility block (also written as reproducibility.json)."""
    return {
        "experiment": config["experiment"],
        "config_hash": short_hash(config),
        "config": config,
        "git": git_state(workflow_dir),
        "packages": package_versions(),
        "seeds": seeds(config),
        "timing": timing_setups(benchmarks),
        "artefacts": artefact_provenance(cached, config["experiment"]),
    }
