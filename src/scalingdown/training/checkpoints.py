"""Which saved checkpoint a rerun can resume from: complete, and every file the Trainer reads back readable.

A checkpoint that a kill, a full disk or a bad copy left unreadable would make every rerun fail the same
way; it is skipped for the previous usable one, and when none is left the error names the folder to delete.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers.trainer_pt_utils import safe_globals

from scalingdown.pipeline.errors import UserError

log = logging.getLogger(__name__)

# Trainer state files read back on resume (weights_only pickles of tensors and plain values).
_STATE_FILES = ("optimizer.pt", "scheduler.pt", "scaler.pt")
# DeepSpeed keeps its own weights and optimizer state in a `global_step<N>` folder.
_DEEPSPEED_STATE = "global_step*"


class UnusableCheckpoints(UserError, RuntimeError):
    """Every saved checkpoint is unreadable; the message names the folder to delete."""


class DiskFull(UserError, OSError):
    """The disk filled up while training; the checkpoint it cut short was removed."""


def disk_full(checkpoints: Path, complete: list[Path], main_process: bool) -> DiskFull:
    """Remove (main process) the checkpoints a full disk left unfinished, those not in `complete`; the error to
    raise, which says what was removed and what a rerun resumes from."""
    unfinished = sorted(path for path in checkpoints.glob("checkpoint-*") if path.is_dir() and path not in complete)
    if main_process:
        for path in unfinished:
            shutil.rmtree(path, ignore_errors=True)
    removed = f"removed the unfinished {', '.join(path.name for path in unfinished)}; " if unfinished else ""
    kept = max(complete, key=lambda path: int(path.name.rsplit("-", 1)[1]), default=None)
    resumes = f"a rerun resumes from {kept.name}" if kept else "a rerun starts from the beginning"
    return DiskFull(f"{checkpoints}: no space left on device while training; {removed}free some space ({resumes})")


def unreadable_part(checkpoint: Path) -> str | None:
    """What of `checkpoint` cannot be read back (file and reason), or None when all of it can."""
    weights = sorted(checkpoint.glob("*.safetensors"))
    if not weights and not any(checkpoint.glob(_DEEPSPEED_STATE)):
        return "it holds no weights (*.safetensors)"
    for path in weights:
        try:
            load_file(path)
        except (SafetensorError, OSError) as error:
            return f"{path.name} cannot be read ({error})"
    for path in [checkpoint / name for name in _STATE_FILES] + sorted(checkpoint.glob("rng_state*.pth")):
        if not path.is_file():
            continue
        try:
            with safe_globals():
                torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # any failure to read the tensors back means every rerun fails on it
            return f"{path.name} cannot be read ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
    return None


def first_usable(checkpoints: Path, candidates: list[Path], main_process: bool) -> Path | None:
    """The newest of `candidates` (complete checkpoints) that reads back; unreadable newer ones are removed
    (by the main process) with a warning. `UnusableCheckpoints` when there are candidates but none reads."""
    problems: list[tuple[Path, str]] = []
    for candidate in sorted(candidates, key=lambda path: int(path.name.rsplit("-", 1)[1]), reverse=True):
        problem = unreadable_part(candidate)
        if problem is None:
            for unusable, _ in problems:
                if main_process:
                    shutil.rmtree(unusable, ignore_errors=True)
            return candidate
        log.warning("skipping %s: %s", candidate, problem)
        problems.append((candidate, problem))
    if problems:
        checkpoint, problem = problems[0]
        raise UnusableCheckpoints(
            f"{checkpoints}: no checkpoint can be resumed from ({checkpoint.name}: {problem}); "
            f"delete {checkpoints} to train from the start"
        )
    return None
