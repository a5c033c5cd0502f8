"""A causal teacher's cache: written once by `teacher_logits` (the teacher's top-k distribution on every train response
token: `topk`), read and checked by `distill`.

The fingerprint records, beyond the text-to-text fields (teacher key, prompt, lengths, k, targets, the data's hash
and rows): the teacher's weights, its tokenizer and chat template (hashes), the vocabulary the gate compares, the
capture temperature, the order of the stored ids, and what the cache holds (response tokens, bytes per token, the
captured top-k mass). Every read recomputes the content hashes (`kd.logit_store.read_logits`); a cache made by another
teacher, tokenizer, template, k or temperature, or edited since, is refused naming what differs.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any, NamedTuple, cast

import pandas as pd

from scalingdown.data.store import read_manifest
from scalingdown.families.causal.batches import generate_responses, pad_id
from scalingdown.families.causal.chat import eos_ids
from scalingdown.families.causal.models import load_causal
from scalingdown.families.causal.rows import encoded_split
from scalingdown.families.causal.scoring import perplexity
from scalingdown.families.causal.topk import captured_mass, topk_columns
from scalingdown.families.causal.vocabulary import shared_size, vocabulary
from scalingdown.families.text2text.fit import TeacherRows
from scalingdown.families.text2text.teacher_cache import checked_caches
from scalingdown.kd.logit_store import write_logits
from scalingdown.models.fingerprints import weights_fingerprint
from scalingdown.models.loading import inference_device, load_tokenizer, tokenizer_fingerprint
from scalingdown.pipeline.names.model_refs import ModelRef
from scalingdown.pipeline.outputs.provenance import provenance_record
from scalingdown.pipeline.specs.definitions import DistillSpec, TextTask, TopkLogitsSpec

log = logging.getLogger(__name__)

CAPTURE_TEMPERATURE = 1.0
IDS_ORDER = "ascending"
COMPRESSION = "zstd"


def template_sha256(tokenizer: Any) -> str | None:
    """sha256 of a tokenizer's chat template (None when it has none)."""
    template = tokenizer.chat_template
    return hashlib.sha256(str(template).encode("utf-8")).hexdigest() if template else None


def write_teacher_cache(
    spec: TopkLogitsSpec, text: TextTask, data_dir: str, out_path: str, batch_size: int, experiment: str | None
) -> None:
    """Cache a causal teacher's top-k distribution on every train response token (gold, or its own greedy answers on
    rows without one and everywhere with `targets: generated`), with its validation perplexity."""
    tokenizer = load_tokenizer(spec.model)
    model = cast(Any, load_causal(spec.model)).to(inference_device())
    padding, eos = pad_id(tokenizer), eos_ids(tokenizer, model.generation_config)
    rows, prompts, gold = encoded_split(data_dir, "train", spec.type, text, tokenizer, spec.max_length)
    if spec.targets == "generated":
        responses = generate_responses(model, prompts, text.max_target_length, batch_size, padding, eos, "generate")
    else:
        missing = [prompt for prompt, ids in zip(prompts, gold, strict=True) if ids is None]
        answers = iter(generate_responses(model, missing, text.max_target_length, batch_size, padding, eos))
        responses = [next(answers) if ids is None else ids for ids in gold]
    teacher_vocab = vocabulary(model, tokenizer)
    shared = int(teacher_vocab["vocab_size"])
    columns = topk_columns(model, prompts, responses, spec.top_k, shared, batch_size, padding, "train top-k")
    _, valid_prompts, valid_gold = encoded_split(data_dir, "validation", spec.type, text, tokenizer, spec.max_length)
    valid_responses = [ids or [] for ids in valid_gold]
    splits = read_manifest(data_dir)["splits"]
    described = spec.to_dict()
    tokens = sum(len(ids) for ids in responses)
    fingerprint = {
        **{
            key: described[key]
            for key in (
                "teacher",
                "teacher_key",
                "logits_key",
                "max_length",
                "max_target_length",
                "prompt",
                "type",
                "top_k",
                "targets",
            )
        },
        "family": "causal",
        "model": spec.model,
        "weights": weights_fingerprint(spec.model, model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "chat_template_sha256": template_sha256(tokenizer),
        "vocabulary": teacher_vocab,
        "temperature": CAPTURE_TEMPERATURE,
        "ids_order": IDS_ORDER,
        "response_tokens": tokens,
        "captured_mass": captured_mass(columns["tail_mass"]),
        "splits": {"train": {"rows": splits["train"]["rows"], "sha256": splits["train"]["sha256"]}},
        "validation": {
            "rows": splits["validation"]["rows"],
            "sha256": splits["validation"]["sha256"],
            "perplexity": perplexity(model, valid_prompts, valid_responses, batch_size),
            "tokens": sum(len(ids) for ids in valid_responses),
        },
    }
    frame = pd.DataFrame({"split": "train", "row_id": rows["row_id"], **columns})
    write_logits(out_path, frame, fingerprint, provenance_record("teacher_logits", experiment), COMPRESSION)
    log.info(
        "cached top-%d of %s on %d response tokens of %d train rows: %.1f bytes per token, top-k mass %.3f (p5 %.3f)",
        spec.top_k,
        spec.teacher,
        tokens,
        len(rows),
        os.path.getsize(out_path) / max(tokens, 1),
        fingerprint["captured_mass"]["mean"],
        fingerprint["captured_mass"]["p5"],
    )


def expected_fields(teacher_model: str, student_tokenizer: Any) -> dict[str, Any]:
    """Fingerprint fields the cache must carry: this version's capture settings, the student's chat template (the
    prompts must be the same) and, for a teacher whose files are on this machine (fine-tuned, converted, tiny or a
    directory), its weights and tokenizer as they are now."""
    expected: dict[str, Any] = {
        "family": "causal",
        "temperature": CAPTURE_TEMPERATURE,
        "ids_order": IDS_ORDER,
        "chat_template_sha256": template_sha256(student_tokenizer),
    }
    if ModelRef.parse(teacher_model).kind in ("path", "package", "tiny"):
        expected["weights"] = weights_fingerprint(teacher_model, None)
        expected["tokenizer"] = tokenizer_fingerprint(load_tokenizer(teacher_model))
    return expected


class CachedTeachers(NamedTuple):
    """The teachers' cached train rows, the vocabulary they share with the student (None without teachers) and their
    caches' fingerprints."""

    rows: list[TeacherRows]
    shared: int | None
    fingerprints: list[dict[str, Any]]


def load_teacher_rows(
    spec: DistillSpec,
    data_dir: str,
    logits_paths: list[str],
    student_vocabulary: dict[str, Any],
    student: str,
    student_tokenizer: Any,
) -> CachedTeachers:
    """Each causal teacher's cached train rows, after checking the cache against the data, the teacher's settings and
    files, the student's chat template (`text2text.teacher_cache.checked_caches` with `expected_fields`) and the
    student's vocabulary (the gate)."""
    found = checked_caches(spec, data_dir, logits_paths, lambda model: expected_fields(model, student_tokenizer))
    shared = None
    for teacher, (_, fingerprint) in zip(spec.teachers, found):
        shared = shared_size(
            f"{teacher.name} ({fingerprint['model']})", fingerprint["vocabulary"], student, student_vocabulary
        )
    return CachedTeachers([rows for rows, _ in found], shared, [fingerprint for _, fingerprint in found])
