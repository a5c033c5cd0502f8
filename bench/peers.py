"""Benchmark 12: ScalingDown's distillation against a peer library's, same student, teacher, data and settings.

The peer is torchdistill (PyPI `torchdistill`): its `KDLoss` (α·CE + (1-α)·τ²·KL, Hinton et al.) in the usual
PyTorch training loop with the teacher in the loop (a forward pass of the teacher on every batch).
ScalingDown distils the same 3-layer student (the same starting weights) from the same fine-tuned MiniLM
teacher through its logit cache (`distill`, the workflow's stage, run as the rule runs it). Both use the same
PhraseBank split, temperature, loss weights (CE 0.5, KD 0.5), epochs, batch size, learning rate and schedule
(AdamW, linear decay after 10 % warm-up, gradient norm clipped at 1), maximum length and threads; each run is
its own process, and the two alternate over the seeds, so a busy spell of the machine hits both; neither
validates nor saves checkpoints inside the timed loop. Reported:
seconds per epoch (the training loop only: ScalingDown's Trainer `train_runtime` / epochs, the peer's timed
epochs) and test accuracy, per seed, with the mean and the seed-to-seed spread.

Differences that are part of what is compared: ScalingDown reads the teacher's logits from its cache (built
once by `teacher_logits`, about one teacher forward pass over the data: measured and reported) and batches
texts of similar length together (the Trainer's `group_by_length`); the peer runs the teacher on every batch
and samples batches at random, as torchdistill's own examples do.

torchdistill 1.1.5 requires torchvision, which this project does not install; its loss modules do not import
it, so it is installed beside the project without its dependencies, outside the virtual environment:

    pip install --no-deps --target /tmp/torchdistill torchdistill==1.1.5
    python bench/peers.py --config config/experiments/phrasebank-minilm.yaml --torchdistill /tmp/torchdistill

About 25 minutes on 2 cores (3 seeds × 2 runs of 3 epochs; the experiment's teacher, cache and student
initialisation are built first if missing).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness

from scalingdown.pipeline.plan.stage_specs import StageSpecs

SECTION = "peers"
NO_EVAL_STEPS = 10**6  # more steps than any run: no validation or checkpoint inside the timed loop
TARGET_RATIO = 0.8


def main() -> None:
    """Distil with ScalingDown and with the peer library on each config, alternately; write the docs section."""
    parser = harness.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--task", help="the task (default: the first)")
    parser.add_argument(
        "--student",
        help="the distilled student taken as the template (default: the first one with exactly one teacher)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="training seeds (13, 14, …)")
    parser.add_argument("--epochs", type=float, help="epochs (default: the student's)")
    parser.add_argument("--torchdistill", type=Path, help="a folder holding the torchdistill package")
    parser.add_argument("--peer-job", type=Path, help=argparse.SUPPRESS)  # internal: one peer run
    args = parser.parse_args()
    if args.peer_job:
        peer_run(json.loads(args.peer_job.read_text(encoding="utf-8")))
        return
    results, info = harness.measure_configs(args, measure, "peers-")
    harness.publish(args, {SECTION: section(results, info)})


def bench_config(config: dict[str, Any], task: str, student: str | None, epochs: float | None) -> dict[str, Any]:
    """The experiment reduced to the template student (cached KD from its one teacher), no validation."""
    task_spec = copy.deepcopy(config["tasks"][task])
    if student is None:
        trained = [name for name, spec in task_spec["students"].items() if spec["train"] and len(spec["teachers"]) == 1]
        if not trained:
            raise SystemExit(f"task {task} has no student distilled from one teacher; pass --student")
        student = trained[0]
    template = task_spec["students"][student]
    if len(template["teachers"]) != 1:
        raise SystemExit(f"student {student} has {len(template['teachers'])} teachers; pick one with exactly one")
    # no validation and no checkpoint inside the timed loop (the peer loop has neither)
    template["training"].update(
        eval_steps=NO_EVAL_STEPS, checkpoint_steps=NO_EVAL_STEPS, **({"epochs": epochs} if epochs else {})
    )
    template.update(teacher_mode="cached", export=[])
    task_spec["students"] = {"bench_peer": template}
    task_spec["teachers"] = {name: task_spec["teachers"][name] for name in template["teachers"]}
    task_spec.pop("student_defaults", None)
    bench = {**copy.deepcopy(config), "experiment": f"{config['experiment']}-peers", "tasks": {task: task_spec}}
    if "seeds" in bench:  # one split and teacher: the seeds below are training seeds
        bench["seed"] = bench.pop("seeds")[0]
    return bench


def measure(config_path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Train the same student with both libraries, alternately; the runs' times and scores."""
    config, _ = harness.load_plan(config_path, args.workdir)
    task = args.task or next(iter(config["tasks"]))
    bench = bench_config(config, task, args.student, args.epochs)
    bench_path = harness.write_config(bench, scratch, bench["experiment"])
    plan = harness.Plan(harness.resolved_config(bench, args.workdir))
    student = plan.student(task, "bench_peer")
    (teacher,) = student.teachers
    targets = [plan.task(task).data_dir, teacher.logits, student.init_dir, teacher.model_dir]
    print(f"[{config['experiment']}] building the teacher, its cache and the student init …", flush=True)
    harness.snakemake(args.workdir, "--configfile", str(bench_path), "--cores", str(args.cores), *targets)
    spec = json.loads(StageSpecs(plan).distill(task, "bench_peer").to_json())
    settings = {**spec["training"], **spec["loss"], "max_length": spec["max_length"], "threads": plan.threads}
    runs: list[dict[str, Any]] = []
    for index in range(args.seeds):
        seed = plan.task(task).seed + index
        order = ("scalingdown", "peer") if index % 2 == 0 else ("peer", "scalingdown")
        for side in order:
            out = scratch / f"{side}-{seed}"
            if side == "scalingdown":
                run = scalingdown_run(plan, task, spec, seed, out, args.workdir)
            else:
                run = peer_process(plan, task, settings, seed, out, args)
            runs.append({"side": side, "seed": seed, **run})
            print(f"  seed {seed} {side}: {run['epoch_s']:.1f} s/epoch, accuracy {run['accuracy']:.4f}", flush=True)
    cache_s = teacher_pass_seconds(plan, task, teacher, plan.threads)
    return {"experiment": config["experiment"], "task": task, "settings": settings, "runs": runs, "cache_s": cache_s}


def scalingdown_run(
    plan: harness.Plan, task: str, spec: dict[str, Any], seed: int, out: Path, workdir: Path
) -> dict[str, Any]:
    """The distill stage as the workflow runs it (cached teacher logits), with training seed `seed`."""
    spec = copy.deepcopy(spec)
    spec["training"]["seed"] = seed
    student = plan.student(task, "bench_peer")
    command = [
        sys.executable,
        "-m",
        "scalingdown",
        "distill",
        "--spec",
        json.dumps(spec),
        "--data",
        plan.task(task).data_dir,
        "--init",
        student.init_dir,
        "--logits",
        *plan.distill_logits(task, "bench_peer"),
        "--out",
        str(out / "model"),
        "--history",
        str(out / "history.json"),
        "--checkpoints",
        str(out / "checkpoints"),
        "--threads",
        str(plan.threads),
    ]
    result = harness.run_measured(command, workdir)
    if result.returncode != 0:
        raise SystemExit(f"distill failed:\n{result.stderr_tail}")
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    runtime = next(entry["train_runtime"] for entry in history if "train_runtime" in entry)
    return {"epoch_s": runtime / spec["training"]["epochs"], "accuracy": test_accuracy(out / "model", plan, task)}


def test_accuracy(model_dir: Path, plan: harness.Plan, task: str) -> float:
    """A trained student's accuracy on the task's test split."""
    from scalingdown.data.store import read_split
    from scalingdown.evaluation.runtime import load_runtime

    test = read_split(plan.task(task).data_dir, "test")
    runtime = load_runtime(model_dir)
    predicted = [runtime.label_names[index] for index in runtime.logits(test["text"].tolist()).argmax(axis=1)]
    return sum(p == g for p, g in zip(predicted, test["label"])) / len(test)


def peer_process(
    plan: harness.Plan, task: str, settings: dict[str, Any], seed: int, out: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One peer run in a process of its own (as the distill stage is)."""
    (teacher,) = plan.student(task, "bench_peer").teachers
    out.mkdir(parents=True, exist_ok=True)
    job = {
        **settings,
        "seed": seed,
        "teacher": teacher.model_dir,
        "init": plan.student(task, "bench_peer").init_dir,
        "data": plan.task(task).data_dir,
        "labels": plan.task(task).labels,
        "torchdistill": str(args.torchdistill) if args.torchdistill else None,
        "out": str(out / "result.json"),
    }
    (out / "job.json").write_text(json.dumps(job), encoding="utf-8")
    command = [sys.executable, str(Path(__file__).resolve()), "--config", "unused", "--peer-job", str(out / "job.json")]
    result = subprocess.run(command, cwd=args.workdir, env=harness.environment(), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"peer run failed:\n{result.stderr[-3000:]}")
    return json.loads((out / "result.json").read_text(encoding="utf-8"))


def peer_run(job: dict[str, Any]) -> None:
    """Train with torchdistill's KDLoss in a plain PyTorch loop, the teacher run on every batch; writes `job['out']`."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    from scalingdown.data.labels import label_ids
    from scalingdown.data.store import read_split

    if job["torchdistill"]:
        sys.path.insert(0, job["torchdistill"])
    from torchdistill.losses.mid_level import KDLoss

    torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    tokenizer = AutoTokenizer.from_pretrained(job["init"])
    student = AutoModelForSequenceClassification.from_pretrained(job["init"], use_safetensors=True)
    teacher = AutoModelForSequenceClassification.from_pretrained(job["teacher"], use_safetensors=True).eval()
    if student.config.id2label != teacher.config.id2label:
        raise SystemExit(
            f"teacher labels {teacher.config.id2label} differ from the student's {student.config.id2label}"
        )
    train = read_split(job["data"], "train")
    encoded = tokenizer(train["text"].tolist(), truncation=True, max_length=job["max_length"])
    targets = torch.tensor(label_ids(train, job["labels"]))
    criterion = KDLoss(
        "logits", "output", "logits", "output", temperature=job["temperature"], alpha=job["ce"], beta=job["kd"]
    )
    decay = [p for n, p in student.named_parameters() if not n.endswith("bias") and "LayerNorm" not in n]
    other = [p for n, p in student.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": job["weight_decay"]}, {"params": other, "weight_decay": 0.0}],
        lr=job["learning_rate"],
    )
    epochs = job["epochs"]
    steps_per_epoch = math.ceil(len(train) / job["batch_size"])
    total = math.ceil(steps_per_epoch * epochs)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(job["warmup_ratio"] * total), total)
    generator = torch.Generator().manual_seed(job["seed"])
    epoch_s, step = [], 0
    student.train()
    while step < total:
        order = torch.randperm(len(train), generator=generator).tolist()
        start = time.perf_counter()
        for offset in range(0, len(order), job["batch_size"]):
            rows = order[offset : offset + job["batch_size"]]
            batch = tokenizer.pad(
                {key: [encoded[key][row] for row in rows] for key in encoded}, padding=True, return_tensors="pt"
            )
            with torch.no_grad():
                teacher_logits = teacher(**batch).logits
            student_logits = student(**batch).logits
            loss = criterion(
                {"logits": {"output": student_logits}}, {"logits": {"output": teacher_logits}}, targets[rows]
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step >= total:
                break
        epoch_s.append(time.perf_counter() - start)
    student.eval()
    test = read_split(job["data"], "test")
    correct = 0
    with torch.no_grad():
        gold = label_ids(test, job["labels"])
        texts = test["text"].tolist()
        for offset in range(0, len(texts), 64):
            batch = tokenizer(
                texts[offset : offset + 64],
                truncation=True,
                max_length=job["max_length"],
                padding=True,
                return_tensors="pt",
            )
            predicted = student(**batch).logits.argmax(dim=1).tolist()
            correct += sum(p == g for p, g in zip(predicted, gold[offset : offset + 64]))
    import torchdistill

    result = {
        "epoch_s": sum(epoch_s) / epochs,
        "accuracy": correct / len(test),
        "peer": f"torchdistill {torchdistill.__version__} KDLoss",
    }
    Path(job["out"]).write_text(json.dumps(result), encoding="utf-8")


def teacher_pass_seconds(plan: harness.Plan, task: str, teacher: Any, threads: int) -> float:
    """One forward pass of the teacher over every split (what building its logit cache costs, once)."""
    import torch

    from scalingdown.data.store import read_split
    from scalingdown.families.classification.predict import predict_logits
    from scalingdown.models.loading import load_classifier, load_tokenizer

    torch.set_num_threads(threads)
    model, tokenizer = load_classifier(teacher.model_ref), load_tokenizer(teacher.model_ref)
    texts = [
        text
        for split in ("train", "validation", "test")
        for text in read_split(plan.task(task).data_dir, split)["text"]
    ]
    start = time.perf_counter()
    predict_logits(model, tokenizer, texts, teacher.spec["max_length"], 64, "teacher pass")
    return time.perf_counter() - start


def _spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{values[0]:.4f}"


def section(results: list[dict[str, Any]], info: dict[str, str]) -> str:
    """The docs section of the peer comparison."""
    parts = ["## 12. Distillation against a peer library (torchdistill)", "", harness.machine_block(info)]
    for result in results:
        runs, settings = result["runs"], result["settings"]
        by_side = {side: [run for run in runs if run["side"] == side] for side in ("scalingdown", "peer")}
        rows = []
        for ours, theirs in zip(by_side["scalingdown"], by_side["peer"]):
            rows.append(
                [
                    ours["seed"],
                    f"{ours['epoch_s']:.1f}",
                    f"{theirs['epoch_s']:.1f}",
                    f"{ours['epoch_s'] / theirs['epoch_s']:.2f}",
                    f"{ours['accuracy']:.4f}",
                    f"{theirs['accuracy']:.4f}",
                ]
            )
        ratio = statistics.median(o["epoch_s"] / t["epoch_s"] for o, t in zip(by_side["scalingdown"], by_side["peer"]))
        ours_acc = [run["accuracy"] for run in by_side["scalingdown"]]
        peer_acc = [run["accuracy"] for run in by_side["peer"]]
        spread = max(statistics.stdev(ours_acc), statistics.stdev(peer_acc)) if len(ours_acc) > 1 else 0.0
        gap = statistics.mean(ours_acc) - statistics.mean(peer_acc)
        parts += [
            "",
            f"### {result['experiment']} / {result['task']} ({by_side['peer'][0]['peer']})",
            "",
            f"Settings (both): {settings['epochs']:g} epochs, batch {settings['batch_size']}, learning rate "
            f"{settings['learning_rate']:g}, warm-up {settings['warmup_ratio']:g}, weight decay "
            f"{settings['weight_decay']:g}, T = {settings['temperature']:g}, CE {settings['ce']:g} + KD "
            f"{settings['kd']:g}, max length {settings['max_length']}, {settings['threads']} threads.",
            "",
            harness.markdown_table(
                [
                    "seed",
                    "ScalingDown s/epoch",
                    "torchdistill s/epoch",
                    "ratio",
                    "ScalingDown accuracy",
                    "torchdistill accuracy",
                ],
                rows,
            ),
            "",
            f"Accuracy: ScalingDown {_spread(ours_acc)}, torchdistill {_spread(peer_acc)} (mean ± sd over seeds). "
            f"ScalingDown's one-time cost, the teacher's pass over every split for its logit cache: "
            f"{result['cache_s']:.1f} s.",
            "",
            harness.markdown_table(
                ["target", "measured", "met"],
                [
                    [
                        f"ScalingDown's epoch ≤ {TARGET_RATIO}× the peer's",
                        f"median ratio {ratio:.2f}",
                        "yes" if ratio <= TARGET_RATIO else "**no**",
                    ],
                    [
                        "accuracy within the seed-to-seed spread",
                        f"difference of means {gap:+.4f}, largest sd {spread:.4f}",
                        "yes" if abs(gap) <= spread else "**no**",
                    ],
                ],
            ),
        ]
    return "\n".join(parts)


if __name__ == "__main__":
    main()
