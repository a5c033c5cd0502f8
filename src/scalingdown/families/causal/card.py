"""The model card of a distilled causal student (`README.md` of its directory): what it was distilled from and how,
and how to load it. Its scores against the teacher and the gold-only twin are made after it, by `evaluate`, and
reported in the experiment's report, which the card names."""

from __future__ import annotations

from typing import Any

from scalingdown.pipeline.specs.definitions import DistillSpec
from scalingdown.training.trainer import TrainedRun


def model_card(spec: DistillSpec, data: str, fingerprints: list[dict[str, Any]], run: TrainedRun) -> str:
    """The card's markdown: front matter for the Hub, then teacher, data, loss, cache fingerprint and training."""
    loss = spec.loss
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [scalingdown, knowledge-distillation]",
        "---",
        "",
        f"# {spec.student}: a causal LM distilled by ScalingDown",
        "",
        f"Task type `{spec.type}`, prepared data `{data}`.",
        "",
        "## Teachers and their caches",
        "",
    ]
    if not fingerprints:
        lines.append("None: trained on the gold responses alone (the gold-only twin of the distilled students).")
    for teacher, fingerprint in zip(spec.teachers, fingerprints):
        mass = fingerprint.get("captured_mass") or {}
        lines.append(
            f"- `{teacher.name}` ({fingerprint.get('model')}): top-{fingerprint.get('top_k')} log-probabilities of "
            f"{fingerprint.get('response_tokens')} response tokens ({fingerprint.get('targets')} responses), captured "
            f"mass {mass.get('mean', float('nan')):.3f} (5th percentile {mass.get('p5', float('nan')):.3f}); weights "
            f"`{str(fingerprint.get('weights'))[:16]}…`, chat template "
            f"`{str(fingerprint.get('chat_template_sha256'))[:16]}…`, train data "
            f"`{fingerprint['splits']['train']['sha256'][:16]}…`"
        )
    lines += [
        "",
        "## Loss",
        "",
        f"`{loss.ce}·CE + {loss.kd}·T²·{loss.divergence}` at T = {loss.temperature}, per response token over each "
        f"optimizer step's tokens; on-policy share {loss.on_policy}.",
        "",
        "## Training",
        "",
        f"{spec.training.epochs} epochs, learning rate {spec.training.learning_rate}, batch "
        f"{spec.training.batch_size} × {spec.training.gradient_accumulation_steps}, seed {spec.training.seed}; kept "
        f"checkpoint: {_kept(run)}.",
        "",
        "## Scores",
        "",
        "Against its teacher and its gold-only twin, paired over seeds: the experiment's report "
        "(`results/<experiment>/report/report.md`).",
        "",
        "## Use",
        "",
        "A standard Hugging Face directory (safetensors, tokenizer with its chat template, generation config with the "
        "end-of-sequence ids): `AutoModelForCausalLM.from_pretrained(<dir>)`, `vllm serve <dir>`, SGLang's "
        "`--model-path <dir>`, or `scalingdown generate --model <dir> --input prompts.jsonl --output answers.jsonl`.",
        "",
    ]
    return "\n".join(lines)


def _kept(run: TrainedRun) -> str:
    checkpoint = run.checkpoint
    if checkpoint is None:
        return "the last step"
    return f"step {checkpoint['step']} of {checkpoint['last_step']} ({checkpoint['metric']} {checkpoint['score']:.4f})"
