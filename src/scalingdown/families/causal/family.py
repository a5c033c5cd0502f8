"""The causal family: decoder-only language models (Llama, Qwen, SmolLM, …) that read a prompt — through the
tokenizer's chat template — and continue it with the response, distilled from their teachers' top-k distributions
over every response token.

The members the stages call (`families.interface.ModelFamily`); the work is done by the modules beside it: loading and
depth pruning (`models`), the chat template and token ids (`chat`, `rows`), batches (`batches`), the top-k cache
(`topk`, `teacher_cache`) and the tokenizer gate (`vocabulary`), the fit (`fit`, `on_policy`) and scoring
(`scoring`).
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
from transformers import PreTrainedModel

from scalingdown.data.store import read_split
from scalingdown.evaluation.sizes import local_size_mb
from scalingdown.evaluation.timing import Timeable
from scalingdown.families.causal.batches import pad_id
from scalingdown.families.causal.card import model_card
from scalingdown.families.causal.chat import eos_ids
from scalingdown.families.causal.fit import fit_causal
from scalingdown.families.causal.models import keep_blocks, load_causal
from scalingdown.families.causal.on_policy import OnPolicy
from scalingdown.families.causal.rows import encoded_split
from scalingdown.families.causal.scoring import (
    GenerationTimer,
    answerer,
    causal_task_scores,
    perplexity,
    teacher_agreement,
)
from scalingdown.families.causal.teacher_cache import load_teacher_rows, write_teacher_cache
from scalingdown.families.causal.vocabulary import config_vocabulary, shared_size, vocabulary
from scalingdown.families.interface import GOLD_ONLY, Scores, Trained, TrainingJob
from scalingdown.families.text2text.family import text_task
from scalingdown.families.text2text.scoring import QuestionTimer, examples
from scalingdown.models.layers import kept_layers
from scalingdown.models.loading import count_parameters, inference_device, load_config, load_tokenizer
from scalingdown.pipeline.names.families import CAUSAL, FAMILIES
from scalingdown.pipeline.specs.codec import SpecError
from scalingdown.pipeline.specs.definitions import (
    BenchmarkModel,
    DistillSpec,
    EvaluateSpec,
    FinetuneSpec,
    InitSpec,
    LogitsSpec,
    TextTask,
    TopkLogitsSpec,
)
from scalingdown.training.trainer import ValidationScores

info = FAMILIES[CAUSAL]
pipeline_tag = "text-generation"


def validation_scorer(
    tokenizer: Any, task_type: str, text: TextTask, max_length: int, data: str, batch_size: int
) -> ValidationScores:
    """The task's metrics of a model on the validation split (as `score` scores the test split): what the kept
    checkpoint is selected by."""
    validation = read_split(data, "validation")

    def score(model: Any) -> dict[str, float]:
        answer = answerer(model, tokenizer, task_type, text, max_length, validation, batch_size)
        return causal_task_scores(task_type, validation, answer(list(range(len(validation))), None), tokenizer)

    return score


# -- teachers ----------------------------------------------------------------------------------------------------------
def fit_teacher(spec: FinetuneSpec, data: str, job: TrainingJob) -> Trained:
    """Fine-tune a causal LM on the task's gold responses (LoRA when the job says so)."""
    text = text_task(spec.text, "finetune_teacher")
    tokenizer = load_tokenizer(spec.model)
    model = load_causal(spec.model, seed=spec.seed)
    batch = max(64, job.training.batch_size)
    run = fit_causal(
        model,
        tokenizer,
        data,
        text,
        spec.type,
        spec.max_length,
        job.training,
        GOLD_ONLY,
        job.checkpoints,
        job.resume_key,
        validation_scorer(tokenizer, spec.type, text, spec.max_length, data, batch),
        lora=job.lora,
    )
    return Trained(model, tokenizer, run)


def cache_teacher(
    spec: LogitsSpec | TopkLogitsSpec, data: str, out: str, batch_size: int, experiment: str | None
) -> None:
    """The teacher's top-k distribution on every train response token (`teacher_cache`)."""
    if not isinstance(spec, TopkLogitsSpec):
        raise SpecError("teacher_logits: a causal task's spec has `top_k` and `targets`")
    write_teacher_cache(spec, text_task(spec.text, "teacher_logits"), data, out, batch_size, experiment)


# -- students ----------------------------------------------------------------------------------------------------------
def build_student(spec: InitSpec) -> PreTrainedModel:
    """The initial student: pretrained, from scratch, or a subset of the model's decoder blocks (`teacher_layers`)."""
    model = load_causal(spec.model, seed=spec.seed, pretrained=spec.init.method != "scratch")
    if spec.init.method == "teacher_layers":
        model = keep_blocks(model, kept_layers(spec.init, int(model.config.num_hidden_layers)))
    return model


def fit_student(spec: DistillSpec, data: str, init: str, logits: list[str], job: TrainingJob) -> Trained:
    """Train the student from its teachers' top-k caches (checked against the data, the settings and the student's
    vocabulary first) — and, with `loss.on_policy`, on its own samples scored by the teacher — or on gold alone."""
    text = text_task(spec.text, "distill")
    tokenizer = load_tokenizer(init)
    model = load_causal(init)
    cached = load_teacher_rows(spec, data, logits, vocabulary(model, tokenizer), f"{spec.student} ({init})", tokenizer)
    teachers, shared = cached.rows, cached.shared
    on_policy = _on_policy(spec, model, tokenizer, shared) if teachers and spec.loss.on_policy else None
    batch = max(64, job.training.batch_size)
    run = fit_causal(
        model,
        tokenizer,
        data,
        text,
        spec.type,
        spec.max_length,
        job.training,
        spec.loss,
        job.checkpoints,
        job.resume_key,
        validation_scorer(tokenizer, spec.type, text, spec.max_length, data, batch),
        teachers=teachers,
        shared=shared,
        weighting=spec.weighting,
        on_policy=on_policy,
    )
    if on_policy is not None:
        run.history.append({"on_policy_steps": on_policy.steps})
    return Trained(model, tokenizer, run, model_card(spec, data, cached.fingerprints, run))


def _on_policy(spec: DistillSpec, model: Any, tokenizer: Any, shared: int | None) -> OnPolicy:
    """The on-policy sampler of `spec` (one teacher, loaded here: the one case where `distill` loads a teacher)."""
    (teacher,) = spec.teachers
    shared = _on_policy_shared(spec, vocabulary(model, tokenizer))
    teacher_model = load_causal(teacher.model).to(model.device)
    seed = spec.training.seed if spec.training.seed is not None else 0
    text = text_task(spec.text, "distill")
    return OnPolicy(
        teacher_model,
        float(spec.loss.on_policy),
        seed,
        int(teacher.top_k or 32),
        shared,
        text.max_target_length,
        pad_id(tokenizer),
        eos_ids(tokenizer, model.generation_config),
    )


def _on_policy_shared(spec: DistillSpec, student_vocabulary: dict[str, Any]) -> int:
    """The vocabulary the on-policy teacher shares with the student (the tokenizer gate, from the teacher's config and
    tokenizer)."""
    (teacher,) = spec.teachers
    teacher_vocabulary = config_vocabulary(load_config(teacher.model), load_tokenizer(teacher.model))
    return shared_size(teacher.name, teacher_vocabulary, spec.student, student_vocabulary)


def check_student_inputs(spec: DistillSpec, data: str, init: str, logits: list[str]) -> None:
    """The teachers' top-k caches, checked against the data, the teachers' settings, the student's chat template and
    its vocabulary (read from its config and tokenizer, no weights loaded) as `fit_student` checks them, and the
    on-policy teacher's vocabulary against the student's."""
    tokenizer = load_tokenizer(init)
    student = config_vocabulary(load_config(init), tokenizer)
    cached = load_teacher_rows(spec, data, logits, student, f"{spec.student} ({init})", tokenizer)
    if cached.rows and spec.loss.on_policy:
        _on_policy_shared(spec, student)


# -- scoring and timing -----------------------------------------------------------------------------------------------
def score(spec: EvaluateSpec, data: str, model: str) -> Scores:
    """The task type's metrics on the test split, by generation or option scoring, and the perplexity of the gold
    responses."""
    if spec.variant is not None:
        raise SpecError(f"evaluate: a causal LM has no export {spec.variant!r}")
    text = text_task(spec.text, "evaluate")
    tokenizer = load_tokenizer(model)
    network = cast(Any, load_causal(model)).to(inference_device())
    test = read_split(data, "test")
    answer = answerer(network, tokenizer, spec.type, text, spec.max_length, test, spec.batch_size)
    answers = answer(list(range(len(test))), "test")
    metrics = causal_task_scores(spec.type, test, answers, tokenizer)
    if spec.type != "multiple_choice":
        _, prompts, responses = encoded_split(data, "test", spec.type, text, tokenizer, spec.max_length)
        gold = [r or [] for r in responses]
        metrics["perplexity"] = perplexity(network, prompts, gold, spec.batch_size)
        if spec.reference is not None:
            metrics.update(_agreement(network, tokenizer, spec.reference, prompts, gold, spec.batch_size))
    fields = {
        "type": spec.type,
        "test_rows": len(test),
        "labels": None,
        "metrics": metrics,
        "examples": examples(test, spec.type, text.prompt, answers),
        "params": count_parameters(network),
        "size_mb": local_size_mb(model),
    }
    return Scores(fields, ", ".join(f"{key} {value:.4f}" for key, value in metrics.items()))


def _agreement(
    student: Any, tokenizer: Any, teacher: str, prompts: list[list[int]], gold: list[list[int]], batch_size: int
) -> dict[str, float]:
    """Per-token KL to `teacher` and top-1 agreement of `student` on the test split's gold responses (after the
    tokenizer gate)."""
    teacher_model = cast(Any, load_causal(teacher)).to(student.device)
    shared = shared_size(
        teacher,
        vocabulary(teacher_model, load_tokenizer(teacher)),
        "the evaluated model",
        vocabulary(student, tokenizer),
    )
    return teacher_agreement(student, teacher_model, prompts, gold, shared, batch_size, pad_id(tokenizer))


def timing_inputs(test: pd.DataFrame) -> list[Any]:
    """The test split's row indices: a causal LM is timed per question, encoded once beforehand."""
    return list(range(len(test)))


def timeable(
    entry: BenchmarkModel, task_type: str, location: str, data: str, threads: int, batch_size: int
) -> Timeable:
    """A causal LM answering questions of the test split (and, unless it scores options, timed generating their
    responses: `evaluation.generation_speed`)."""
    text = text_task(entry.text, "benchmark")
    tokenizer = load_tokenizer(location)
    network = load_causal(location).eval()
    test = read_split(data, "test")
    if task_type == "multiple_choice":
        return QuestionTimer(answerer(network, tokenizer, task_type, text, entry.max_length, test, batch_size))
    return GenerationTimer(network, tokenizer, task_type, text, entry.max_length, test, batch_size)


def card_usage(variant: str) -> str:
    """A causal LM through transformers (its students have no export variants), or `generate` from a shell."""
    return (
        "from transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained(DIRECTORY)\n"
        "# or, from a shell: scalingdown generate --model DIRECTORY --input prompts.csv --output answers.csv"
    )
