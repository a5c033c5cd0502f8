"""The report and the online mode on the finished tiny workflow (session fixture `tiny_run`)."""

from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path

import pytest

from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.conftest import scalingdown, snakemake
from tests.pipeline.conftest import resolved_tiny_config
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow

PLOTS = ["training_curves.png", "validation_curves.png", "score_latency.png", "confusion_matrices.png"]


def test_report_html_is_self_contained_and_matches_the_markdown(tiny_run: Path):
    report = tiny_run / "results" / "tiny" / "report"
    page = (report / "report.html").read_text()
    markdown = (report / "report.md").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(PLOTS)
    assert not re.search(r'(src|href)="(?!data:)', page) and "<link" not in page and "<script" not in page
    for plot in PLOTS:
        assert (report / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({plot})" in markdown
    rows = re.findall(r"^\| (student \(distilled from big\)|teacher) \| (\w+) \| ([0-9.]+) \|", markdown, re.M)
    cells = re.sub(r">\s+<", "><", page)
    assert len(rows) == 2
    for role, model, score in rows:
        assert f'<td>{role}</td><td>{model}</td><td class="number">{score}</td>' in cells
    # the conclusion first; a run without a label-budget sweep writes no (empty) budget curve
    assert markdown.index("## Summary") < markdown.index("|")
    assert re.search(r"^- (Model to ship|Most accurate student or export): `", markdown, re.M)
    assert "- Did distilling pay? " in markdown
    assert not (report / "budget_curve.png").exists() and "budget_curve" not in markdown


def test_reproducibility_block_names_commit_versions_seeds_and_cached_artefacts(tiny_run: Path):
    report = tiny_run / "results" / "tiny" / "report"
    repro = json.loads((report / "reproducibility.json").read_text())
    assert repro["config"]["experiment"] == "tiny" and repro["seeds"] == {"seed": 7}
    assert repro["timing"][0]["threads"] == 1 and repro["timing"][0]["rounds"] == 6
    assert repro["git"]["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", repro["git"]["commit"])
    kinds = {a["artefact"]: a for a in repro["artefacts"]}
    assert set(kinds) == {"prepared data", "fine-tuned teacher", "teacher logits", "student initialisation"}
    assert all(a["status"] == "built by this experiment" and a["experiment"] == "tiny" for a in kinds.values())
    markdown = (report / "report.md").read_text()
    assert "## Reproducibility" in markdown and f"| Config hash | {repro['config_hash']}" in markdown


def test_snakemake_report_includes_the_plots(tiny_run: Path, tmp_path: Path):
    archive = tmp_path / "report.zip"
    snakemake(tiny_run, "--configfile", str(tiny_run / "tiny.yaml"), "--report", str(archive))
    names = [Path(name).name for name in zipfile.ZipFile(archive).namelist()]
    assert {*PLOTS, "metrics.csv", "report.html"} <= set(names)


def test_online_distillation_trains_exactly_like_the_cached_mode(tiny_run: Path, tmp_path: Path):
    """Same seed, data and teacher: running the teacher online reproduces the cached run's losses."""
    config = resolved_tiny_config()
    students = config["tasks"]["sentiment"]["students"]
    students["online"] = {**copy.deepcopy(students["distilled"]), "teacher_mode": "online"}
    plan = Plan(config)
    student = plan.student("sentiment", "online")
    result = scalingdown(
        "distill",
        "--spec",
        StageSpecs(plan).distill("sentiment", "online").to_json(),
        "--data",
        plan.tasks["sentiment"].data_dir,
        "--init",
        student.init_dir,
        "--out",
        str(tmp_path / "model"),
        "--history",
        str(tmp_path / "history.json"),
        "--checkpoints",
        str(tmp_path / "checkpoints"),
        "--threads",
        "1",
        cwd=tiny_run,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    online = [e for e in json.loads((tmp_path / "history.json").read_text()) if "loss_kl" in e]
    cached_history = tiny_run / "results" / "tiny" / "sentiment" / "students" / "distilled" / "history.json"
    cached = [e for e in json.loads(cached_history.read_text()) if "loss_kl" in e]
    assert online and len(online) == len(cached)
    for mine, theirs in zip(online, cached):
        for term in ("loss", "loss_ce", "loss_kl"):
            assert mine[term] == pytest.approx(theirs[term], rel=1e-5), (term, mine["step"])


def test_another_experiment_reuses_the_shared_artefacts_without_rebuilding_them(tiny_run: Path):
    """The builder's name is recorded, not tracked: a second experiment schedules no shared job."""
    other = tiny_run / "other.yaml"
    other.write_text((tiny_run / "tiny.yaml").read_text().replace("experiment: tiny", "experiment: tiny-other"))
    result = snakemake(tiny_run, "--configfile", str(other), "-n")
    jobs = job_counts(result.stdout)
    expected = {
        "check_distill_inputs": 2,
        "distill": 2,
        "evaluate": 4,
        "export": 3,
        "evaluate_export": 3,
        "benchmark": 1,
        "report": 1,
        "all": 1,
    }
    assert jobs == expected, result.stdout
