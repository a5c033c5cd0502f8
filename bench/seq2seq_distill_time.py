"""Benchmark: wall time of seq2seq distillation from the top-k cache, against a gold-only fine-tune and against
distillation with the teacher run in the loop.

All three train the same student (same init, data, batch size, epochs, hence the same steps):
- `gold_only`: the `distill` stage without teachers (CE on gold targets);
- `cached`: the `distill` stage from the teacher's top-k cache (reading and checking the cache included);
- `online`: the same top-k loss, but the teacher runs forward on every batch instead of a cache
  (the comparison of issue 5; the workflow itself never does this).
Computing the cache once (`teacher_logits`) is timed separately. The whole-stage times include loading,
dataset building and saving, and suffer from a shared machine's load; `--steps` also times single training
steps (fetch, collate, forward, backward, optimiser) of the three variants, interleaved step by step.

    PYTHONPATH=src python bench/seq2seq_distill_time.py --teacher <model dir> --data <prepared data dir> \
        --type generative_qa
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from datasets import Dataset

from scalingdown.families.text2text.fit import Seq2SeqKDCollator, TeacherRows, seq2seq_loss_fn, teacher_columns
from scalingdown.families.text2text.rows import encoded_split
from scalingdown.kd.logit_store import read_logits
from scalingdown.models.loading import load_seq2seq, load_tokenizer
from scalingdown.pipeline.names.tasks import PRIMARY_METRIC, prompt_for
from scalingdown.pipeline.specs.definitions import DistillSpec, InitSpec, TopkLogitsSpec
from scalingdown.stages.distill import distill
from scalingdown.stages.init_student import init_student
from scalingdown.stages.teacher_logits import teacher_logits
from scalingdown.training import trainer as training


class OnlineTeacherTrainer(training.KDTrainer):
    """KDTrainer whose batches get the teacher's top-k computed on the fly (teacher forward in the loop)."""

    teacher: Any = None
    top_k: int = 32

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The loss with the teacher run on the batch (the online side of the comparison)."""
        with torch.no_grad():
            logits = self.teacher(
                input_ids=inputs["input_ids"],
                attention_mask=inputs["attention_mask"],
                decoder_input_ids=inputs["decoder_input_ids"],
            ).logits
            values, ids = torch.log_softmax(logits.float(), dim=-1).topk(self.top_k, dim=-1)
        inputs = {
            **inputs,
            "teacher_0_topk_ids": ids,
            "teacher_0_topk_logprobs": values,
            "teacher_0_tail_mass": (1 - values.double().exp().sum(-1)).clamp_min(0).float(),
        }
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)


def timed(function, *args) -> float:
    """Seconds one call of `function(*args)` takes."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def split_ids(spec: DistillSpec, data: str, split: str, tokenizer: Any) -> tuple[list[list[int]], list[list[int]]]:
    """The source and gold target ids of one split, encoded as the student's `distill` encodes them."""
    text = spec.text
    assert text is not None, "a text-to-text spec"
    _, sources, targets = encoded_split(
        data, split, spec.type, text.prompt, tokenizer, spec.max_length, text.max_target_length
    )
    return sources, targets


def online(spec: DistillSpec, data: str, init: str, teacher_dir: str, out: Path) -> float:
    """Train like `distill` does, with the teacher's top-k computed per batch instead of read from a cache."""
    start = time.perf_counter()
    tokenizer = load_tokenizer(init)
    model = load_seq2seq(init)
    teacher = load_seq2seq(teacher_dir).eval()
    sources, gold = split_ids(spec, data, "train", tokenizer)
    valid_sources, valid_gold = split_ids(spec, data, "validation", tokenizer)

    def dataset(source_ids, labels):
        return Dataset.from_dict(
            {"input_ids": source_ids, "attention_mask": [[1] * len(s) for s in source_ids], "labels": labels}
        )

    placeholder = TeacherRows("teacher", int(spec.teachers[0].top_k or 0), False, {})
    OnlineTeacherTrainer.teacher, OnlineTeacherTrainer.top_k = teacher, placeholder.top_k
    with mock.patch.object(training, "KDTrainer", OnlineTeacherTrainer):
        training.train_model(
            model,
            tokenizer,
            dataset(sources, gold),
            dataset(valid_sources, valid_gold),
            spec.training,
            seq2seq_loss_fn(spec.loss, [placeholder], None, {}),
            out / "ck",
            {"bench": "online"},
            data_collator=Seq2SeqKDCollator(tokenizer, model, [placeholder.top_k]),
            compute_metrics=None,
        )
    model.save_pretrained(out / "model")
    return time.perf_counter() - start


def step_times(spec: DistillSpec, data: str, init: str, teacher_dir: str, cache: Path, steps: int) -> dict[str, float]:
    """Median seconds per training step of each variant, interleaved step by step on the same batches."""
    tokenizer, model = load_tokenizer(init), load_seq2seq(init)
    teacher = load_seq2seq(teacher_dir).eval()
    frame, fingerprint = read_logits(cache)
    rows = TeacherRows(
        "teacher",
        int(fingerprint["top_k"]),
        False,
        {name: frame[name].tolist() for name in frame.columns if name not in ("split", "row_id")},
    )
    sources, gold = split_ids(spec, data, "train", tokenizer)
    plain = {"input_ids": sources, "attention_mask": [[1] * len(s) for s in sources], "labels": gold}
    cached = Dataset.from_dict({**plain, **teacher_columns([rows], {})})
    plain = Dataset.from_dict(plain)
    variants = {
        "gold_only": (plain, Seq2SeqKDCollator(tokenizer, model), seq2seq_loss_fn(spec.loss, [], None, {}), False),
        "cached": (
            cached,
            Seq2SeqKDCollator(tokenizer, model, [rows.top_k]),
            seq2seq_loss_fn(spec.loss, [rows], None, {}),
            False,
        ),
        "online": (plain, Seq2SeqKDCollator(tokenizer, model), seq2seq_loss_fn(spec.loss, [rows], None, {}), True),
    }
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    size = spec.training.batch_size
    times: dict[str, list[float]] = {name: [] for name in variants}
    for step in range(steps + 2):
        start_row = (step * size) % max(1, len(plain) - size)
        indices = list(range(start_row, start_row + size))
        for name, (dataset, collator, loss_fn, in_loop) in variants.items():
            start = time.perf_counter()
            batch = collator([dataset[i] for i in indices])
            targets = {key: batch.pop(key) for key in list(batch) if training.is_target_key(key)}
            if in_loop:
                with torch.no_grad():
                    logits = teacher(**batch).logits
                    values, ids = torch.log_softmax(logits.float(), dim=-1).topk(rows.top_k, dim=-1)
                targets.update(
                    teacher_0_topk_ids=ids,
                    teacher_0_topk_logprobs=values,
                    teacher_0_tail_mass=(1 - values.double().exp().sum(-1)).clamp_min(0).float(),
                )
            loss_fn(model(**batch), targets, batch)["loss"].backward()
            optimiser.step()
            optimiser.zero_grad()
            if step >= 2:  # warm-up
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def main() -> None:
    """Time text-to-text distillation from the cache, a gold-only fine-tune and the teacher run in the loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="fine-tuned seq2seq teacher directory")
    parser.add_argument("--data", required=True, help="prepared data directory")
    parser.add_argument("--type", default="generative_qa", choices=["generative_qa", "multiple_choice", "math"])
    parser.add_argument("--student-model", default="tiny:t5-l2-h64")
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--max-target-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="whole-stage timings per variant (median reported)")
    parser.add_argument("--steps", type=int, default=0, help="also time this many single steps per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="write the results as JSON here too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = {
        "type": args.type,
        "prompt": prompt_for(args.type, None),
        "max_length": args.max_length,
        "max_target_length": args.max_target_length,
    }
    entry = {
        "name": "teacher",
        "key": "bench",
        "model": args.teacher,
        "max_length": args.max_length,
        "logits_key": "bench.topk",
        "top_k": args.k,
        "targets": "gold",
        "hidden_layers": {},
    }
    train = {
        "epochs": args.epochs,
        "learning_rate": 5e-4,
        "batch_size": args.batch_size,
        "gradient_accumulation_steps": 1,
        "weight_decay": 0.0,
        "warmup_ratio": 0.0,
        "eval_steps": 10**6,
        "logging_steps": 10,
        "seed": 1,
        "precision": "auto",
        "processes": 1,
        "deepspeed": None,
        "checkpoint": "last",
        "selection_metric": PRIMARY_METRIC[args.type],
    }
    spec = DistillSpec.from_dict(
        {
            **task,
            "student": "bench",
            "labels": None,
            "training": train,
            "loss": {
                "ce": 0.5,
                "kd": 0.5,
                "temperature": 1.0,
                "hidden": 0.0,
                "hidden_projection": "auto",
                "hidden_map": {},
            },
            "teacher_mode": "cached",
            "weighting": {"method": "uniform"},
            "teachers": [entry],
        }
    )
    times: dict[str, list[float]] = {"gold_only": [], "cached": [], "online": []}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        cache = root / "cache.parquet"
        cache_seconds = timed(
            teacher_logits,
            TopkLogitsSpec.from_dict(
                {
                    **task,
                    **{k: entry[k] for k in ("top_k", "targets", "hidden_layers")},
                    "teacher": "teacher",
                    "teacher_key": "bench",
                    "logits_key": "bench.topk",
                    "model": args.teacher,
                    "label_map": {},
                    "labels": None,
                }
            ),
            args.data,
            str(cache),
        )
        init_student(
            InitSpec.from_dict(
                {
                    "type": args.type,
                    "model": args.student_model,
                    "init": {"method": "scratch"},
                    "labels": None,
                    "seed": 1,
                    "format": 1,
                }
            ),
            str(root / "init"),
        )
        for repeat in range(args.repeats):
            for name in times:  # interleaved, so that load changes hit every variant alike
                out = root / f"{name}-{repeat}"
                if name == "online":
                    times[name].append(online(spec, args.data, str(root / "init"), args.teacher, out))
                    continue
                variant, paths = (spec, [str(cache)]) if name == "cached" else (replace(spec, teachers=[]), [])
                times[name].append(
                    timed(
                        distill,
                        variant,
                        args.data,
                        str(root / "init"),
                        paths,
                        str(out / "model"),
                        str(out / "history.json"),
                        str(out / "ck"),
                    )
                )
        steps = json.loads((root / "cached-0" / "history.json").read_text())[-1]["step"] if args.repeats else None
        per_step = (
            step_times(spec, args.data, str(root / "init"), args.teacher, cache, args.steps) if args.steps else {}
        )
    median = {name: float(np.median(values)) if values else float("nan") for name, values in times.items()}
    results = {
        "machine": f"{platform.node()} {platform.machine()}, {torch.get_num_threads()} threads",
        "teacher": args.teacher,
        "student": args.student_model,
        "k": args.k,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "steps": steps,
        "seconds": times,
        "median_seconds": median,
        "teacher_logits_seconds": cache_seconds,
        "cached_vs_gold_only": median["cached"] / median["gold_only"],
        "online_vs_gold_only": median["online"] / median["gold_only"],
        "online_vs_cached": median["online"] / median["cached"],
    }
    if per_step:
        results["seconds_per_step"] = per_step
        results["per_step_cached_vs_gold_only"] = per_step["cached"] / per_step["gold_only"]
        results["per_step_online_vs_gold_only"] = per_step["online"] / per_step["gold_only"]
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
