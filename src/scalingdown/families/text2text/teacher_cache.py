"""A text-to-text teacher's cache: written once by `teacher_logits` (the teacher's top-k distribution on every train
target token, with its validation perplexity; the columns are `topk`), read and checked by `distill`.

The teacher is forced on the gold targets, and on its own greedy generations where a row has none (a transfer row of
a label budget) or everywhere (`targets: generated`): what its students then learn as sequence-level KD.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import pandas as pd

from scalingdown.data.store import read_manifest, read_split
from scalingdown.families.text2text.fit import TeacherRows
from scalingdown.families.text2text.inference import generate_ids
from scalingdown.families.text2text.rows import encoded_split
from scalingdown.families.text2text.topk import check_vocabulary, topk_columns, validation_perplexity, vocabulary
from scalingdown.kd.logit_store import CacheMismatch, check_cache, check_topk_layout, read_logits, write_logits
from scalingdown.models.fingerprints import weights_fingerprint
from scalingdown.models.loading import inference_device, load_seq2seq, load_tokenizer, tokenizer_fingerprint
from scalingdown.pipeline.errors import UserError
from scalingdown.pipeline.outputs.provenance import provenance_record
from scalingdown.pipeline.specs.definitions import DistillSpec, TextTask, TopkLogitsSpec

log = logging.getLogger(__name__)


def write_teacher_cache(
    spec: TopkLogitsSpec, text: TextTask, data_dir: str, out_path: str, batch_size: int, experiment: str | None
) -> None:
    """Cache a text-to-text teacher's top-k distribution on every train target token (gold or its own generations),
    with its validation perplexity in the fingerprint; `text` is the spec's prompt and target length."""
    model_ref = spec.model
    tokenizer = load_tokenizer(model_ref)
    model = cast(Any, load_seq2seq(model_ref)).to(inference_device())
    rows, sources, gold = encoded_split(
        data_dir, "train", spec.type, text.prompt, tokenizer, spec.max_length, text.max_target_length
    )
    targets = forced_targets(model, sources, gold, spec.targets, text.max_target_length, batch_size)
    columns = topk_columns(model, sources, targets, spec.top_k, batch_size, spec.hidden_layers, "train top-k")
    _, validation_sources, validation_targets = encoded_split(
        data_dir, "validation", spec.type, text.prompt, tokenizer, spec.max_length, text.max_target_length
    )
    gold_targets = cast(list[list[int]], validation_targets)  # validation rows all have their gold target
    score = validation_perplexity(model, validation_sources, gold_targets, batch_size)
    splits = read_manifest(data_dir)["splits"]
    train, validation = splits["train"], splits["validation"]
    described = spec.to_dict()
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
                "hidden_layers",
            )
        },
        "model": model_ref,
        "weights": weights_fingerprint(model_ref, model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "vocabulary": vocabulary(model, tokenizer),
        "splits": {"train": {"rows": train["rows"], "sha256": train["sha256"]}},
        "validation": {"rows": validation["rows"], "sha256": validation["sha256"], **score},
    }
    write_logits(
        out_path,
        pd.DataFrame({"split": "train", "row_id": rows["row_id"], **columns}),
        fingerprint,
        provenance_record("teacher_logits", experiment),
    )
    tokens = sum(len(ids) for ids in targets)
    log.info(
        "cached top-%d of %s for %d train rows (%d target tokens, %s targets, %d transfer rows on generated ones); "
        "validation perplexity %.4g",
        spec.top_k,
        spec.teacher,
        len(rows),
        tokens,
        spec.targets,
        sum(ids is None for ids in gold),
        score["perplexity"],
    )


def forced_targets(
    model: Any, sources: list[list[int]], gold: list[list[int] | None], targets: str, length: int, batch_size: int
) -> list[list[int]]:
    """The targets the teacher is forced on: with `targets: generated` its own greedy generations on every row,
    else the gold targets, and its generations on the transfer rows (no gold target: a label budget), which
    their students then learn as sequence-level KD."""
    if targets == "generated":
        return generate_ids(model, sources, length, batch_size, "generate train targets")
    transfer = [source for source, ids in zip(sources, gold, strict=True) if ids is None]
    generated = iter(generate_ids(model, transfer, length, batch_size, "generate transfer targets"))
    return [next(generated) if ids is None else ids for ids in gold]


def load_teacher_rows(
    spec: DistillSpec, data_dir: str, logits_paths: list[str], student_vocabulary: dict[str, Any], student: str
) -> list[TeacherRows]:
    """Each text-to-text teacher's cached train rows, after checking the cache and that the vocabularies match;
    with `validation` weighting, each teacher's validation score from its cache."""
    teachers = []
    for teacher, (rows, fingerprint) in zip(spec.teachers, checked_caches(spec, data_dir, logits_paths)):
        check_vocabulary(
            f"{teacher.name} ({fingerprint['model']})", fingerprint["vocabulary"], student, student_vocabulary
        )
        teachers.append(rows)
    if spec.weighting.method == "validation":
        log.info(
            "validation scores (1 / perplexity) of the teachers: %s", {t.name: t.validation_score for t in teachers}
        )
    return teachers


def checked_caches(
    spec: DistillSpec, data_dir: str, logits_paths: list[str], extra: Callable[[str], dict[str, Any]] | None = None
) -> list[tuple[TeacherRows, dict[str, Any]]]:
    """Each teacher's cached train rows and its cache's fingerprint (without the content hashes), after checking the
    cache's layout, its rows against the train split and its fingerprint against the teacher's settings (and the
    fields `extra(teacher model)` adds); with `validation` weighting, the rows carry the teacher's validation score.
    The top-k caches of the text-to-text and causal families share this reading."""
    if len(logits_paths) != len(spec.teachers):
        raise UserError(f"distill: got {len(logits_paths)} teacher caches for {len(spec.teachers)} teachers")
    train = read_split(data_dir, "train")
    manifest = read_manifest(data_dir)
    found = []
    for teacher, path in zip(spec.teachers, logits_paths):
        frame, fingerprint = read_logits(path)
        check_topk_layout(path, fingerprint, frame)
        expected = {
            "teacher_key": teacher.key,
            "logits_key": teacher.logits_key,
            "top_k": teacher.top_k,
            "targets": teacher.targets,
        }
        check_cache(
            path,
            fingerprint,
            frame,
            expected={**expected, **(extra(teacher.model) if extra else {})},
            data={"train": train},
            data_hashes={"train": manifest["splits"]["train"]["sha256"]},
        )
        rows = frame[frame["split"] == "train"]
        columns = {name: rows[name].tolist() for name in rows.columns if name not in ("split", "row_id")}
        score = None
        if spec.weighting.method == "validation":
            score = validation_score(path, fingerprint, manifest["splits"]["validation"]["sha256"])
        generated = fingerprint["targets"] == "generated"
        found.append(
            (
                TeacherRows(teacher.name, int(fingerprint["top_k"]), generated, columns, score),
                {key: value for key, value in fingerprint.items() if key != "content"},
            )
        )
    return found


def validation_score(path: str, fingerprint: dict[str, Any], validation_hash: str) -> float:
    """A text-to-text teacher's validation score for `validation` weighting: 1 / its validation perplexity on the
    gold targets (the geometric mean of the probabilities it gives them), as its cache records it."""
    validation = fingerprint.get("validation")
    if validation is None:
        raise CacheMismatch(f"{path}: records no validation perplexity of the teacher (rerun teacher_logits)")
    if validation["sha256"] != validation_hash:
        raise CacheMismatch(
            f"{path}: its validation perplexity was computed on other validation data (cache "
            f"{validation['sha256'][:12]}…, data {validation_hash[:12]}…)"
        )
    return 1.0 / float(validation["perplexity"])
