"""Multi-process training for real: the tiny `distill` stage with DeepSpeed ZeRO-2 on 2 CPU processes
(gloo), started by the launcher command the workflow's rule builds."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from scalingdown.data.store import read_split
from scalingdown.pipeline.config.defaults import apply_member_defaults
from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.launch import launcher_prefix
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.conftest import REPO, TINY_CONFIG
from tests.training.conftest import DistillInputs, stage_env

DS_CONFIG = REPO / "config" / "ds_config.json"


def _plan_with(distributed: dict, resources: dict | None = None) -> Plan:
    from snakemake.utils import validate

    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["distributed"] = distributed
    if resources is not None:
        config["resources"] = resources
    apply_member_defaults(config)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return Plan(config)


def test_the_repository_deepspeed_config_is_zero_stage_2_with_automatic_precision():
    settings = json.loads(DS_CONFIG.read_text())
    assert settings["zero_optimization"]["stage"] == 2
    assert settings["bf16"]["enabled"] == settings["fp16"]["enabled"] == "auto"
    assert settings["train_micro_batch_size_per_gpu"] == "auto"


def test_launcher_is_plain_python_for_one_process_and_torchrun_otherwise():
    assert launcher_prefix(1) == "python -m scalingdown"
    assert launcher_prefix(2) == "torchrun --standalone --nnodes 1 --nproc_per_node 2 -m scalingdown"
    assert launcher_prefix(1, deepspeed=True).startswith("torchrun ")
    with pytest.raises(ValueError):
        launcher_prefix(0)


def test_processes_follow_the_gpus_of_the_stage_and_enter_the_spec():
    plan = _plan_with(
        {"processes": "gpus", "deepspeed": "config/ds_config.json"},
        {"distill": {"gpu": 4}, "finetune_teacher": {"gpu": 2}},
    )
    assert plan.processes("distill") == 4 and plan.processes("finetune_teacher") == 2
    assert plan.launcher("distill") == launcher_prefix(4, deepspeed=True)
    assert plan.resources("distill") == {"gpu": 4, "mem_mb": 4000, "runtime": 60, "cpus_per_gpu": 4}
    spec = json.loads(StageSpecs(plan).distill("sentiment", "distilled").to_json())
    assert spec["training"]["processes"] == 4 and spec["training"]["deepspeed"] == "config/ds_config.json"
    # A different global batch is a different teacher: its cache key changes.
    single = _plan_with({})
    assert single.launcher("distill") == "python -m scalingdown"
    assert single.tasks["sentiment"].teachers["big"].key != plan.tasks["sentiment"].teachers["big"].key


@pytest.mark.slow
def test_distill_trains_with_deepspeed_zero2_on_two_cpu_processes(distill_inputs: DistillInputs, tmp_path: Path):
    plan = _plan_with({"processes": 2, "deepspeed": str(DS_CONFIG)})
    launcher = plan.launcher("distill")
    assert launcher == launcher_prefix(2, deepspeed=True)
    spec = distill_inputs.spec(processes=2, deepspeed=str(DS_CONFIG))
    out = tmp_path / "student"
    command = f"{launcher} {shlex.join(distill_inputs.arguments(spec, out))}"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=stage_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    log = result.stdout + result.stderr

    assert "DeepSpeed ZeRO stage 2 on 2 process(es)" in log
    rows = {
        int(rank): set(json.loads(seen))
        for rank, seen in re.findall(r"process (\d) of 2 trained on rows (\[[\d, ]*\])", log)
    }
    assert sorted(rows) == [0, 1], log[-3000:]
    assert rows[0] and rows[1] and not rows[0] & rows[1], "the two processes trained on overlapping rows"
    assert rows[0] | rows[1] == set(range(len(read_split(distill_inputs.data, "train"))))

    # One model, written once by the main process, with nothing half-written beside it.
    assert sorted(p.name for p in out.iterdir()) == ["history.json", "model"]
    weights = load_file(out / "model" / "model.safetensors")
    initial = load_file(distill_inputs.init / "model.safetensors")
    assert any(not (weights[name] == tensor).all() for name, tensor in initial.items())
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["step"] == 5  # 40 rows / (4 per process x 2 processes)


@pytest.mark.parametrize(
    ("distributed", "resources", "expected"),
    [
        ({"deepspeed": "config/missing.json"}, {}, "cannot read the DeepSpeed config 'config/missing.json'"),
        ({"deepspeed": "tests/configs/tiny.yaml"}, {}, "tests/configs/tiny.yaml line 1: not valid JSON"),
        ({"processes": 4}, {"distill": {"gpu": 2}}, "4 processes cannot share the 2 GPU(s) of resources.distill.gpu"),
    ],
    ids=["missing-file", "not-json", "more-processes-than-gpus"],
)
def test_a_bad_distributed_setting_names_the_key(distributed: dict, resources: dict, expected: str):
    from scalingdown.pipeline.config.checks import check_config
    from scalingdown.pipeline.errors import ConfigError

    plan = _plan_with(distributed, resources)
    with pytest.raises(ConfigError, match="config key `distributed") as error:
        check_config(plan.config, REPO)
    assert expected in str(error.value)


def test_precision_auto_is_fp32_on_cpu_and_fp16_needs_a_gpu(monkeypatch: pytest.MonkeyPatch):
    import torch

    from scalingdown.pipeline.errors import UserError
    from scalingdown.training.trainer import mixed_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert mixed_precision("auto") == {"bf16": False, "fp16": False}
    with pytest.raises(UserError, match="fp16 needs a CUDA GPU"):
        mixed_precision("fp16")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert mixed_precision("auto") == {"bf16": True, "fp16": False}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert mixed_precision("auto") == {"bf16": False, "fp16": True}
