"""Benchmark: size and fidelity of the seq2seq top-k teacher cache.

For a fine-tuned seq2seq teacher and a prepared dataset (e.g. from `config/experiments/seq2seq-tiny.yaml`):
- bytes per target token of the Parquet cache at several k (log-probabilities as float16 and as float32),
  against full fp32 logits (raw, and as a compressed Parquet list column on a subset of rows);
- KL(full ‖ reconstructed) per token, where the reconstruction is the cached top-k plus the tail mass spread
  evenly over the other tokens (what the loss assumes at T ≠ 1), with the cached (float16) log-probabilities;
- with `--student`, the top-k KD loss against the full KL(teacher ‖ student) at T = 1 and T = 2.

    PYTHONPATH=src python bench/seq2seq_cache.py --teacher <model dir> --data <prepared data dir> --type generative_qa
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from scalingdown.families.text2text.inference import forced_batches
from scalingdown.families.text2text.rows import encoded_split
from scalingdown.families.text2text.topk import topk_columns
from scalingdown.kd.buckets import bucket_divergence
from scalingdown.kd.logit_store import write_logits
from scalingdown.kd.losses import IGNORE_INDEX
from scalingdown.models.loading import load_seq2seq, load_tokenizer
from scalingdown.pipeline.names.tasks import prompt_for


def cache_bytes(columns: dict, row_ids: list[str], directory: Path, name: str) -> int:
    """The size on disk of a top-k cache of `columns` (one Parquet file in `directory`)."""
    path = directory / f"{name}.parquet"
    write_logits(path, pd.DataFrame({"split": "train", "row_id": row_ids, **columns}), {"bench": name})
    return path.stat().st_size


def full_logits_bytes(model, sources, targets, directory: Path) -> tuple[int, int]:
    """Parquet bytes and token count of full fp32 logits (one list of V floats per target token)."""
    rows = []
    for _, outputs, labels, _ in forced_batches(model, sources, targets, 8, None):
        mask = labels != IGNORE_INDEX
        rows += list(outputs.logits[mask].float().numpy())
    path = directory / "full.parquet"
    write_logits(
        path,
        pd.DataFrame({"split": "train", "row_id": [str(i) for i in range(len(rows))], "logits": rows}),
        {"bench": "full"},
    )
    return path.stat().st_size, len(rows)


def reconstructed_kl(full: torch.Tensor, ids: torch.Tensor, values: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
    """KL(full ‖ top-k with the tail spread evenly over the other tokens) per token."""
    vocab, k = full.shape[-1], ids.shape[-1]
    rebuilt = torch.zeros_like(full) + (tail / max(vocab - k, 1)).clamp_min(1e-38).log()[:, None]
    rebuilt.scatter_(1, ids, values)
    rebuilt = rebuilt - torch.logsumexp(rebuilt, dim=-1, keepdim=True)
    return (full.exp() * (full - rebuilt)).sum(-1)


def fidelity(teacher, student, sources, targets, k: int) -> dict[str, float]:
    """Mean/max KL(full ‖ reconstructed top-k) per token (cached float16 log-probabilities, and float32);
    with a student, the top-k KD loss against the full KL(teacher ‖ student) at T = 1 and 2."""
    kls, kls32, tails, losses = [], [], [], {1.0: [[], []], 2.0: [[], []]}
    student_batches = forced_batches(student, sources, targets, 8, None) if student is not None else None
    for _, outputs, labels, _ in forced_batches(teacher, sources, targets, 8, None):
        mask = labels != IGNORE_INDEX
        logits = outputs.logits[mask].float()
        full = F.log_softmax(logits, dim=-1)
        values32, ids = full.topk(k, dim=-1)
        tail = (1 - values32.double().exp().sum(-1)).clamp_min(0).float()
        values = values32.half().float()  # as cached
        kls += reconstructed_kl(full, ids, values, tail).tolist()
        kls32 += reconstructed_kl(full, ids, values32, tail).tolist()
        tails += tail.tolist()
        if student_batches is not None:
            _, student_outputs, _, _ = next(student_batches)
            student_logits = student_outputs.logits[mask].float()
            for temperature, (topk_values, full_values) in losses.items():
                log_student = F.log_softmax(student_logits / temperature, -1)
                log_teacher = F.log_softmax(logits / temperature, -1)
                full_values += (log_teacher.exp() * (log_teacher - log_student)).sum(-1).tolist()
                topk_values += bucket_divergence(log_student, ids, values, tail, temperature).tolist()
    result = {
        "kl_full_vs_reconstructed_mean": float(np.mean(kls)),
        "kl_full_vs_reconstructed_max": float(np.max(kls)),
        "kl_full_vs_reconstructed_fp32_mean": float(np.mean(kls32)),
        "tail_mass_mean": float(np.mean(tails)),
        "tail_mass_max": float(np.max(tails)),
    }
    if student is not None:
        for temperature, (topk_values, full_values) in losses.items():
            result[f"kd_loss_T{temperature:g}_topk"] = float(np.mean(topk_values))
            result[f"kd_loss_T{temperature:g}_full"] = float(np.mean(full_values))
    return result


def main() -> None:
    """Measure the top-k cache's size and fidelity against the full logits."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="fine-tuned seq2seq teacher directory")
    parser.add_argument("--student", help="a seq2seq student directory (for the KD-loss comparison)")
    parser.add_argument("--data", required=True, help="prepared data directory")
    parser.add_argument("--type", default="generative_qa", choices=["generative_qa", "multiple_choice", "math"])
    parser.add_argument("--ks", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--rows", type=int, default=300, help="train rows measured")
    parser.add_argument("--full-rows", type=int, default=20, help="rows whose full logits are written to Parquet")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--max-target-length", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="write the results as JSON here too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    teacher, tokenizer = load_seq2seq(args.teacher), load_tokenizer(args.teacher)
    student = load_seq2seq(args.student) if args.student else None
    frame, sources, targets = encoded_split(
        args.data, "train", args.type, prompt_for(args.type, None), tokenizer, args.max_length, args.max_target_length
    )
    sources, targets, row_ids = sources[: args.rows], targets[: args.rows], frame["row_id"].tolist()[: args.rows]
    tokens = sum(len(ids) for ids in targets)
    vocab = int(teacher.config.vocab_size)
    results = {
        "machine": f"{platform.node()} {platform.machine()}, {torch.get_num_threads()} threads",
        "teacher": args.teacher,
        "vocab_size": vocab,
        "rows": len(sources),
        "target_tokens": tokens,
        "full_fp32_raw_bytes_per_token": 4 * vocab,
        "k": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        full_bytes, full_tokens = full_logits_bytes(
            teacher, sources[: args.full_rows], targets[: args.full_rows], directory
        )
        results["full_fp32_parquet_bytes_per_token"] = full_bytes / full_tokens
        for k in args.ks:
            start = time.perf_counter()
            columns = topk_columns(teacher, sources, targets, k, 16, description=None)
            seconds = time.perf_counter() - start
            fp16 = cache_bytes(columns, row_ids, directory, f"k{k}-fp16")
            columns = topk_columns(teacher, sources, targets, k, 16, description=None, logprob_dtype=np.float32)
            fp32 = cache_bytes(columns, row_ids, directory, f"k{k}-fp32")
            results["k"][k] = {
                "bytes_per_token_fp16": fp16 / tokens,
                "bytes_per_token_fp32": fp32 / tokens,
                "compression_vs_full_fp32_raw": 4 * vocab * tokens / fp16,
                "seconds_to_compute": seconds,
                **fidelity(teacher, student, sources, targets, k),
            }
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
