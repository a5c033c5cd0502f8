"""The causal stages on a small prepared dataset with tiny Llamas: fine-tune, top-k cache, a depth-pruned student,
distill (offline and on-policy), evaluate; stale or tampered caches refused, by `distill` and by the check before it."""

import dataclasses
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from scalingdown.families.causal.models import load_causal
from scalingdown.families.causal.vocabulary import VocabularyMismatch
from scalingdown.kd.logit_store import CacheMismatch, read_fingerprint, read_logits, write_logits
from scalingdown.pipeline.specs.definitions import DistillSpec, EvaluateSpec, FinetuneSpec, InitSpec, TopkLogitsSpec
from scalingdown.stages.check_distill_inputs import check_distill_inputs
from scalingdown.stages.distill import distill
from scalingdown.stages.evaluate import evaluate
from scalingdown.stages.finetune_teacher import finetune_teacher
from scalingdown.stages.init_student import init_student
from scalingdown.stages.teacher_logits import teacher_logits
from tests.families.causal.conftest import TRAINING, text_fields
from tests.families.text2text.conftest import prepared_data


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def entry(root: Path, k: int = 8) -> dict:
    """The teacher as `distill` sees it."""
    return {
        "name": "big",
        "key": "big-1",
        "model": str(root / "teacher"),
        "max_length": 48,
        "logits_key": "big-1.topk-gold",
        "top_k": k,
        "targets": "gold",
        "hidden_layers": {},
    }


def cache(root: Path, data: Path, out: Path, k: int = 8) -> Path:
    fields = entry(root, k)
    teacher_logits(
        TopkLogitsSpec.from_dict(
            {
                **text_fields(),
                "teacher": "big",
                "teacher_key": fields["key"],
                "logits_key": fields["logits_key"],
                "model": fields["model"],
                "label_map": {},
                "labels": None,
                "top_k": k,
                "targets": "gold",
                "hidden_layers": {},
            }
        ),
        str(data),
        str(out),
    )
    return out


@pytest.fixture(scope="module")
def qa(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fine-tuned tiny Llama teacher, its top-k cache, and a student keeping every other of its blocks."""
    root = tmp_path_factory.mktemp("causal")
    data = prepared_data(root / "data", "generative_qa", sizes=(12, 4, 4))
    finetune_teacher(
        FinetuneSpec.from_dict(
            {
                **text_fields(),
                "teacher": "big",
                "model": "tiny:llama-l4-h32",
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
    cache(root, data, root / "cache.parquet")
    init_student(
        InitSpec.from_dict(
            {
                "type": "generative_qa",
                "model": str(root / "teacher"),
                "init": {"method": "teacher_layers", "every": 2},
                "labels": None,
                "seed": 2,
                "format": 1,
                "family": "causal",
            }
        ),
        str(root / "init"),
    )
    return {"root": root, "data": data}


def distill_spec(root: Path, **loss: float) -> DistillSpec:
    return DistillSpec.from_dict(
        {
            **text_fields(),
            "student": "small",
            "training": TRAINING,
            "labels": None,
            "teacher_mode": "cached",
            "weighting": {"method": "uniform"},
            "teachers": [entry(root)],
            "loss": {
                "ce": 0.5,
                "kd": 0.5,
                "temperature": 1.0,
                "hidden": 0.0,
                "hidden_projection": "auto",
                "hidden_map": {},
                **loss,
            },
        }
    )


def run_distill(qa: dict, spec: DistillSpec, name: str, caches: list[Path] | None = None) -> list[dict]:
    root = qa["root"]
    distill(
        spec,
        str(qa["data"]),
        str(root / "init"),
        [str(path) for path in (caches if caches is not None else [root / "cache.parquet"])],
        str(root / name),
        str(root / f"{name}.json"),
        str(root / f"{name}-ck"),
    )
    return json.loads((root / f"{name}.json").read_text())


def test_the_cache_holds_the_top_k_of_every_response_token_with_its_fingerprint(qa: dict):
    frame, fingerprint = read_logits(qa["root"] / "cache.parquet")
    assert len(frame) == 12 and fingerprint["family"] == "causal" and fingerprint["top_k"] == 8
    assert fingerprint["chat_template_sha256"] and fingerprint["weights"] and fingerprint["temperature"] == 1.0
    assert fingerprint["response_tokens"] == sum(len(ids) for ids in frame["target_ids"])
    assert 0 < fingerprint["captured_mass"]["p5"] <= fingerprint["captured_mass"]["mean"] <= 1
    assert all(ids[-1] == 102 for ids in frame["target_ids"])  # every response ends with the EOS ([SEP])


def test_a_pruned_student_distils_from_the_cache_and_is_scored(qa: dict):
    root = qa["root"]
    assert json.loads((root / "init" / "config.json").read_text())["num_hidden_layers"] == 2
    history = run_distill(qa, distill_spec(root), "student")
    logged = [e for e in history if "loss" in e]
    assert logged and all({"loss_ce", "loss_kl"} <= set(e) for e in logged)
    assert any("eval_f1" in e for e in history)
    saved = json.loads((root / "student" / "generation_config.json").read_text())
    assert saved["eos_token_id"] == 102 and (root / "student" / "tokenizer_config.json").is_file()
    card = (root / "student" / "README.md").read_text()
    fingerprint = read_fingerprint(root / "cache.parquet")
    assert "top-8 log-probabilities" in card and fingerprint["weights"][:16] in card and "gold-only twin" in card
    spec = EvaluateSpec.from_dict(
        {
            **text_fields(),
            "task": "t",
            "kind": "student",
            "name": "small",
            "model": "small",
            "role": "student",
            "labels": None,
            "batch_size": 4,
            "reference": str(root / "teacher"),
        }
    )
    record = evaluate(spec, str(qa["data"]), str(root / "student"), str(root / "eval.json"))
    metrics = record["metrics"]
    assert 0.0 <= metrics["f1"] <= 1.0 and metrics["perplexity"] > 1.0 and len(record["examples"]) == 4
    assert 0 < metrics["kl_to_teacher_mean"] <= metrics["kl_to_teacher_p99"] and 0 <= metrics["top1_agreement"] <= 1
    itself = evaluate(spec, str(qa["data"]), str(root / "teacher"), str(root / "teacher-eval.json"))["metrics"]
    assert abs(itself["kl_to_teacher_mean"]) < 1e-5 and itself["top1_agreement"] == 1.0  # the teacher against itself


def test_on_policy_steps_learn_the_teachers_scores_of_the_students_samples(qa: dict):
    history = run_distill(qa, distill_spec(qa["root"], on_policy=1.0), "on-policy")
    steps = max(e["step"] for e in history if "step" in e)
    assert {"on_policy_steps": steps} in history  # every step (12 rows, batches of 4) sampled by the student
    assert all(e["loss_ce"] == 0 for e in history if "loss_ce" in e)  # sampled answers have no gold: CE off


def test_a_tampered_cache_is_refused_naming_the_column(qa: dict, tmp_path: Path):
    frame, fingerprint = read_logits(qa["root"] / "cache.parquet")
    fingerprint.pop("content")
    write_logits(tmp_path / "cache.parquet", frame, fingerprint)
    edited = frame.copy()
    edited.at[0, "topk_logprobs"] = edited.at[0, "topk_logprobs"] * 0.5
    table = pq.read_table(tmp_path / "cache.parquet")
    write_logits(tmp_path / "edited.parquet", edited, fingerprint)
    tampered = pq.read_table(tmp_path / "edited.parquet").replace_schema_metadata(table.schema.metadata)
    pq.write_table(tampered, tmp_path / "tampered.parquet")
    with pytest.raises(CacheMismatch, match="the values of column `topk_logprobs` differ"):
        run_distill(qa, distill_spec(qa["root"]), "tampered", [tmp_path / "tampered.parquet"])


def test_a_cache_of_another_k_or_chat_template_is_refused_naming_the_field(qa: dict, tmp_path: Path):
    other_k = cache(qa["root"], qa["data"], tmp_path / "k4.parquet", k=4)
    with pytest.raises(CacheMismatch, match="fingerprint field `top_k` is 4, expected 8"):
        run_distill(qa, distill_spec(qa["root"]), "other-k", [other_k])
    frame, fingerprint = read_logits(qa["root"] / "cache.parquet")
    stale = {**{k: v for k, v in fingerprint.items() if k != "content"}, "chat_template_sha256": "0" * 64}
    write_logits(tmp_path / "template.parquet", frame, stale)
    with pytest.raises(CacheMismatch, match="fingerprint field `chat_template_sha256`"):
        run_distill(qa, distill_spec(qa["root"]), "other-template", [tmp_path / "template.parquet"])
    assert read_fingerprint(tmp_path / "template.parquet")["chat_template_sha256"] == "0" * 64
    retrained = {**{k: v for k, v in fingerprint.items() if k != "content"}, "weights": "0" * 64}
    write_logits(tmp_path / "weights.parquet", frame, retrained)
    with pytest.raises(CacheMismatch, match="fingerprint field `weights` is '0000"):
        run_distill(qa, distill_spec(qa["root"]), "other-weights", [tmp_path / "weights.parquet"])


def test_a_teacher_that_tokenises_differently_is_refused_before_training(qa: dict, tmp_path: Path):
    frame, fingerprint = read_logits(qa["root"] / "cache.parquet")
    other = {k: v for k, v in fingerprint.items() if k != "content"}
    other["vocabulary"] = {**other["vocabulary"], "vocab_sha256": "f" * 64}
    write_logits(tmp_path / "vocab.parquet", frame, other)
    with pytest.raises(VocabularyMismatch, match=r"teacher big \(.*\) and student small .* tokenise differently"):
        run_distill(qa, distill_spec(qa["root"]), "other-vocab", [tmp_path / "vocab.parquet"])
    assert not (qa["root"] / "other-vocab").exists()


def test_the_check_before_distill_refuses_what_distill_refuses_without_loading_weights(
    qa: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def no_weights(*args: object, **kwargs: object) -> None:
        raise AssertionError("check_distill_inputs loaded a model's weights")

    monkeypatch.setattr("scalingdown.families.causal.family.load_causal", no_weights)
    root, data, init = qa["root"], str(qa["data"]), str(qa["root"] / "init")
    spec = distill_spec(root, on_policy=1.0)  # the on-policy teacher's vocabulary is checked too
    check_distill_inputs(spec, data, init, [str(root / "cache.parquet")], str(tmp_path / "checked.json"))
    assert json.loads((tmp_path / "checked.json").read_text())["logits"] == [str(root / "cache.parquet")]
    frame, fingerprint = read_logits(root / "cache.parquet")
    other = {k: v for k, v in fingerprint.items() if k != "content"}
    write_logits(
        tmp_path / "vocab.parquet", frame, {**other, "vocabulary": {**other["vocabulary"], "vocab_sha256": "f" * 64}}
    )
    with pytest.raises(VocabularyMismatch, match=r"teacher big \(.*\) and student small .* tokenise differently"):
        check_distill_inputs(spec, data, init, [str(tmp_path / "vocab.parquet")], str(tmp_path / "refused.json"))
    write_logits(tmp_path / "template.parquet", frame, {**other, "chat_template_sha256": "0" * 64})
    with pytest.raises(CacheMismatch, match="fingerprint field `chat_template_sha256`"):
        check_distill_inputs(spec, data, init, [str(tmp_path / "template.parquet")], str(tmp_path / "refused.json"))
    assert not (tmp_path / "refused.json").exists()


def test_a_gold_only_twin_trains_without_a_cache(qa: dict):
    spec = dataclasses.replace(distill_spec(qa["root"]), teachers=[])
    history = run_distill(qa, spec, "twin", caches=[])
    assert all("loss_kl" not in e for e in history) and any("loss_ce" in e for e in history)


@pytest.mark.parametrize("task_type", ["multiple_choice", "math"])
def test_options_are_scored_and_rationales_generated_by_a_causal_model(task_type: str, tmp_path: Path):
    data = prepared_data(tmp_path / "data", task_type, sizes=(4, 2, 4))
    model = tmp_path / "model"
    init_student(
        InitSpec.from_dict(
            {
                "type": task_type,
                "model": "tiny:llama-l1-h16",
                "init": {"method": "scratch"},
                "labels": None,
                "seed": 2,
                "format": 1,
                "family": "causal",
            }
        ),
        str(model),
    )
    fields = {**text_fields(task_type), "max_target_length": 12}
    spec = EvaluateSpec.from_dict(
        {
            **fields,
            "task": "t",
            "kind": "student",
            "name": "s",
            "model": "s",
            "role": "student",
            "labels": None,
            "batch_size": 2,
            "option_score": "mean" if task_type == "multiple_choice" else "sum",
        }
    )
    metrics = evaluate(spec, str(data), str(model), str(tmp_path / "eval.json"))["metrics"]
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert ("perplexity" in metrics) == (task_type == "math")  # options have no single gold response to score


def test_a_lora_fine_tuned_causal_teacher_is_saved_with_its_adapters_merged(tmp_path: Path):
    data = prepared_data(tmp_path / "data", "generative_qa", sizes=(8, 4, 4))
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    finetune_teacher(
        FinetuneSpec.from_dict(
            {
                **text_fields(),
                "teacher": "big",
                "model": "tiny:llama-l2-h32",
                "training": {**TRAINING, "learning_rate": 1.0e-2},
                "method": "lora",
                "lora": lora,
                "label_map": {},
                "labels": None,
                "seed": 1,
            }
        ),
        str(data),
        str(tmp_path / "teacher"),
        str(tmp_path / "teacher.json"),
        str(tmp_path / "tck"),
    )
    saved = load_file(tmp_path / "teacher" / "model.safetensors")
    assert not any("lora" in name for name in saved)
    base = load_causal("tiny:llama-l2-h32", seed=1).state_dict()
    changed = [name for name, value in saved.items() if not torch.equal(value, base[name])]
    assert changed and all(name.endswith(("q_proj.weight", "v_proj.weight")) for name in changed)
