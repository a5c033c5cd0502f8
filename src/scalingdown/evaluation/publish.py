"""`scalingdown push`: upload a student, an export or a `shipped/` directory, with its model card, to the Hugging
Face Hub (`huggingface_hub.HfApi`: `create_repo`, then `upload_folder`).

The directory must be a model the workflow wrote (a Hugging Face model directory or an export) and carry its card
(`README.md`, written by the `model_cards` and `ship` stages); the workflow's own bookkeeping files stay behind.
The token is the user's (`--token`, else huggingface_hub's own: `HF_TOKEN` or `hf auth login`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scalingdown.evaluation.exporters import RECORD_NAME
from scalingdown.evaluation.model_card import CARD_FILE
from scalingdown.pipeline.config.value_checks import hub_id_problem
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import OUTPUT_MARKER

# Files of a model directory that are the workflow's bookkeeping, not the model's: never uploaded.
NOT_UPLOADED = [OUTPUT_MARKER, ".snakemake_timestamp", "checkpoints/*", ".*.tmp-*"]


class PushError(UserError, ValueError):
    """A directory or repository name that cannot be pushed."""


def check_pushable(model_dir: str | Path, repo: str) -> Path:
    """The directory to upload, refused (`PushError`, one line) when it is no model, has no card, or `repo` is not a
    Hub repository id (`namespace/name`)."""
    directory = Path(model_dir)
    if not directory.is_dir():
        raise PushError(f"push --model {directory}: no such directory")
    if not (directory / "config.json").is_file() or not (
        any(directory.glob("*.safetensors")) or (directory / RECORD_NAME).is_file()
    ):
        raise PushError(
            f"push --model {directory}: not a model directory (expected config.json with *.safetensors weights, or an "
            f"export with {RECORD_NAME})"
        )
    if not (directory / CARD_FILE).is_file():
        raise PushError(
            f"push --model {directory}: no model card ({CARD_FILE}); the model_cards and ship stages write one"
        )
    problem = hub_id_problem(repo)
    if problem or "/" not in repo:
        raise PushError(f"push --repo {repo!r}: {problem or 'expected a Hub repository id, namespace/name'}")
    return directory


def push_model(
    model_dir: str | Path, repo: str, private: bool = False, token: str | None = None, api: Any = None
) -> str:
    """Create the model repository `repo` (kept if it exists) and upload the directory with its card; returns the
    commit's URL. `api` is an `HfApi` (one with `token` by default)."""
    from huggingface_hub import HfApi

    directory = check_pushable(model_dir, repo)
    hub = api if api is not None else HfApi(token=token)
    hub.create_repo(repo_id=repo, repo_type="model", private=private, exist_ok=True)
    commit = hub.upload_folder(
        repo_id=repo,
        repo_type="model",
        folder_path=str(directory),
        ignore_patterns=NOT_UPLOADED,
        commit_message=f"Upload {directory.name} (ScalingDown)",
    )
    return str(getattr(commit, "commit_url", commit))
