rule finetune_teacher:
    """Fine-tune a teacher on the labelled rows of its data; shared by every experiment with the same teacher and data."""
    input:
        data=lambda wildcards: PLAN.teacher_by_key(wildcards.teacher_key).data_dir,
        deepspeed=PLAN.deepspeed_config(),
    output:
        model=directory(paths.teacher_model("{teacher_key}")),
        history=paths.teacher_history("{teacher_key}"),
    log:
        PLAN.log("finetune_teacher", "{teacher_key}"),
    wildcard_constraints:
        teacher_key=paths.FINETUNED_TEACHER_KEY,  # not a selected teacher's key (rule select_teacher)
    conda:
        ENV
    threads: THREADS
    resources:
        **PLAN.resources("finetune_teacher"),
    params:
        spec=lambda wildcards: SPECS.finetune(wildcards.teacher_key).to_json(),
        experiment=builder,
        checkpoints=paths.teacher_checkpoints("{teacher_key}"),
        launcher=PLAN.launcher("finetune_teacher"),
    shell:
        STAGES["finetune_teacher"].shell()


rule select_teacher:
    """Keep the fine-tuning candidate of a teacher (its `finetune` lists values) whose model scored best on the
    validation split: its files (hard links), its history and every candidate's score (selection.json)."""
    input:
        models=lambda wildcards: [c.model_dir for c in PLAN.teacher_by_key(wildcards.teacher_key).candidates],
        histories=lambda wildcards: [c.history for c in PLAN.teacher_by_key(wildcards.teacher_key).candidates],
    output:
        model=directory(paths.teacher_model("{teacher_key}")),
        history=paths.teacher_history("{teacher_key}"),
        selection=paths.teacher_selection("{teacher_key}"),
    log:
        PLAN.log("select_teacher", "{teacher_key}"),
    wildcard_constraints:
        teacher_key=paths.SELECTED_TEACHER_KEY,
    conda:
        ENV
    params:
        spec=lambda wildcards: SPECS.select_teacher(wildcards.teacher_key).to_json(),
        experiment=builder,
    shell:
        STAGES["select_teacher"].shell()


rule teacher_logits:
    """Run a teacher once over its students' data (labelled and transfer rows) and cache its outputs (Parquet,
    fingerprinted): logits and mapped pooled states, or top-k per target token."""
    input:
        data=lambda wildcards: PLAN.task(PLAN.teacher_by_logits_key(wildcards.logits_key).task).data_dir,
        model=lambda wildcards: local_model(PLAN.teacher_by_logits_key(wildcards.logits_key).model_ref),
    output:
        paths.logits_file("{logits_key}"),
    log:
        PLAN.log("teacher_logits", "{logits_key}"),
    conda:
        ENV
    threads: THREADS
    resources:
        **PLAN.resources("teacher_logits"),
    params:
        spec=lambda wildcards: SPECS.logits(wildcards.logits_key).to_json(),
        experiment=builder,
    shell:
        STAGES["teacher_logits"].shell()
