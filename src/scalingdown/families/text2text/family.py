"""The text-to-text family: encoder-decoder models (T5, Flan-T5, BERT2BERT) that read a prompt rendered from a row and
write its target, distilled from their teachers' top-k distributions over every target token.

The members the stages call (`families.interface.ModelFamily`); the work is done by the modules beside it: the
formats (`formats`) and token ids (`rows`) of prepared rows, inference (`inference`), the top-k cache columns
(`topk`) and the teachers' caches (`teacher_cache`), the fit (`fit`) and scoring (`scoring`).
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
from transformers import EncoderDecoderModel, PreTrainedModel

from scalingdown.data.store import read_split
from scalingdown.evaluation.exporters import load_torch_int8
from scalingdown.evaluation.timing import Timeable
from scalingdown.families.interface import GOLD_ONLY, Scores, Trained, TrainingJob
from scalingdown.families.text2text.fit import fit_seq2seq
from scalingdown.families.text2text.scoring import QuestionTimer, answerer, score_model
from scalingdown.families.text2text.teacher_cache import load_teacher_rows, write_teacher_cache
from scalingdown.families.text2text.topk import config_vocabulary, vocabulary
from scalingdown.models.encoder_decoder import select_layers
from scalingdown.models.layers import kept_layers
from scalingdown.models.loading import load_config, load_seq2seq, load_tokenizer
from scalingdown.pipeline.names.export_variants import ORIGINAL
from scalingdown.pipeline.names.families import FAMILIES, TEXT2TEXT
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

info = FAMILIES[TEXT2TEXT]
pipeline_tag = "text2text-generation"


def text_task(text: TextTask | None, stage: str) -> TextTask:
    """The prompt and target length a text-to-text spec carries; `SpecError` when it lacks them."""
    if text is None:
        raise SpecError(f"{stage}: a text-to-text spec needs `prompt` and `max_target_length`")
    return text


# -- teachers ----------------------------------------------------------------------------------------------------------
def fit_teacher(spec: FinetuneSpec, data: str, job: TrainingJob) -> Trained:
    """Fine-tune an encoder-decoder on the task's gold targets."""
    tokenizer = load_tokenizer(spec.model)
    model = load_seq2seq(spec.model, seed=spec.seed)
    run = fit_seq2seq(
        model,
        tokenizer,
        data,
        text_task(spec.text, "finetune_teacher"),
        spec.type,
        spec.max_length,
        job.training,
        GOLD_ONLY,
        checkpoints=job.checkpoints,
        resume_key=job.resume_key,
        lora=job.lora,
    )
    return Trained(model, tokenizer, run)


def cache_teacher(
    spec: LogitsSpec | TopkLogitsSpec, data: str, out: str, batch_size: int, experiment: str | None
) -> None:
    """The teacher's top-k distribution on every train target token (`teacher_cache`)."""
    if not isinstance(spec, TopkLogitsSpec):
        raise SpecError("teacher_logits: a text-to-text task's spec has `top_k` and `targets`")
    write_teacher_cache(spec, text_task(spec.text, "teacher_logits"), data, out, batch_size, experiment)


# -- students ----------------------------------------------------------------------------------------------------------
def build_student(spec: InitSpec) -> PreTrainedModel:
    """The initial student: pretrained, from scratch, or (a BERT2BERT model) the same blocks of encoder and decoder."""
    init = spec.init
    model = load_seq2seq(spec.model, seed=spec.seed, pretrained=init.method != "scratch")
    if init.method == "teacher_layers":
        model = select_layers(
            cast(EncoderDecoderModel, model), kept_layers(init, int(model.config.encoder.num_hidden_layers))
        )
    return model


def fit_student(spec: DistillSpec, data: str, init: str, logits: list[str], job: TrainingJob) -> Trained:
    """Train the student from its teachers' top-k caches (checked against the data and the student's vocabulary
    first), or on gold targets alone."""
    tokenizer = load_tokenizer(init)
    model = load_seq2seq(init)
    teachers = load_teacher_rows(spec, data, logits, vocabulary(model, tokenizer), f"{spec.student} ({init})")
    run = fit_seq2seq(
        model,
        tokenizer,
        data,
        text_task(spec.text, "distill"),
        spec.type,
        spec.max_length,
        job.training,
        spec.loss,
        checkpoints=job.checkpoints,
        resume_key=job.resume_key,
        teachers=teachers,
        weighting=spec.weighting,
    )
    return Trained(model, tokenizer, run)


def check_student_inputs(spec: DistillSpec, data: str, init: str, logits: list[str]) -> None:
    """The teachers' top-k caches, checked against the data and against the student's vocabulary (read from its
    config and tokenizer, no weights loaded) as `fit_student` checks them."""
    vocabulary = config_vocabulary(load_config(init), load_tokenizer(init))
    load_teacher_rows(spec, data, logits, vocabulary, f"{spec.student} ({init})")


# -- scoring and timing -----------------------------------------------------------------------------------------------
def score(spec: EvaluateSpec, data: str, model: str) -> Scores:
    """The task type's metrics on the test split, by generation or option scoring (`scoring`)."""
    fields = score_model(spec, text_task(spec.text, "evaluate"), data, model)
    return Scores(fields, ", ".join(f"{key} {value:.4f}" for key, value in fields["metrics"].items()))


def timing_inputs(test: pd.DataFrame) -> list[Any]:
    """The test split's row indices: a text-to-text model is timed per question, encoded once beforehand."""
    return list(range(len(test)))


def timeable(
    entry: BenchmarkModel, task_type: str, location: str, data: str, threads: int, batch_size: int
) -> Timeable:
    """An encoder-decoder, or its PyTorch int8 export, answering questions of the test split."""
    text = text_task(entry.text, "benchmark")
    tokenizer = load_tokenizer(location)
    network = load_torch_int8(location) if entry.variant == "torch-int8" else load_seq2seq(location).eval()
    test = read_split(data, "test")
    return QuestionTimer(answerer(network, tokenizer, task_type, text, entry.max_length, test, batch_size))


def card_usage(variant: str) -> str:
    """An encoder-decoder through transformers (a PyTorch int8 export through its loader)."""
    if variant != ORIGINAL:
        return "from scalingdown.evaluation.exporters import load_torch_int8\nmodel = load_torch_int8(DIRECTORY)"
    return "from transformers import AutoModelForSeq2SeqLM\nmodel = AutoModelForSeq2SeqLM.from_pretrained(DIRECTORY)"
