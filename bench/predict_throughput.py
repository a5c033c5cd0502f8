r"""Benchmark 19, its `predict` part: a large file predicted in batches of input order and in batches by length.

Writes a CSV of `--rows` texts drawn (with replacement, seeded) from a dataset's sentences into a scratch folder
(never the repository), then predicts it with a model directory twice in each order, alternating (by length, input
order, by length, input order), one thread, and reports texts per second of each run: the same `predict_file`, only
`by_length` differs, so the ratio is what sorting each chunk by token count (each batch padded to its longest) gains.

    python bench/predict_throughput.py --model results/phrasebank-shapes/phrasebank/shipped \\
        --texts ../shared/datasets/financial_phrasebank/Sentences_50Agree.txt --rows 100000   # about 10 min
    python bench/predict_throughput.py --model <tiny student> --rows 2000 --no-docs            # a smoke test
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import numpy as np
import pandas as pd
import torch

from scalingdown.evaluation.predict_file import predict_file

SECTION = "predict-throughput"
BUILT_IN = [
    "Operating profit rose to 13.1 million from 8.7 million a year earlier.",
    "Sales fell",
    "The company expects its net sales for the whole of 2009 to remain below the level of 2008, it said in a "
    "statement on Tuesday, citing weak demand from its largest customers in Europe and North America.",
]


def main() -> None:
    """Build the input, predict it in both orders, write the docs section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a student, export or shipped/ directory")
    parser.add_argument("--texts", type=Path, help="a PhraseBank file (sentence@label lines); default: three built-in")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--docs", type=Path, default=harness.DOCS)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    info = harness.machine()
    record = measure(args)
    section = render(record, info)
    harness.publish(args, {SECTION: section})


def sentences(path: Path | None) -> list[str]:
    """The texts to draw from: a PhraseBank file's sentences (text before the last `@`), or the built-in three."""
    if path is None:
        return BUILT_IN
    lines = path.read_text(encoding="latin-1").splitlines()
    return [line.rsplit("@", 1)[0].strip() for line in lines if "@" in line]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Texts per second of each run, alternating the two orders."""
    torch.set_num_threads(1)
    pool = sentences(args.texts)
    texts = [pool[i] for i in np.random.default_rng(0).integers(0, len(pool), args.rows)]
    runs = []
    with tempfile.TemporaryDirectory(prefix="predict-throughput-") as scratch:
        source = Path(scratch) / "texts.csv"
        pd.DataFrame({"text": texts}).to_csv(source, index=False)
        for by_length in (True, False, True, False):
            load, cpu = os.getloadavg()[0], time.process_time()
            done = predict_file(
                args.model,
                source,
                Path(scratch) / "out.csv",
                force=True,
                batch_size=args.batch_size,
                by_length=by_length,
            )
            runs.append(
                {
                    "by_length": by_length,
                    "seconds": done.seconds,
                    "cpu_seconds": time.process_time() - cpu,
                    "texts_per_s": done.texts_per_second,
                    "load": load,
                }
            )
            print(runs[-1], flush=True)
    return {"model": str(args.model), "rows": args.rows, "batch_size": args.batch_size, "runs": runs}


def render(record: dict[str, Any], info: dict[str, str]) -> str:
    """The docs section (a part of §19): texts per second of wall time and of CPU time, each order's median."""

    def rate(by_length: bool, seconds: str) -> float:
        chosen = [run[seconds] for run in record["runs"] if run["by_length"] == by_length]
        return float(np.median([record["rows"] / value for value in chosen]))

    rows = [
        [
            "by token count" if run["by_length"] else "input order",
            f"{run['seconds']:.1f}",
            f"{run['texts_per_s']:,.0f}",
            f"{run['cpu_seconds']:.1f}",
            f"{record['rows'] / run['cpu_seconds']:,.0f}",
            f"{run['load']:.2f}",
        ]
        for run in record["runs"]
    ]
    wall, cpu = rate(True, "seconds") / rate(False, "seconds"), rate(True, "cpu_seconds") / rate(False, "cpu_seconds")
    return "\n".join(
        [
            "### `predict` on a large file: batches by length",
            "",
            harness.machine_block(info),
            "",
            f"`{record['model']}`, {record['rows']:,} rows, batch size {record['batch_size']}, one thread, the runs "
            "alternating (each run loads the model, reads, predicts and writes the whole file):",
            "",
            harness.markdown_table(
                ["batches", "seconds", "texts/s", "CPU seconds", "texts per CPU second", "load average (1 min)"], rows
            ),
            "",
            f"By token count: **{rate(True, 'seconds'):,.0f} texts/s**; in input order: {rate(False, 'seconds'):,.0f} "
            f"texts/s (**{wall:.2f}×** on wall time, **{cpu:.2f}×** on CPU time).",
        ]
    )


if __name__ == "__main__":
    main()
