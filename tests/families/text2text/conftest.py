"""Small prepared text-to-text datasets in the contract schemas (written for these tests, invented content), and the
tiny models, caches and specs the text-to-text stage tests run on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scalingdown.data.budget import apply_budget
from scalingdown.data.schema import STRATIFY
from scalingdown.data.store import MANIFEST, SPLITS, frame_fingerprint, split_path
from scalingdown.pipeline.names.tasks import PRIMARY_METRIC, prompt_for
from scalingdown.pipeline.outputs.atomic import write_json
from scalingdown.pipeline.specs.definitions import DistillSpec, InitSpec, TopkLogitsSpec
from scalingdown.stages.init_student import init_student
from scalingdown.stages.teacher_logits import teacher_logits

_QA = [
    ("Which planet is known as the red planet?", "Mars", ["Mars", "the red planet Mars"]),
    ("What is the largest ocean on Earth?", "Pacific Ocean", ["Pacific Ocean", "Pacific", "The Pacific"]),
    ("Which gas do plants absorb from the air?", "Carbon dioxide", ["Carbon dioxide", "CO2"]),
    ("How many legs does a spider have?", "Eight", ["Eight", "8"]),
    ("What is frozen water called?", "Ice", ["Ice"]),
    ("Which metal is liquid at room temperature?", "Mercury", ["Mercury", "Quicksilver"]),
    ("What is the capital city of Japan?", "Tokyo", ["Tokyo", "Tokio"]),
    ("Which instrument has black and white keys?", "Piano", ["Piano", "Pianoforte"]),
]
_MC = [
    ("Ann lent her umbrella to Beth because _ was going out in the rain.", "", ["Ann", "Beth"], 1),
    ("The trophy did not fit in the case because _ was too big.", "", ["trophy", "case"], 0),
    (
        "Sam baked a cake for the party.",
        "What will the guests want to do next?",
        ["eat the cake", "go to sleep", "leave early"],
        0,
    ),
    ("Kim forgot her keys at home.", "How would Kim feel?", ["proud", "annoyed", "sleepy"], 1),
]
_MATH = [
    ("What is 3 plus 4?", ["5", "6", "7", "8", "9"], "3 + 4 = 7.", "C"),
    ("A box holds 6 eggs. How many eggs are in 2 boxes?", ["8", "10", "12", "14", "16"], "6 * 2 = 12.", "C"),
    ("What is 10 minus 7?", ["3", "4", "5", "6", "7"], "10 - 7 = 3.", "A"),
    ("What is half of 18?", ["6", "7", "8", "9", "10"], "18 / 2 = 9.", "D"),
]


def qa_frame(rows: int) -> pd.DataFrame:
    records = []
    for index in range(rows):
        question, answer, aliases = _QA[index % len(_QA)]
        records.append(
            {"row_id": f"qa{index}", "question": f"{question} (variant {index})", "answer": answer, "aliases": aliases}
        )
    return pd.DataFrame(records)


def mc_frame(rows: int) -> pd.DataFrame:
    records = []
    for index in range(rows):
        context, question, options, label = _MC[index % len(_MC)]
        records.append(
            {
                "row_id": f"mc{index}",
                "context": f"{context} ({index})",
                "question": question,
                "options": options,
                "label": label,
            }
        )
    return pd.DataFrame(records)


def math_frame(rows: int) -> pd.DataFrame:
    records = []
    for index in range(rows):
        question, options, rationale, answer = _MATH[index % len(_MATH)]
        records.append(
            {
                "row_id": f"m{index}",
                "question": f"{question} ({index})",
                "options": options,
                "rationale": rationale,
                "answer": answer,
            }
        )
    return pd.DataFrame(records)


FRAMES = {"generative_qa": qa_frame, "multiple_choice": mc_frame, "math": math_frame}


def prepared_data(
    directory: Path, task_type: str, sizes: tuple[int, int, int] = (16, 6, 6), label_budget: float | None = None
) -> Path:
    """A prepared-data directory (Parquet splits + manifest) as `prepare` writes it; with `label_budget` only that
    share of the train split keeps its targets (the rest are transfer rows, see `data.budget`)."""
    frame = FRAMES[task_type](sum(sizes))
    directory.mkdir(parents=True, exist_ok=True)
    bounds = [0, sizes[0], sizes[0] + sizes[1], sum(sizes)]
    splits = {}
    for name, start, end in zip(SPLITS, bounds[:-1], bounds[1:]):
        part = frame.iloc[start:end].reset_index(drop=True)
        if name == "train" and label_budget is not None:
            part = apply_budget(part, label_budget, 1, STRATIFY[task_type], task_type)
        part.to_parquet(split_path(directory, name), index=False)
        splits[name] = {"rows": len(part), "sha256": frame_fingerprint(part)}
    write_json(directory / MANIFEST, {"splits": splits})
    return directory


# The training settings of the stage tests; checkpoints are selected by the generative_qa metric unless a spec
# names its task type's (`distill_spec`).
TRAINING = {
    "epochs": 1,
    "learning_rate": 1.0e-3,
    "batch_size": 8,
    "gradient_accumulation_steps": 1,
    "weight_decay": 0.0,
    "warmup_ratio": 0.0,
    "eval_steps": 1,
    "logging_steps": 1,
    "seed": 1,
    "precision": "auto",
    "processes": 1,
    "deepspeed": None,
    "checkpoint": "best",
    "selection_metric": PRIMARY_METRIC["generative_qa"],
}


HIDDEN = {"encoder": [[1, 2]], "decoder": [[1, 1]]}


def text_fields(task_type: str) -> dict:
    """The fields of a text-to-text spec of `task_type` (prompt, lengths)."""
    return {"type": task_type, "prompt": prompt_for(task_type, None), "max_length": 48, "max_target_length": 12}


def write_topk_cache(root: Path, data: Path, task_type: str, teacher: str, targets: str) -> tuple[Path, dict]:
    """The top-k cache of `teacher` (a directory, or a tiny reference used as is) on `data`."""
    entry = {
        "name": "big",
        "key": "big-1",
        "model": teacher,
        "max_length": 48,
        "logits_key": f"big-1.topk-{targets}",
        "top_k": 8,
        "targets": targets,
        "hidden_layers": {"encoder": [2], "decoder": [1]},
    }
    path = root / f"cache-{targets}.parquet"
    teacher_logits(
        TopkLogitsSpec.from_dict(
            {
                **text_fields(task_type),
                "teacher": "big",
                "teacher_key": entry["key"],
                "logits_key": entry["logits_key"],
                "model": teacher,
                "label_map": {},
                "labels": None,
                **{k: entry[k] for k in ("top_k", "targets", "hidden_layers")},
            }
        ),
        str(data),
        str(path),
    )
    return path, entry


def write_student(root: Path, task_type: str) -> Path:
    """A tiny T5 student built from scratch in `root/init`."""
    init_student(
        InitSpec.from_dict(
            {
                "type": task_type,
                "model": "tiny:t5-l1-h16",
                "init": {"method": "scratch"},
                "labels": None,
                "seed": 2,
                "format": 1,
            }
        ),
        str(root / "init"),
    )
    return root / "init"


def distill_spec(task_type: str, teachers: list[dict], hidden: float = 0.1) -> DistillSpec:
    """A `distill` spec of a tiny text-to-text student of `teachers` (cache entries)."""
    return DistillSpec.from_dict(
        {
            **text_fields(task_type),
            "student": "small",
            "training": {**TRAINING, "selection_metric": PRIMARY_METRIC[task_type]},
            "labels": None,
            "teacher_mode": "cached",
            "weighting": {"method": "uniform"},
            "teachers": teachers,
            "loss": {
                "ce": 0.5,
                "kd": 0.5,
                "temperature": 2.0,
                "hidden": hidden,
                "hidden_projection": "auto",
                "hidden_map": {},
                "hidden_layers": HIDDEN,
            },
        }
    )
