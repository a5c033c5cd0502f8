"""Preemption: a `distill` job killed after a checkpoint resumes from it and ends where an uninterrupted run ends."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from scalingdown.training.trainer import last_complete_checkpoint
from tests.training.conftest import DistillInputs, stage_env

pytestmark = pytest.mark.slow

# Several epochs with an evaluation, and so a checkpoint, every 2 steps (checkpoint: best): a kill after the first
# checkpoint leaves most of the run (and many more checkpoints) still to do, and the resumed run must keep the same
# best checkpoint as the uninterrupted one.
TRAINING = {"epochs": 4, "eval_steps": 2}
TOTAL_STEPS = 4 * 10  # 40 training rows / batch 4 = 10 steps per epoch
# Resuming restores weights, optimizer, scheduler, RNG state and the data order, so on one machine
# with one thread the resumed model is bit-identical to the uninterrupted one: zero tolerance.
TOLERANCE = 0.0


def _command(inputs: DistillInputs, out: Path) -> list[str]:
    return [sys.executable, "-m", "scalingdown", *inputs.arguments(inputs.spec(**TRAINING), out)]


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "model" / "model.safetensors")


def _kill_after_first_checkpoint(command: list[str], checkpoints: Path) -> None:
    """Run `command` and SIGKILL it as soon as a complete checkpoint exists (like a preempted job)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=stage_env())
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoints.is_dir() and last_complete_checkpoint(checkpoints) is not None:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be killed after its first checkpoint"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()


def test_a_killed_distill_resumes_from_its_last_checkpoint_and_matches_an_uninterrupted_run(
    distill_inputs: DistillInputs, tmp_path: Path
):
    uninterrupted = tmp_path / "uninterrupted"
    result = subprocess.run(_command(distill_inputs, uninterrupted), capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming" not in result.stderr

    killed = tmp_path / "killed"
    checkpoints = killed / "checkpoints"
    _kill_after_first_checkpoint(_command(distill_inputs, killed), checkpoints)
    # The kill left no declared output behind, half-written or otherwise: only the checkpoints.
    assert not (killed / "model").exists() and not (killed / "history.json").exists()
    assert [p.name for p in killed.iterdir()] == ["checkpoints"]
    last = last_complete_checkpoint(checkpoints)
    step = int(last.name.split("-")[1])
    assert 0 < step < TOTAL_STEPS
    # A kill in the middle of the next save leaves a newer checkpoint whose last file is cut short:
    # it must be skipped.
    partial = checkpoints / f"checkpoint-{step + 1}"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"cut short")
    (partial / "trainer_state.json").write_text('{"global_step": ')

    rerun = subprocess.run(_command(distill_inputs, killed), capture_output=True, text=True, env=stage_env())
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from step {step} " in rerun.stderr
    assert re.search(rf"removing \S+checkpoint-{step + 1}: it was cut short", rerun.stderr)
    assert not checkpoints.exists(), "checkpoints are removed once the model is written"

    expected, resumed = _weights(uninterrupted), _weights(killed)
    assert expected.keys() == resumed.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=TOLERANCE, msg=name)
    # ...and training did change the weights, so the comparison is not between two copies of the start.
    initial = load_file(distill_inputs.init / "model.safetensors")
    assert any(not torch.equal(initial[name], tensor) for name, tensor in expected.items() if name in initial)
