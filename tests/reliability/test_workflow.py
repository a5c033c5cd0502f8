"""What Snakemake reruns, and keeps, when inputs change behind its back (issue 27): a refused teacher cache stops
the run before `distill` could cost the previous student (`--forcerun distill` included), and a data file edited
with its modification time kept reruns `prepare`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from scalingdown.kd.logit_store import FINGERPRINT_KEY
from tests.conftest import TINY_CONFIG, snakemake
from tests.workflow.conftest import job_counts

pytestmark = pytest.mark.slow


def _digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under `directory`, by relative path."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _edit_first_logit_keeping_the_time(cache: Path) -> None:
    """Change one logit of a cache as a user with pyarrow would (its metadata carried over), keeping its mtime."""
    times = os.stat(cache)
    table = pq.read_table(cache)
    metadata = table.schema.metadata
    logits = table.column("logits").to_pylist()
    logits[0] = [value + 1.0 for value in logits[0]]
    index = table.column_names.index("logits")
    table = table.set_column(index, "logits", pa.array(logits, type=table.schema.field("logits").type))
    pq.write_table(table.replace_schema_metadata(metadata), cache)
    os.utime(cache, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert FINGERPRINT_KEY in pq.read_schema(cache).metadata


@pytest.fixture
def workdir(tiny_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished tiny run (results and Snakemake's metadata), to change without touching it."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return copy


@pytest.mark.parametrize("forced", [True, False], ids=["forcerun-distill", "cache-with-a-new-time"])
def test_a_refused_teacher_cache_leaves_the_previous_student_in_place(workdir: Path, forced: bool):
    students = workdir / "results" / "tiny" / "sentiment" / "students"
    before = {name: _digest(students / name) for name in ("distilled", "gold_only")}
    distill_log = workdir / "results" / "tiny" / "logs" / "distill" / "sentiment.distilled.log"
    log_before = distill_log.read_text()
    (cache,) = (workdir / "results" / "cache" / "logits").glob("*.parquet")
    _edit_first_logit_keeping_the_time(cache)
    if not forced:
        os.utime(cache)  # edited the ordinary way: a new modification time, so distill reruns by itself
    target = "results/tiny/sentiment/students/distilled/model"
    extra = ["--forcerun", "distill"] if forced else []
    result = snakemake(workdir, "--configfile", str(workdir / "tiny.yaml"), "--cores", "1", target, *extra, check=False)
    assert result.returncode != 0
    log = (workdir / "results" / "tiny" / "logs" / "check_distill_inputs" / "sentiment.distilled.log").read_text()
    errors = [line for line in log.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "the values of column `logits` differ from those hashed in its fingerprint" in errors[0]
    assert "Error in rule check_distill_inputs" in result.stdout + result.stderr
    assert distill_log.read_text() == log_before, "distill never started"
    assert {name: _digest(students / name) for name in ("distilled", "gold_only")} == before


def test_every_run_of_distill_is_preceded_by_a_fresh_check_and_a_finished_run_keeps_no_record(workdir: Path):
    students = workdir / "results" / "tiny" / "sentiment" / "students"
    assert not list(students.glob("*/inputs-checked.json")), "the check's record is temporary"
    result = snakemake(workdir, "--configfile", str(workdir / "tiny.yaml"), "-n", "--forcerun", "distill")
    assert job_counts(result.stdout)["check_distill_inputs"] == job_counts(result.stdout)["distill"] == 2


# -- a data file edited with its modification time kept ----------------------------------------------------------
def _data_config(workdir: Path) -> Path:
    """The tiny experiment on a CSV file of two labels (prepare only is run here)."""
    texts = [f"sales rose in quarter {i}" if i % 2 else f"sales fell in quarter {i}" for i in range(40)]
    labels = ["up" if i % 2 else "down" for i in range(40)]
    (workdir / "data.csv").write_text(
        "text,label\n" + "".join(f"{text},{label}\n" for text, label in zip(texts, labels))
    )
    config = yaml.safe_load(TINY_CONFIG.read_text())
    task = config["tasks"]["sentiment"]
    task["labels"] = ["down", "up"]
    task["data"] = {"loader": "generic", "options": {"path": "data.csv"}, "split": {"validation": 0.2, "test": 0.25}}
    (workdir / "data.yaml").write_text(yaml.safe_dump(config))
    return workdir / "data.csv"


def _rewrite_keeping_the_time(path: Path, text: str) -> None:
    times = os.stat(path)
    path.write_text(text)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


def test_a_data_file_edited_with_its_time_kept_reruns_prepare_and_an_untouched_one_does_not(tmp_path: Path):
    data = _data_config(tmp_path)
    arguments = ["--configfile", str(tmp_path / "data.yaml"), "--until", "prepare"]
    snakemake(tmp_path, *arguments, "--cores", "1")
    (prepared,) = (tmp_path / "results" / "cache" / "data").iterdir()
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["inputs"]["data.csv"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()

    os.chmod(data, 0o640)  # its change time moves, its content does not: nothing to do
    assert job_counts(snakemake(tmp_path, *arguments, "-n").stdout) == {}

    _rewrite_keeping_the_time(data, data.read_text().replace("sales rose in quarter 1,up", "sales rose in q 1,up"))
    dry = snakemake(tmp_path, *arguments, "-n")
    assert job_counts(dry.stdout) == {"prepare": 1}, dry.stdout
    assert "data.csv: changed since prepare read it (the modification time was kept)" in dry.stdout + dry.stderr
    snakemake(tmp_path, *arguments, "--cores", "1")
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["inputs"]["data.csv"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert job_counts(snakemake(tmp_path, *arguments, "-n").stdout) == {}
