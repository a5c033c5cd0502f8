"""The `ship` stage: the most accurate student or export of a task (over its seeds) within its `ship` budget, written
to `<task>/shipped/` — a directory `scalingdown predict` takes as it is — with its model card and a record.

The pick is `report.ship_pick.pick` (the report states the same pick from the same records): best mean score among the
models whose mean latency and size fit, the weights of the seed whose student kept the best validation score. The
directory holds the picked model's files (a student's Hugging Face directory, or an export's), its tokenizer set to
the length the student reads (`model_max_length`, so `predict` truncates as the evaluation did), `README.md` (the
card, figures over the seeds) and `scalingdown-ship.json` (the budget, the pick and its figures). When no model fits,
the directory holds only the record and a card saying so: the report states it, nothing fails, and `predict` refuses
the directory with that reason.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from scalingdown.evaluation.model_card import CARD_FILE, write_card
from scalingdown.pipeline.config.shipping import ShipBudget
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.atomic import OUTPUT_MARKER, atomic_path, check_replaceable, write_json, write_text
from scalingdown.pipeline.paths import SHIP_RECORD
from scalingdown.pipeline.specs.definitions import ShipSpec
from scalingdown.report.seed_statistics import summarise
from scalingdown.report.ship_pick import as_record, pick, pick_line, shipped_variant
from scalingdown.stages.model_cards import card_facts, records_table

log = logging.getLogger(__name__)

STAGE = "ship"
# What is not copied from the picked model's directory: the marker of the stage that wrote it, Snakemake's
# timestamp, and the card (the shipped directory gets its own).
_NOT_COPIED = {OUTPUT_MARKER, ".snakemake_timestamp", CARD_FILE}


def ship(spec: ShipSpec, evals: list[str], benchmarks: list[str], models: list[str], out: str) -> dict[str, Any]:
    """Pick the model to ship among `models` (the spec's candidates) from the records `evals` and `benchmarks` (one
    per seed), and write it with its card and record to the directory `out`; returns the record."""
    check_replaceable(out, STAGE)
    if len(models) != len(spec.candidates) or len(benchmarks) != len(spec.seeds):
        raise UserError(
            f"ship: {len(models)} model directories and {len(benchmarks)} benchmark records given, the spec lists "
            f"{len(spec.candidates)} and {len(spec.seeds)}"
        )
    table = records_table(spec.task, spec.evals, evals, dict(zip(spec.seeds, benchmarks)))
    summary = summarise(table)
    twins = {student.name: student.twin for student in spec.students if student.twin}
    budget = ShipBudget(spec.max_latency_ms, spec.max_size_mb)
    chosen = pick(summary, table, budget, twins, set(spec.untrained))
    record = {"task": spec.task.task, **as_record(chosen), "line": pick_line(chosen, out)}
    with atomic_path(out, STAGE) as temporary:
        temporary.mkdir()
        if chosen.row is None:
            write_text(temporary / CARD_FILE, f"# Nothing shipped\n\n{record['line']}\n")
        else:
            variant = shipped_variant(chosen.row)
            index = next(
                i
                for i, entry in enumerate(spec.candidates)
                if (entry.name, entry.variant, entry.seed) == (chosen.row["model"], variant, chosen.seed)
            )
            source = Path(models[index])
            _copy_model(source, temporary)
            student = next(student for student in spec.students if student.name == chosen.row["model"])
            _set_max_length(temporary, student.max_length)
            record["shipped"]["source"] = str(source)
            note = f"Picked under the budget {budget.text} (ScalingDown `ship`); the weights of seed {chosen.seed}."
            write_card(temporary, card_facts(spec.task, student, chosen.row, summary, note))
        write_json(temporary / SHIP_RECORD, record)
    log.info("%s", record["line"])
    return record


def _copy_model(source: Path, directory: Path) -> None:
    """The picked model's files (not its stage marker, timestamp or card) into `directory`."""
    for item in sorted(source.iterdir()):
        if item.name in _NOT_COPIED:
            continue
        if item.is_dir():
            shutil.copytree(item, directory / item.name)
        else:
            shutil.copy2(item, directory / item.name)


def _set_max_length(directory: Path, max_length: int) -> None:
    """Record in the shipped tokenizer the length the student reads, so `predict` truncates inputs as `evaluate` did."""
    path = directory / "tokenizer_config.json"
    if not path.is_file():
        return
    settings = json.loads(path.read_text(encoding="utf-8"))
    settings["model_max_length"] = max_length
    write_text(path, json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
