"""The benchmark harness's pure parts: regenerating one docs section, reading a dry run's job table."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

import harness


def test_write_section_replaces_only_its_own_section(tmp_path: Path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# B\n\n<!-- bench:a start -->\nold a\n<!-- bench:a end -->\n\nprose\n\n"
        "<!-- bench:b start -->\nold b\n<!-- bench:b end -->\n"
    )
    harness.write_section(docs, "a", "new a\n\n| x |")
    text = docs.read_text()
    assert "<!-- bench:a start -->\nnew a\n\n| x |\n<!-- bench:a end -->" in text
    assert "old a" not in text and "old b" in text and "prose" in text
    harness.write_section(docs, "c", "new c")
    assert docs.read_text().endswith("<!-- bench:c start -->\nnew c\n<!-- bench:c end -->\n")


def test_write_section_keeps_everything_around_the_section_byte_for_byte(tmp_path: Path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# B\n\nintro\n<!-- bench:x start -->\nold\n<!-- bench:x end -->\n\nnote kept\n")
    harness.write_section(docs, "x", "new")
    assert docs.read_text() == "# B\n\nintro\n<!-- bench:x start -->\nnew\n<!-- bench:x end -->\n\nnote kept\n"
    harness.write_section(docs, "y", "added")
    assert docs.read_text().endswith("<!-- bench:y start -->\nadded\n<!-- bench:y end -->\n")


def test_the_docs_skeleton_has_a_section_for_every_benchmark():
    text = (REPO / "docs" / "benchmarks.md").read_text()
    sections = ("cache-vs-online", "teacher-logits-throughput", "rerun-cost", "memory", "shipping", "peers")
    for name in (*sections, "benchmark-repeatability"):
        assert f"<!-- bench:{name} start -->" in text and f"<!-- bench:{name} end -->" in text


def test_scheduled_jobs_reads_the_job_stats_table():
    output = (
        "Building DAG\nJob stats:\njob         count\n--------  -------\ndistill         1\nreport  1\n"
        "total           2\n\nReasons:\n    distill: params\n"
    )
    assert harness.scheduled_jobs(output) == {"distill": 1, "report": 1}
    assert harness.scheduled_jobs("Nothing to be done (all requested files are present and up to date).") == {}
