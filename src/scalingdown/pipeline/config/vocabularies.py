"""Which vocabulary a model reference uses, read from its files before any job runs (standard library only).

Token-level distillation compares token ids, so a text-to-text teacher and student must share one
vocabulary. The config check compares what the references' files say: the token → id table of the
tokenizer (`tokenizer.json`, or `vocab.txt`) and the size of the output layer (`vocab_size` of
`config.json`; an encoder-decoder's decoder's). What cannot be read here (a Hub model not in the local
cache) is left to `distill`, which compares the loaded tokenizers and configs before training.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from scalingdown.pipeline.config.model_files import model_file, model_json
from scalingdown.pipeline.names.model_refs import TINY_TOKENIZER_PACKAGE


@dataclass(frozen=True)
class VocabularyIdentity:
    """What is known of a reference's vocabulary: a hash of its token → id table and its output size."""

    tokens: str | None
    size: int | None


def _token_table(ref: str, workdir: Path | None) -> dict[str, int] | None:
    tokenizer = model_json(ref, "tokenizer.json", workdir)
    if tokenizer is not None:
        vocab = (tokenizer.get("model") or {}).get("vocab")
        if isinstance(vocab, dict):  # WordPiece, BPE
            table = {str(token): int(index) for token, index in vocab.items()}
        elif isinstance(vocab, list):  # Unigram: [piece, score] in id order
            table = {str(entry[0]): index for index, entry in enumerate(vocab)}
        else:
            return None
        table.update({str(added["content"]): int(added["id"]) for added in tokenizer.get("added_tokens") or []})
        return table
    vocab_file = model_file(ref, "vocab.txt", workdir)
    if vocab_file is None or not vocab_file.is_file():
        return None
    lines = vocab_file.read_text(encoding="utf-8").splitlines()
    return {token: index for index, token in enumerate(lines)}


def _output_size(ref: str, workdir: Path | None) -> int | None:
    config = model_json(ref, "config.json", workdir)
    if config is None:
        return None
    size = config.get("vocab_size") or (config.get("decoder") or {}).get("vocab_size")
    return int(size) if isinstance(size, int) else None


def vocabulary_identity(ref: str, workdir: Path | None = None) -> VocabularyIdentity:
    """The vocabulary of a model reference as far as its local files tell (fields None where unknown)."""
    scheme, _, rest = ref.partition(":")
    if scheme == "tiny":  # tiny models use the packaged WordPiece vocabulary, output size included
        return vocabulary_identity(f"package:{TINY_TOKENIZER_PACKAGE}", workdir)
    if scheme == "bert2bert":
        return vocabulary_identity(rest, workdir)
    table = _token_table(ref, workdir)
    digest = None
    if table is not None:
        digest = hashlib.sha256(json.dumps(sorted(table.items()), ensure_ascii=False).encode("utf-8")).hexdigest()
    return VocabularyIdentity(digest, _output_size(ref, workdir))


def vocabulary_difference(first: VocabularyIdentity, second: VocabularyIdentity) -> str | None:
    """How two known vocabularies differ (None when they agree or too little is known to tell)."""
    differences = []
    if first.size is not None and second.size is not None and first.size != second.size:
        differences.append(f"output sizes (vocab_size) {first.size} vs {second.size}")
    if first.tokens is not None and second.tokens is not None and first.tokens != second.tokens:
        differences.append(f"tokenizer vocabularies (sha256 {first.tokens[:12]}… vs {second.tokens[:12]}…)")
    return "; ".join(differences) or None
