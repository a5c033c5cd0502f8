"""What the workflow tests read from a Snakemake run."""

from __future__ import annotations

import re


def job_counts(output: str) -> dict[str, int]:
    """The `Job stats` table of a Snakemake run or dry run as {rule: count}."""
    table = output.split("Job stats:")[1].split("Reasons:")[0] if "Job stats:" in output else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}
