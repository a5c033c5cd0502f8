"""How a training stage is started: one plain process, or `torchrun` over several (DDP or DeepSpeed).

Standard library only: the Snakefile builds every training rule's command with `launcher_prefix`.
"""

from __future__ import annotations

import shlex


def launcher_prefix(processes: int, deepspeed: bool = False) -> str:
    """The command that runs `scalingdown` with `processes` workers on one node.

    One process without DeepSpeed is plain `python -m scalingdown`. Otherwise the standard
    PyTorch launcher starts the workers (`torchrun --standalone`: one node, a free local port),
    each running `python -m scalingdown` with RANK / WORLD_SIZE set, which the Hugging Face
    Trainer reads. DeepSpeed always goes through the launcher, even with one process.
    """
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    if processes == 1 and not deepspeed:
        return "python -m scalingdown"
    return shlex.join(
        ["torchrun", "--standalone", "--nnodes", "1", "--nproc_per_node", str(processes), "-m", "scalingdown"]
    )


# The environment variables that tell training jobs where their curves go (`training.tracking`): logging changes no
# model, so it is in no spec and setting it retrains nothing.
TENSORBOARD_ENV = "SCALINGDOWN_TENSORBOARD"
MLFLOW_ENV = "SCALINGDOWN_MLFLOW"


def tracking_environment(root: str, experiment: str, mlflow: str | None) -> dict[str, str]:
    """The variables the workflow gives its jobs: TensorBoard events under `<root>/logs/tensorboard`; with `mlflow` (a
    tracking URI) MLflow too, in the MLflow experiment named `experiment`."""
    found = {TENSORBOARD_ENV: f"{root}/logs/tensorboard"}
    if mlflow:
        found.update({MLFLOW_ENV: "1", "MLFLOW_TRACKING_URI": mlflow, "MLFLOW_EXPERIMENT_NAME": experiment})
    return found
