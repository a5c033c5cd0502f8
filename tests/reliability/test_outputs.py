"""Nothing deleted that the project did not write, no temporaries left by kills, and corrupt checkpoints
(issue 15, items 2 and 3)."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scalingdown.cli import main
from scalingdown.families.classification.fit import fit_classifier
from scalingdown.pipeline.outputs.atomic import OUTPUT_MARKER, ForeignOutput, atomic_path, output_stage
from scalingdown.pipeline.specs.definitions import EnsembleSpec, InitSpec, PrepareSpec, ReportSpec
from scalingdown.stages.evaluate import evaluate
from scalingdown.stages.init_student import init_student
from scalingdown.stages.prepare import prepare
from scalingdown.stages.report import report
from scalingdown.stages.teacher_ensemble import teacher_ensemble
from scalingdown.stages.teacher_logits import teacher_logits
from scalingdown.training.checkpoints import UnusableCheckpoints
from scalingdown.training.trainer import SPEC_FILE, _resumable_checkpoint
from tests.training.conftest import LABELS
from tests.training.conftest import stage_env as _env

INIT = InitSpec.from_dict(
    {
        "type": "classification",
        "model": "tiny:bert-l1-h32",
        "init": {"method": "pretrained"},
        "labels": LABELS,
        "seed": 1,
        "format": 1,
    }
)


def _users_directory(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("years of work")
    return path


def _prepare_spec() -> PrepareSpec:
    return PrepareSpec.from_dict(
        {
            "task": "t",
            "type": "classification",
            "labels": LABELS,
            "seed": 1,
            "format": 3,
            "data": {
                "loader": "synthetic_finance",
                "options": {"rows": 40},
                "split": {"validation": 0.2, "test": 0.2},
                "data_portion": 1.0,
            },
        }
    )


# -- item 2: an existing --out that the stage did not write is refused and left as it is ----------
def test_prepare_refuses_to_replace_a_users_directory(tmp_path):
    users = _users_directory(tmp_path / "mine")
    with pytest.raises(ForeignOutput, match=f"{users}: already exists and is a directory without the"):
        prepare(_prepare_spec(), users)
    assert [p.name for p in users.iterdir()] == ["thesis.tex"]


def test_a_stage_refuses_the_output_of_another_stage_and_replaces_its_own(tmp_path):
    data = tmp_path / "data"
    prepare(_prepare_spec(), data)
    assert output_stage(data) == "prepare"
    prepare(_prepare_spec(), data)  # its own previous output: replaced
    with pytest.raises(ForeignOutput, match="already exists and is the output of the prepare stage"):
        init_student(INIT, str(data))
    assert (data / "manifest.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    init_student(INIT, str(empty))  # an empty directory holds nothing to lose
    assert output_stage(empty) == "init_student" and (empty / "model.safetensors").is_file()


def test_distill_refuses_a_users_out_history_or_checkpoints_before_training(distill_inputs, tmp_path, capsys):
    arguments = distill_inputs.arguments(distill_inputs.spec(), tmp_path / "run")[1:]
    out, history, checkpoints = (
        Path(arguments[arguments.index(flag) + 1]) for flag in ("--out", "--history", "--checkpoints")
    )
    cases = [
        (_users_directory(out), "is a directory without the"),
        (history, "is a file that is not its output"),
        (_users_directory(checkpoints), f"holds no {SPEC_FILE}, so it is not a checkpoint directory"),
    ]
    history.write_text("lr: 0.1\n")
    for path, message in cases:
        others = [p for p, _ in cases if p != path]
        for other in others:  # only one foreign path at a time
            shutil.move(other, tmp_path / f"aside-{other.name}")
        assert main(arguments) == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith(f"error: {path}: already exists and ") and message in error
        for other in others:
            shutil.move(tmp_path / f"aside-{other.name}", other)
    assert (out / "thesis.tex").is_file() and history.read_text() == "lr: 0.1\n"
    assert (checkpoints / "thesis.tex").is_file()


def test_teacher_logits_refuses_to_overwrite_a_file_that_is_not_a_cache(distill_inputs, tmp_path):
    table = tmp_path / "results.parquet"
    table.write_bytes(b"someone's parquet file")
    from scalingdown.pipeline.specs.definitions import LogitsSpec

    spec = LogitsSpec.from_dict(
        {
            "type": "classification",
            "teacher": "t",
            "teacher_key": "k",
            "model": str(distill_inputs.init),
            "max_length": 32,
            "hidden_layers": [],
            "label_map": {},
            "labels": LABELS,
        }
    )
    with pytest.raises(ForeignOutput, match="is a file that is not its output"):
        teacher_logits(spec, str(distill_inputs.data), str(table))
    assert table.read_bytes() == b"someone's parquet file"


def test_json_records_replace_only_a_record_of_the_same_stage(distill_inputs, tmp_path):
    spec = EnsembleSpec.from_dict(
        {"task": "t", "labels": LABELS, "teachers": [{"name": "t", "key": distill_inputs.teacher_key}]}
    )
    record = tmp_path / "ensemble.json"
    teacher_ensemble(spec, str(distill_inputs.data), [str(distill_inputs.logits)], str(record))
    assert json.loads(record.read_text())["written_by"] == "teacher_ensemble"
    teacher_ensemble(spec, str(distill_inputs.data), [str(distill_inputs.logits)], str(record))  # its own: replaced
    from scalingdown.pipeline.specs.definitions import EvaluateSpec

    evaluate_spec = EvaluateSpec.from_dict(
        {
            "type": "classification",
            "task": "t",
            "kind": "student",
            "name": "s",
            "model": str(distill_inputs.init),
            "role": "student",
            "max_length": 32,
            "labels": LABELS,
            "batch_size": 8,
        }
    )
    with pytest.raises(ForeignOutput, match="is a file that is not its output"):
        evaluate(evaluate_spec, str(distill_inputs.data), str(distill_inputs.init), str(record))
    settings = tmp_path / "ds_config.json"
    settings.write_text('{"zero_optimization": {"stage": 2}}')
    with pytest.raises(ForeignOutput):
        evaluate(evaluate_spec, str(distill_inputs.data), str(distill_inputs.init), str(settings))
    assert json.loads(settings.read_text()) == {"zero_optimization": {"stage": 2}}


def test_the_report_refuses_a_folder_it_did_not_write(tmp_path):
    folder = _users_directory(tmp_path / "paper")
    with pytest.raises(ForeignOutput, match="is a directory without the"):
        report(ReportSpec(experiment="x", config={"tasks": {}}), [], [], [], [], [], None, str(folder))
    assert [p.name for p in folder.iterdir()] == ["thesis.tex"]


# -- item 2: a kill at any moment leaves no temporary once the next run succeeds ------------------
_KILLED_WRITER = """
import os, signal, sys
from scalingdown.pipeline.outputs.atomic import atomic_path
with atomic_path(sys.argv[1], stage="init_student") as staging:
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"half of the weights")
    os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of the final save
"""


def test_a_kill_during_the_final_save_leaves_no_temporary_once_the_next_run_succeeds(tmp_path):
    out = tmp_path / "init"
    init_student(INIT, str(out))
    killed = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(out)], env=_env(), check=False)
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "init"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".init.tmp-"), leftovers
    assert output_stage(out) == "init_student", "the previous output is whole"
    (tmp_path / f".init.old-{os.getpid() + 1}").mkdir()  # a kill while the old output was being swapped out
    init_student(INIT, str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["init"]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [OUTPUT_MARKER]


def test_a_file_output_cleans_up_after_a_killed_writer_too(tmp_path):
    (tmp_path / ".record.json.tmp-4242").write_text('{"half": ')
    with atomic_path(tmp_path / "record.json") as temporary:
        temporary.write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


# -- item 3: corrupt checkpoints --------------------------------------------------------------------
RESUME_KEY = {"stage": "test", "spec": 1}


@pytest.fixture(scope="module")
def trained_checkpoints(distill_inputs, tmp_path_factory) -> Path:
    """A checkpoint directory of a short real training run: checkpoint-1 and checkpoint-2, both complete."""
    from scalingdown.models.loading import load_classifier, load_tokenizer

    checkpoints = tmp_path_factory.mktemp("trained") / "checkpoints"
    spec = distill_inputs.spec(epochs=0.2, checkpoint_steps=1, checkpoint="last")
    model, tokenizer = load_classifier(str(distill_inputs.init)), load_tokenizer(str(distill_inputs.init))
    fit_classifier(
        model, tokenizer, str(distill_inputs.data), LABELS, 32, spec.training, spec.loss, str(checkpoints), RESUME_KEY
    )
    shutil.copytree(checkpoints / "checkpoint-2", checkpoints / "checkpoint-1")
    return checkpoints


def _copy(trained_checkpoints: Path, tmp_path: Path) -> Path:
    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(trained_checkpoints, checkpoints)
    return checkpoints


@pytest.mark.parametrize(
    ("damage", "part"),
    [
        (
            lambda c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:5000]),
            "model.safetensors",
        ),
        (lambda c: (c / "model.safetensors").write_bytes(b""), "model.safetensors"),
        (lambda c: (c / "optimizer.pt").write_bytes(b"PK\x03\x04 not a zip"), "optimizer.pt"),
        (lambda c: (c / "model.safetensors").unlink(), "it holds no weights"),
    ],
    ids=["weights-truncated", "weights-empty", "optimizer-state-garbled", "weights-missing"],
)
def test_an_unreadable_checkpoint_is_skipped_for_the_previous_complete_one(
    trained_checkpoints, tmp_path, caplog, damage, part
):
    checkpoints = _copy(trained_checkpoints, tmp_path)
    assert _resumable_checkpoint(checkpoints, RESUME_KEY, True) == str(checkpoints / "checkpoint-2")
    damage(checkpoints / "checkpoint-2")
    with caplog.at_level(logging.WARNING, logger="scalingdown.training.checkpoints"):
        assert _resumable_checkpoint(checkpoints, RESUME_KEY, True) == str(checkpoints / "checkpoint-1")
    assert f"skipping {checkpoints / 'checkpoint-2'}: {part}" in caplog.text
    assert not (checkpoints / "checkpoint-2").exists(), "the unreadable checkpoint is removed"


def test_when_no_checkpoint_is_readable_the_error_names_the_folder_to_delete(trained_checkpoints, tmp_path):
    checkpoints = _copy(trained_checkpoints, tmp_path)
    for name in ("checkpoint-1", "checkpoint-2"):
        (checkpoints / name / "model.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(UnusableCheckpoints) as error:
        _resumable_checkpoint(checkpoints, RESUME_KEY, True)
    assert str(error.value).startswith(f"{checkpoints}: no checkpoint can be resumed from (checkpoint-2: ")
    assert str(error.value).endswith(f"delete {checkpoints} to train from the start")
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-1", "checkpoint-2", SPEC_FILE]


def test_distill_with_only_unreadable_checkpoints_exits_with_that_line(
    distill_inputs, trained_checkpoints, tmp_path, capsys
):
    spec = distill_inputs.spec(epochs=0.2, checkpoint_steps=1, checkpoint="last")
    arguments = distill_inputs.arguments(spec, tmp_path / "run")[1:]
    checkpoints = Path(arguments[arguments.index("--checkpoints") + 1])
    shutil.copytree(trained_checkpoints, checkpoints)
    resume_key = {
        "stage": "distill",
        "spec": spec.to_dict(),
        "data": str(distill_inputs.data),
        "init": str(distill_inputs.init),
        "logits": [str(distill_inputs.logits)],
    }
    from scalingdown.pipeline.canonical import canonical_json

    (checkpoints / SPEC_FILE).write_text(canonical_json(resume_key))
    for name in ("checkpoint-1", "checkpoint-2"):
        (checkpoints / name / "model.safetensors").write_bytes(b"")
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {checkpoints}: no checkpoint can be resumed from")
    assert error.endswith(f"delete {checkpoints} to train from the start")


def _full_disk(monkeypatch, module, name: str) -> None:
    """`module.name` writes a few bytes of its file, then fails as a full disk does."""

    def write_part(value, target, *args, **kwargs):
        path = Path(target) if isinstance(target, (str, os.PathLike)) else None
        if path is not None:
            path.write_bytes(b"cut short")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(module, name, write_part)


def _last_error(capsys) -> str:
    """The run's one `error:` line (progress bars share stderr)."""
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and not any("Traceback" in line for line in lines), lines[-5:]
    return errors[0]


def test_a_full_disk_while_checkpointing_gives_one_line_and_removes_the_unfinished_checkpoint(
    distill_inputs, tmp_path, capsys, monkeypatch
):
    import torch

    arguments = distill_inputs.arguments(distill_inputs.spec(), tmp_path / "run")[1:]
    _full_disk(monkeypatch, torch, "save")  # the Trainer's optimizer state, after the checkpoint's weights
    assert main(arguments) == 2
    checkpoints = tmp_path / "run" / "checkpoints"
    assert _last_error(capsys) == (
        f"error: {checkpoints}: no space left on device while training; removed the unfinished checkpoint-10; "
        "free some space (a rerun starts from the beginning)"
    )
    assert not list(checkpoints.glob("checkpoint-*")) and (checkpoints / SPEC_FILE).is_file()
    assert not (tmp_path / "run" / "model").exists() and not (tmp_path / "run" / "history.json").exists()


def test_a_full_disk_while_a_stage_writes_its_output_gives_one_line_and_leaves_no_temporary(
    tmp_path, capsys, monkeypatch
):
    import pyarrow.parquet

    _full_disk(monkeypatch, pyarrow.parquet, "write_table")
    assert main(["prepare", "--spec", _prepare_spec().to_json(), "--out", str(tmp_path / "data")]) == 2
    assert _last_error(capsys).startswith("error: no space left on device (")
    assert sorted(path.name for path in tmp_path.iterdir()) == []
