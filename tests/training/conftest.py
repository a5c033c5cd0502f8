"""Inputs of a tiny `distill` stage (prepared data, an initial student, a teacher-logit cache), written
in-process so that tests can run the stage as a subprocess the way the workflow does."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from scalingdown.pipeline.specs.definitions import DistillSpec, InitSpec, LogitsSpec, PrepareSpec
from tests.conftest import REPO

LABELS = ["negative", "neutral", "positive"]
# 64 generated rows give a training split of 40: 5 full steps of 4 rows on each of 2 processes.
ROWS = 64


# The tiny training settings of a `distill` spec.
TRAINING = {
    "epochs": 1,
    "learning_rate": 1e-3,
    "batch_size": 4,
    "gradient_accumulation_steps": 1,
    "weight_decay": 0.0,
    "warmup_ratio": 0.0,
    "eval_steps": 50,
    "logging_steps": 2,
    "seed": 5,
    "precision": "auto",
    "processes": 1,
    "deepspeed": None,
    "checkpoint": "best",
    "selection_metric": "accuracy",
}


def distill_spec(
    teachers: list[dict],
    loss: dict | None = None,
    weighting: dict | None = None,
    teacher_mode: str = "cached",
    **training: object,
) -> DistillSpec:
    """A classification distill spec of student `s` (max length 32, no hidden-state term, the tiny training
    settings); `loss` replaces the default CE/KD weights, `training` overrides single training settings."""
    return DistillSpec.from_dict(
        {
            "type": "classification",
            "student": "s",
            "max_length": 32,
            "labels": LABELS,
            "teacher_mode": teacher_mode,
            "weighting": weighting or {"method": "uniform"},
            "teachers": teachers,
            "loss": {
                "hidden": 0.0,
                "hidden_projection": "auto",
                "hidden_map": {},
                **(loss or {"ce": 0.5, "kd": 0.5, "temperature": 2.0}),
            },
            "training": {**TRAINING, **training},
        }
    )


@dataclass(frozen=True)
class DistillInputs:
    data: Path
    init: Path
    logits: Path
    teacher_key: str

    def spec(self, **training: object) -> DistillSpec:
        """A distill spec for these inputs; `training` overrides the tiny training settings."""
        return distill_spec(
            [{"name": "t", "key": self.teacher_key, "model": str(self.init), "max_length": 32}], **training
        )

    def arguments(self, spec: DistillSpec, out: Path) -> list[str]:
        """`distill` and its arguments as the rule passes them (outputs under `out`), with debug logging."""
        return [
            "-v",
            "distill",
            "--spec",
            spec.to_json(),
            "--data",
            str(self.data),
            "--init",
            str(self.init),
            "--logits",
            str(self.logits),
            "--out",
            str(out / "model"),
            "--history",
            str(out / "history.json"),
            "--checkpoints",
            str(out / "checkpoints"),
            "--threads",
            "1",
        ]


def write_distill_inputs(root: Path) -> DistillInputs:
    """Prepare the tiny data, a tiny student and the logits of a tiny 'teacher' under `root`."""
    from scalingdown.stages.init_student import init_student
    from scalingdown.stages.prepare import prepare
    from scalingdown.stages.teacher_logits import teacher_logits

    data, init, logits = root / "data", root / "init", root / "logits.parquet"
    prepare(
        PrepareSpec.from_dict(
            {
                "task": "t",
                "type": "classification",
                "labels": LABELS,
                "seed": 3,
                "format": 1,
                "data": {
                    "loader": "synthetic_finance",
                    "options": {"rows": ROWS},
                    "split": {"validation": 0.2, "test": 0.2},
                    "data_portion": 1.0,
                },
            }
        ),
        str(data),
    )
    init_student(
        InitSpec.from_dict(
            {
                "type": "classification",
                "model": "tiny:bert-l2-h32",
                "init": {"method": "pretrained"},
                "labels": LABELS,
                "seed": 3,
                "format": 1,
            }
        ),
        str(init),
    )
    teacher_key = "t.tiny-teacher"
    teacher_logits(
        LogitsSpec.from_dict(
            {
                "type": "classification",
                "teacher": "t",
                "teacher_key": teacher_key,
                "model": str(init),
                "max_length": 32,
                "hidden_layers": [],
                "label_map": {},
                "labels": LABELS,
            }
        ),
        str(data),
        str(logits),
    )
    return DistillInputs(data, init, logits, teacher_key)


def stage_env() -> dict[str, str]:
    """The environment of a rule's shell: the package importable, this interpreter's scripts on PATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env
