"""Shared fixtures: paths, the shared datasets, and one finished tiny workflow run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
# Files written for the tests: small datasets in each dataset's original format, recorded specs.
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_DATASETS = FIXTURES / "datasets"
SHARED = Path(os.environ.get("SCALINGDOWN_SHARED", REPO.parent / "shared")).resolve()


# Generated hostile inputs (tests/reliability/hostile/): `ci` is few examples, derandomized (the same ones every run,
# so CI stays fast and a failure repeats); `nightly` (SCALINGDOWN_HYPOTHESIS=nightly) is fifty times as many, drawn
# anew.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("nightly", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("SCALINGDOWN_HYPOTHESIS", "ci"))


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the repository's Snakefile in `workdir` with the interpreter running the tests."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=_env())
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def with_tiny_caches(tiny_run: Path, workdir: Path) -> Path:
    """`workdir` seeded with the tiny run's shared caches and Snakemake's metadata, so that a run there reuses
    what the tiny run built (and schedules only what differs); returns `workdir`."""
    shutil.copytree(tiny_run / "results" / "cache", workdir / "results" / "cache")
    shutil.copytree(tiny_run / ".snakemake" / "metadata", workdir / ".snakemake" / "metadata")
    return workdir


def scalingdown(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m scalingdown ARGS` as a rule would."""
    return subprocess.run(
        [sys.executable, "-m", "scalingdown", *args], capture_output=True, text=True, cwd=cwd, env=_env()
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """`../shared/datasets`: skipped when absent, a failure when absent under CI=true."""
    path = SHARED / "datasets"
    if not path.is_dir():
        message = f"shared datasets not found at {path} (set SCALINGDOWN_SHARED)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory in which the tiny experiment ran to completion (shared by tests)."""
    workdir = tmp_path_factory.mktemp("tiny-run")
    shutil.copy(TINY_CONFIG, workdir / "tiny.yaml")
    snakemake(workdir, "--configfile", str(workdir / "tiny.yaml"), "--cores", "2")
    return workdir


@pytest.fixture(scope="session")
def distill_inputs(tmp_path_factory: pytest.TempPathFactory):
    """Prepared data, an initial student and a teacher-logit cache for running `distill` alone."""
    from tests.training.conftest import write_distill_inputs

    return write_distill_inputs(tmp_path_factory.mktemp("distill-inputs"))
