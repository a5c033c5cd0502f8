"""Where training curves go besides the training history: TensorBoard event files under the experiment's logs,
and MLflow when the experiment names a tracking URI (the top-level config key `mlflow`).

Logging changes no model, so it is in no spec (changing it retrains nothing): the workflow tells its jobs through
the environment (`plan.launch.tracking_environment`, set by `workflow/rules/common.smk`: `TENSORBOARD_ENV` is
`results/<experiment>/logs/tensorboard`; with `mlflow`, `MLFLOW_ENV` and MLflow's own `MLFLOW_TRACKING_URI` and
`MLFLOW_EXPERIMENT_NAME`). Each training run writes to a folder named after its model's folder
(`<task>/students/<student>`, `teachers/<teacher key>`), so `tensorboard --logdir results/<experiment>/logs/tensorboard`
shows every run of the experiment. A stage run by hand without the variables logs to neither.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scalingdown.pipeline.paths import RESULTS
from scalingdown.pipeline.plan.launch import MLFLOW_ENV, TENSORBOARD_ENV

# Where transformers' TensorBoard callback (v5) reads its log directory.
_TRANSFORMERS_LOGGING_DIR = "TENSORBOARD_LOGGING_DIR"


def run_name(checkpoints: Path) -> str:
    """A training run's name: its model's folder (the parent of `checkpoints`) below `results/<experiment or
    cache>/`, e.g. `sentiment/seed-13/students/distilled` or `teachers/<key>`; the folder's name elsewhere."""
    folder = Path(checkpoints).parent
    parts = folder.parts
    return "/".join(parts[2:]) if len(parts) > 2 and parts[0] == RESULTS else folder.name


def tracking_arguments(checkpoints: Path) -> dict[str, Any]:
    """The Trainer's `report_to` for this run, and where its TensorBoard events go (set for transformers' callback,
    which reads it from the environment); `report_to` is "none" when the workflow asks for neither."""
    targets: list[str] = []
    root = os.environ.get(TENSORBOARD_ENV)
    if root:
        targets.append("tensorboard")
        os.environ[_TRANSFORMERS_LOGGING_DIR] = str(Path(root) / run_name(checkpoints))
    if os.environ.get(MLFLOW_ENV):
        targets.append("mlflow")
    return {"report_to": targets or "none"}
