"""Warnings about the data behind the scores, set in bold at the top of the report."""

from __future__ import annotations

import json
from pathlib import Path

from scalingdown.report.document import Block, Paragraph

# What `prepare` writes beside the splits (`data.store.MANIFEST`).
MANIFEST = "manifest.json"


def few_label_warnings(cached: list[str]) -> list[Block]:
    """A bold paragraph for every prepared dataset among `cached` whose splits hold too few labels to score
    (kept only because the task sets `data.allow_few_labels`)."""
    blocks: list[Block] = []
    for path in cached:
        try:
            manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        few = manifest.get("few_labels") if isinstance(manifest, dict) else None
        if not few:
            continue
        found = "; ".join(f"its {split} split holds only {labels}" for split, labels in few["splits"].items())
        blocks.append(
            Paragraph(
                f"Warning: task {few['task']}: {found} (kept because `data.allow_few_labels` is on). A model "
                "trained on one label learns a constant and a constant scores 100 % on one test label, so this "
                "task's scores and retention say nothing about the models.",
                strong=True,
            )
        )
    return blocks
