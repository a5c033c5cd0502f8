"""The seq2seq stages on small prepared datasets: fine-tune, top-k cache, distill, evaluate; LoRA; refusals."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from scalingdown.families.text2text.fit import Seq2SeqKDCollator
from scalingdown.kd.logit_store import read_logits, write_logits
from scalingdown.models.loading import load_seq2seq, load_tokenizer
from scalingdown.pipeline.specs.definitions import (
    BenchmarkModel,
    BenchmarkSettings,
    BenchmarkSpec,
    DistillSpec,
    EvaluateSpec,
    ExportSpec,
    FinetuneSpec,
)
from scalingdown.stages.benchmark import benchmark
from scalingdown.stages.distill import distill
from scalingdown.stages.evaluate import evaluate
from scalingdown.stages.export import export
from scalingdown.stages.finetune_teacher import finetune_teacher
from tests.conftest import scalingdown
from tests.families.text2text.conftest import (
    TRAINING,
    distill_spec,
    prepared_data,
    text_fields,
    write_student,
    write_topk_cache,
)


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def qa(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fine-tuned tiny QA teacher, its gold-target and generated-target caches and a student init."""
    root = tmp_path_factory.mktemp("qa")
    data = prepared_data(root / "data", "generative_qa", sizes=(12, 4, 4))
    finetune_teacher(
        FinetuneSpec.from_dict(
            {
                **text_fields("generative_qa"),
                "teacher": "big",
                "model": "tiny:t5-l2-h32",
                "training": TRAINING,
                "method": "full",
                "lora": None,
                "label_map": {},
                "labels": None,
                "seed": 1,
            }
        ),
        str(data),
        str(root / "teacher"),
        str(root / "teacher.json"),
        str(root / "tck"),
    )
    gold, entry = write_topk_cache(root, data, "generative_qa", str(root / "teacher"), "gold")
    generated, generated_entry = write_topk_cache(root, data, "generative_qa", str(root / "teacher"), "generated")
    return {
        "root": root,
        "data": data,
        "gold": gold,
        "entry": entry,
        "generated": generated,
        "generated_entry": generated_entry,
        "init": write_student(root, "generative_qa"),
    }


def _distill_and_evaluate(
    root: Path, data: Path, task_type: str, init: Path, cache: Path, entry: dict, metric: str
) -> None:
    distill(
        distill_spec(task_type, [entry]),
        str(data),
        str(init),
        [str(cache)],
        str(root / "student"),
        str(root / "student.json"),
        str(root / "sck"),
    )
    history = json.loads((root / "student.json").read_text())
    logged = [entry for entry in history if "loss" in entry]
    assert logged and all({"loss_ce", "loss_kl", "loss_hidden"} <= set(e) for e in logged)
    assert any("eval_loss" in entry for entry in history)
    scores = [(entry["step"], entry[f"eval_{metric}"]) for entry in history if f"eval_{metric}" in entry]
    assert scores, f"every evaluation scores the validation split by the task's {metric}"
    kept = json.loads((root / "student" / "best-checkpoint.json").read_text())
    best = max(range(len(scores)), key=lambda i: (scores[i][1], -i))
    assert (kept["metric"], kept["step"], kept["score"]) == (f"eval_{metric}", *scores[best])
    saved = load_file(root / "student" / "model.safetensors")
    assert not any("kd_projections" in name for name in saved), "hidden-state projections are not part of the model"
    assert not (root / "sck").exists()
    spec = EvaluateSpec.from_dict(
        {
            **text_fields(task_type),
            "task": "t",
            "kind": "student",
            "name": "small",
            "model": "small",
            "role": "student",
            "labels": None,
            "batch_size": 4,
        }
    )
    record = evaluate(spec, str(data), str(root / "student"), str(root / "eval.json"))
    assert 0.0 <= record["metrics"][metric] <= 1.0 and record["variant"] == "fp32" and "speed" not in record
    assert record["checkpoint"] == kept
    assert record["params"] < 1_000_000 and len(record["examples"]) == 4
    _ship_and_time(root, data, task_type, spec, record, memory=task_type == "generative_qa")


def _ship_and_time(root: Path, data: Path, task_type: str, spec: EvaluateSpec, fp32: dict, memory: bool) -> None:
    """The student's PyTorch int8 export, scored like the student and timed with it per question."""
    export(
        ExportSpec(task="t", student="small", variant="torch-int8", format=1), str(root / "student"), str(root / "int8")
    )
    int8 = evaluate(
        dataclasses.replace(spec, variant="torch-int8"), str(data), str(root / "int8"), str(root / "int8.json")
    )
    assert int8["variant"] == "torch-int8" and set(int8["metrics"]) == set(fp32["metrics"])
    assert int8["params"] == fp32["params"] and int8["size_mb"] > 0
    models = [
        BenchmarkModel(
            id=f"student.small{suffix}", kind=kind, name="small", variant=variant, max_length=48, text=spec.text
        )
        for suffix, kind, variant in (("", "student", "fp32"), (".torch-int8", "export", "torch-int8"))
    ]
    settings = BenchmarkSettings(warmup=1, runs=6, rounds=6, batch_size=2, threads=1, memory=memory)
    bench = BenchmarkSpec(type=task_type, task="t", models=models, settings=settings)
    record = benchmark(bench, str(data), [str(root / "student"), str(root / "int8")], [], str(root / "bench.json"))
    assert (
        record["unit"] == "question" and record["reference"] == "student.small" and not record["reference_is_teacher"]
    )
    assert record["inputs"] == 4 and record["models"]["student.small.torch-int8"]["calls"] == 6
    assert all(entry["throughput_per_s"] > 0 for entry in record["models"].values())
    if memory:
        peak = record["models"]["student.small.torch-int8"]["memory"]
        assert peak["model_peak_mb"] > 0 and "float32 weights" in record["memory_note"]


@pytest.mark.slow
def test_qa_teacher_cache_distill_and_evaluate(qa: dict):
    frame, fingerprint = read_logits(qa["gold"])
    assert fingerprint["top_k"] == 8 and fingerprint["targets"] == "gold" and set(frame["split"]) == {"train"}
    assert fingerprint["vocabulary"]["config_vocab_size"] == 30522 and fingerprint["max_target_length"] == 12
    validation = fingerprint["validation"]
    assert validation["rows"] == 4 and validation["tokens"] > 4 and validation["perplexity"] > 1
    _distill_and_evaluate(qa["root"], qa["data"], "generative_qa", qa["init"], qa["gold"], qa["entry"], "f1")


@pytest.mark.slow
@pytest.mark.parametrize(("task_type", "targets"), [("multiple_choice", "gold"), ("math", "generated")])
def test_multiple_choice_and_math_distill_and_evaluate(tmp_path: Path, task_type, targets):
    data = prepared_data(tmp_path / "data", task_type, sizes=(8, 4, 4))
    cache, entry = write_topk_cache(tmp_path, data, task_type, "tiny:t5-l2-h32", targets)
    _distill_and_evaluate(tmp_path, data, task_type, write_student(tmp_path, task_type), cache, entry, "accuracy")


@pytest.mark.slow
def test_every_divergence_and_weighting_distils_a_text_to_text_student_from_two_teachers(qa: dict, tmp_path: Path):
    """Two teachers (one cache under two names), each non-default divergence with another weighting: the history
    logs the divergence's term, finite; validation weighting reads the scores the caches record."""
    second = {**qa["entry"], "name": "twin"}
    runs = [
        ({"divergence": "reverse_kl"}, {"method": "fixed", "weights": {"big": 3, "twin": 1}}),
        ({"divergence": "jsd", "beta": 0.5}, {"method": "validation"}),
        ({"divergence": "skew_kl", "alpha": 0.1}, {"method": "confidence"}),
        ({"divergence": "skew_reverse_kl", "alpha": 0.1}, {"method": "uniform"}),
    ]
    for divergence, weighting in runs:
        described = distill_spec("generative_qa", [qa["entry"], second], hidden=0.0).to_dict()
        described["loss"].update(divergence)
        described.update(weighting=weighting, training={**TRAINING, "eval_steps": 50})
        out = tmp_path / divergence["divergence"]
        distill(
            DistillSpec.from_dict(described),
            str(qa["data"]),
            str(qa["init"]),
            [str(qa["gold"])] * 2,
            str(out / "model"),
            str(out / "history.json"),
            str(out / "ck"),
        )
        term = f"loss_{divergence['divergence']}"
        logged = [entry[term] for entry in json.loads((out / "history.json").read_text()) if "loss" in entry]
        assert logged and all(np.isfinite(logged)) and min(logged) >= 0, (divergence, logged)


@pytest.mark.slow
def test_a_generated_target_cache_holds_the_teachers_own_generations(qa: dict):
    gold, _ = read_logits(qa["gold"])
    generated, fingerprint = read_logits(qa["generated"])
    assert fingerprint["targets"] == "generated"
    assert [ids.tolist() for ids in generated["target_ids"]] != [ids.tolist() for ids in gold["target_ids"]]
    assert all(1 <= len(ids) <= 12 for ids in generated["target_ids"])
    assert all(len(ids) * 8 == len(top) for ids, top in zip(generated["target_ids"], generated["topk_ids"]))


@pytest.mark.slow
def test_distill_refuses_a_teacher_with_another_vocabulary_before_training(qa: dict, tmp_path: Path):
    frame, fingerprint = read_logits(qa["gold"])
    forged = tmp_path / "forged.parquet"
    other = {"config_vocab_size": 32128, "vocab_size": 32100, "vocab_sha256": "0" * 64}
    write_logits(forged, frame, {**fingerprint, "model": "hub:t5-large", "vocabulary": other})
    result = scalingdown(
        "distill",
        "--spec",
        distill_spec("generative_qa", [qa["entry"]], hidden=0.0).to_json(),
        "--data",
        str(qa["data"]),
        "--init",
        str(qa["init"]),
        "--logits",
        str(forged),
        "--out",
        str(tmp_path / "student"),
        "--history",
        str(tmp_path / "h.json"),
        "--checkpoints",
        str(tmp_path / "ck"),
    )
    assert result.returncode == 2, result.stderr
    assert "teacher big (hub:t5-large) and student small" in result.stderr
    assert "config.vocab_size 32128 vs 30522" in result.stderr
    assert not (tmp_path / "student").exists() and not (tmp_path / "ck").exists()


@pytest.mark.slow
def test_lora_fine_tuning_merges_the_adapters_into_the_saved_weights(tmp_path: Path):
    data = prepared_data(tmp_path / "data", "generative_qa", sizes=(8, 2, 2))
    spec = FinetuneSpec.from_dict(
        {
            **text_fields("generative_qa"),
            "teacher": "big",
            "model": "tiny:t5-l1-h16",
            "label_map": {},
            "labels": None,
            "seed": 1,
            "training": {**TRAINING, "learning_rate": 1.0e-2},
            "method": "lora",
            "lora": {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0},
        }
    )
    finetune_teacher(spec, str(data), str(tmp_path / "teacher"), str(tmp_path / "h.json"), str(tmp_path / "ck"))
    saved = load_file(tmp_path / "teacher" / "model.safetensors")
    assert not any("lora" in name for name in saved), "adapters are merged, not saved separately"
    before = load_seq2seq("tiny:t5-l1-h16", seed=1).state_dict()
    changed = [name for name, value in saved.items() if name in before and not torch.equal(value, before[name])]
    assert changed and all(name.endswith(("q.weight", "v.weight")) for name in changed), changed


def test_the_collator_pads_teacher_rows_to_the_batch_target_length():
    tokenizer = load_tokenizer("tiny:t5-l1-h16")
    model = load_seq2seq("tiny:t5-l1-h16")
    features = [
        {
            "input_ids": [5, 6, 102],
            "attention_mask": [1, 1, 1],
            "labels": [7, 102],
            "teacher_0_topk_ids": [7, 8, 102, 9],
            "teacher_0_topk_logprobs": [-0.1, -2.0, -0.2, -1.5],
            "teacher_0_tail_mass": [0.05, 0.1],
            "teacher_0_hidden_encoder_1": [1.0, 2.0],
        },
        {
            "input_ids": [5, 102],
            "attention_mask": [1, 1],
            "labels": [7, 8, 9, 102],
            "teacher_0_topk_ids": [7, 1] * 4,
            "teacher_0_topk_logprobs": [-0.3, -1.0] * 4,
            "teacher_0_tail_mass": [0.2] * 4,
            "teacher_0_hidden_encoder_1": [3.0, 4.0],
        },
    ]
    batch = Seq2SeqKDCollator(tokenizer, model, top_ks=[2], hidden_states=True)(features)
    assert batch["labels"].tolist() == [[7, 102, -100, -100], [7, 8, 9, 102]]
    assert batch["decoder_input_ids"][0].tolist() == [0, 7, 102, 0]
    assert batch["teacher_0_topk_ids"].shape == (2, 4, 2) and batch["teacher_0_topk_ids"].dtype == torch.int64
    assert batch["teacher_0_topk_ids"][0, 1].tolist() == [102, 9]
    assert batch["teacher_0_topk_logprobs"][0, 2:].abs().sum() == 0 and batch["teacher_0_tail_mass"].shape == (2, 4)
    assert np.allclose(batch["teacher_0_hidden_encoder_1"].numpy(), [[1, 2], [3, 4]])
    assert batch["source_mask"].tolist() == [[1, 1, 1], [1, 1, 0]] and batch["output_hidden_states"] is True
