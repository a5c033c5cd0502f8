"""The `teacher_logits` stage: run a teacher once over the data and cache its outputs.

Classification: the logits of every split, and the pooled states of the hidden layers some
student maps to. Seq2seq: per target token of the train split, the top-k log-probabilities,
their ids and the tail mass, and the teacher's validation perplexity (see `scalingdown.seq2seq.topk`).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalingdown.data.labels import align_columns
from scalingdown.data.store import SPLITS, read_manifest, read_split
from scalingdown.evaluation.predict import predict_outputs
from scalingdown.kd.logit_store import hidden_column, is_logit_cache, write_logits
from scalingdown.models.layers import check_hidden_layers
from scalingdown.models.loading import (
    inference_device,
    load_classifier,
    load_seq2seq,
    load_tokenizer,
    model_label_names,
    tokenizer_fingerprint,
)
from scalingdown.pipeline.names.model_refs import BERT2BERT, ModelRef
from scalingdown.pipeline.outputs.atomic import check_replaceable
from scalingdown.pipeline.outputs.provenance import provenance_record
from scalingdown.pipeline.specs.codec import SpecError
from scalingdown.pipeline.specs.definitions import LogitsSpec, TopkLogitsSpec
from scalingdown.seq2seq.data import encoded_split
from scalingdown.seq2seq.inference import generate_ids
from scalingdown.seq2seq.topk import topk_columns, validation_perplexity, vocabulary

log = logging.getLogger(__name__)


def weights_fingerprint(model_ref: str, model: Any) -> str:
    """sha256 of a local model's safetensors files, or the hub commit of a hub model."""
    parsed = ModelRef.parse(model_ref)
    if parsed.kind == BERT2BERT:  # built from that checkpoint, its new blocks drawn with a fixed seed
        return f"{BERT2BERT}:{weights_fingerprint(parsed.name, model)}"
    if parsed.kind == "tiny":
        return f"tiny:{parsed.name}"
    if parsed.kind == "hub":
        return f"hub:{parsed.name}@{getattr(model.config, '_commit_hash', None) or parsed.revision or 'unknown'}"
    digest = hashlib.sha256()
    for path in sorted(Path(parsed.location()).glob("*.safetensors")):
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


LABEL_MAP_HINT = "map the model's label names onto the task's with the teacher's `labels` key, e.g. {LABEL_0: positive}"


def teacher_logits(
    spec: LogitsSpec | TopkLogitsSpec, data: str, out: str, experiment: str | None = None, batch_size: int = 64
) -> None:
    """Cache the teacher's logits (and pooled mapped hidden states) on train, validation and test,
    or a text-to-text teacher's top-k distributions.

    Stops before any inference when the teacher's labels cannot be mapped onto the task's.
    """
    check_replaceable(out, "teacher_logits", is_logit_cache)
    if isinstance(spec, TopkLogitsSpec):
        teacher_topk(spec, data, out, batch_size, experiment)
        return
    data_dir, model_ref, hidden_layers = data, spec.model, list(spec.hidden_layers)
    tokenizer = load_tokenizer(model_ref)
    model = load_classifier(model_ref).to(inference_device())
    label_names = model_label_names(model, spec.label_map)
    align_columns(
        np.zeros((0, len(label_names))), label_names, spec.labels or [], f"teacher {spec.teacher}", hint=LABEL_MAP_HINT
    )
    check_hidden_layers(model.config, hidden_layers, f"teacher {spec.teacher} ({model_ref})")
    manifest = read_manifest(data_dir)
    frames = []
    for split in SPLITS:
        rows = read_split(data_dir, split)
        logits, pooled = predict_outputs(
            model, tokenizer, rows["text"].tolist(), spec.max_length, batch_size, split, hidden_layers
        )
        columns = {"split": split, "row_id": rows["row_id"], "logits": list(logits)}
        columns.update({hidden_column(layer): list(pooled[layer]) for layer in hidden_layers})
        frames.append(pd.DataFrame(columns))
    fingerprint = {
        "teacher": spec.teacher,
        "teacher_key": spec.teacher_key,
        "model": model_ref,
        "weights": weights_fingerprint(model_ref, model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": spec.max_length,
        "label_names": label_names,
        "model_label_names": model_label_names(model),
        "hidden_layers": hidden_layers,
        "hidden_size": int(model.config.hidden_size),
        "splits": {
            split: {"rows": manifest["splits"][split]["rows"], "sha256": manifest["splits"][split]["sha256"]}
            for split in SPLITS
        },
    }
    write_logits(
        out, pd.concat(frames, ignore_index=True), fingerprint, provenance_record("teacher_logits", experiment)
    )
    log.info(
        "cached logits of %s for %s (pooled hidden layers %s)",
        spec.teacher,
        {s: fingerprint["splits"][s]["rows"] for s in SPLITS},
        hidden_layers,
    )


def teacher_topk(spec: TopkLogitsSpec, data_dir: str, out_path: str, batch_size: int, experiment: str | None) -> None:
    """Cache a text-to-text teacher's top-k distribution on every train target token (gold or its own generations),
    with its validation perplexity in the fingerprint."""
    if spec.text is None:
        raise SpecError("teacher_logits: a text-to-text spec needs `prompt` and `max_target_length`")
    model_ref, text = spec.model, spec.text
    tokenizer = load_tokenizer(model_ref)
    model = load_seq2seq(model_ref).to(inference_device())
    rows, sources, gold = encoded_split(
        data_dir, "train", spec.type, text.prompt, tokenizer, spec.max_length, text.max_target_length
    )
    targets = forced_targets(model, sources, gold, spec.targets, text.max_target_length, batch_size)
    columns = topk_columns(model, sources, targets, spec.top_k, batch_size, spec.hidden_layers, "train top-k")
    _, validation_sources, validation_targets = encoded_split(
        data_dir, "validation", spec.type, text.prompt, tokenizer, spec.max_length, text.max_target_length
    )
    score = validation_perplexity(model, validation_sources, validation_targets, batch_size)
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
